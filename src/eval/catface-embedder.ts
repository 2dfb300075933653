// A CATFace model as an `Embedder`, the one way the protocols, validation during training and `catface eval`
// see our models: HWC uint8 crops → normalised input → unit embeddings and FR feature norms.
import { pixelsToNormalized } from '../common/image-convention.js';
import type { CATFace, EmbeddingKind } from '../models/catface.js';
import * as torch from '../torch/index.js';
import type { Embedder, EmbedOutput } from './embedding.js';

export function catfaceEmbedder(model: CATFace, kind: EmbeddingKind, name = `catface-${kind}`): Embedder {
  const imageSize = model.imageSize;
  return {
    name,
    imageSize,
    embed(crops: Uint8Array[]): EmbedOutput {
      return torch.tidy(() => {
        const out = model.infer(pixelsToNormalized(crops, imageSize), kind);
        return {
          embeddings: out.embedding.dataSync() as Float32Array,
          dim: out.embedding.shape[1],
          norms: out.quality.dataSync() as Float32Array,
        };
      });
    },
  };
}
