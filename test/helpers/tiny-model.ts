// A small randomly initialised CATFace model directory (stage 1 only, FR embeddings) for pipeline and CLI tests
// that need a loadable model but no trained weights.
import { CATFace } from '../../src/models/catface.js';
import { saveModelDir } from '../../src/models/model-dir.js';
import * as torch from '../../src/torch/index.js';

export const TINY_ATTRIBUTES = ['male', 'big_nose'];

/** Writes the tiny model to `dir` (seeded, so every call gives the same weights). */
export function writeTinyModel(dir: string, options: { threshold?: number | null; imageSize?: number } = {}): void {
  torch.manualSeed(7);
  const imageSize = options.imageSize ?? 64;
  const model = CATFace.create({
    network: { layers: [1, 1, 1, 1], widths: [8, 16, 16, 32], inputSize: imageSize, attributes: TINY_ATTRIBUTES.length, embeddingSize: 32 },
    fusion: null,
  });
  saveModelDir(dir, model, {
    attributes: TINY_ATTRIBUTES,
    defaultEmbedding: 'fr',
    verifyThreshold: options.threshold === undefined ? 0.5 : options.threshold,
    alignment: { template: 'arcface', size: imageSize },
    provenance: { purpose: 'test' },
  });
  model.dispose();
}
