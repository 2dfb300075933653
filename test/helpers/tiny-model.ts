// A small randomly initialised CATFace model directory (stage 1 only, FR embeddings) for pipeline and CLI tests
// that need a loadable model but no trained weights.
import { MultiBranchNet } from '../../src/models/multi-branch.js';
import { MODEL_FORMAT, MODEL_FORMAT_VERSION, saveModelDir } from '../../src/serve/model-dir.js';
import * as torch from '../../src/torch/index.js';

export const TINY_ATTRIBUTES = ['male', 'big_nose'];

/** Writes the tiny model to `dir` (seeded, so every call gives the same weights). */
export function writeTinyModel(dir: string, options: { threshold?: number | null; imageSize?: number } = {}): void {
  torch.manualSeed(7);
  const imageSize = options.imageSize ?? 64;
  const network = new MultiBranchNet({
    layers: [1, 1, 1, 1],
    widths: [8, 16, 16, 32],
    inputSize: imageSize,
    attributes: TINY_ATTRIBUTES.length,
    embeddingSize: 32,
  });
  const weights = new Map([...network.stateDict()].map(([k, v]) => [`network.${k}`, v]));
  saveModelDir(
    dir,
    {
      format: MODEL_FORMAT,
      version: MODEL_FORMAT_VERSION,
      imageSize,
      attributes: TINY_ATTRIBUTES,
      network: network.config,
      fusion: null,
      defaultEmbedding: 'fr',
      verifyThreshold: options.threshold === undefined ? 0.5 : options.threshold,
      alignment: { template: 'arcface', size: imageSize },
      provenance: { purpose: 'test' },
    },
    weights,
  );
  network.dispose();
}
