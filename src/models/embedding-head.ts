// The face-recognition embedding head (SPEC §2), as insightface's IResNet output: BN2d → Dropout → Flatten →
// Linear(C·H·W → E) → BN1d whose affine weight is fixed at 1 (only its bias learns). Returns the unit embedding
// and the norm of the pre-normalisation feature (AdaFace's quality proxy).
import { BatchNorm1d, BatchNorm2d } from '../nn/batchnorm.js';
import { Linear } from '../nn/linear.js';
import { Module } from '../nn/module.js';
import type { OnnxGraph, OnnxValue } from '../nn/onnx-graph.js';
import type { Tensor } from '../torch/index.js';
import * as torch from '../torch/index.js';

export interface EmbeddingHeadConfig {
  /** Embedding size E. */
  embeddingSize?: number;
  /** Dropout probability before the linear layer (0, insightface's default, skips the op). */
  dropout?: number;
}

export const EMBEDDING_HEAD_DEFAULTS: Required<EmbeddingHeadConfig> = { embeddingSize: 512, dropout: 0 };

/** Fills the defaults and checks the values; errors name the field. */
export function resolveEmbeddingHeadConfig(config: EmbeddingHeadConfig = {}): Required<EmbeddingHeadConfig> {
  const resolved = {
    embeddingSize: config.embeddingSize ?? EMBEDDING_HEAD_DEFAULTS.embeddingSize,
    dropout: config.dropout ?? EMBEDDING_HEAD_DEFAULTS.dropout,
  };
  if (!(Number.isInteger(resolved.embeddingSize) && resolved.embeddingSize > 0)) {
    throw new RangeError(`EmbeddingHead: config.embeddingSize must be a positive integer, got ${resolved.embeddingSize}`);
  }
  if (!(resolved.dropout >= 0 && resolved.dropout < 1))
    throw new RangeError(`EmbeddingHead: config.dropout must be in [0, 1), got ${resolved.dropout}`);
  return resolved;
}

export interface Embedding {
  /** Unit embedding e = f/‖f‖, [B, E]. */
  embedding: Tensor;
  /** ‖f‖, [B, 1]. */
  norm: Tensor;
}

/** An Embedding as graph values. */
export interface EmbeddingValues {
  embedding: OnnxValue;
  norm: OnnxValue;
}

/** f ↦ (f/‖f‖, ‖f‖) in a graph. */
export function unitWithNorm(g: OnnxGraph, f: OnnxValue): EmbeddingValues {
  const norm = g.reduce('ReduceL2', f, [1], true);
  return { embedding: g.div(f, norm), norm };
}

export class EmbeddingHead extends Module {
  readonly embeddingSize: number;
  readonly dropout: number;
  readonly bn: BatchNorm2d;
  readonly fc: Linear;
  readonly feat: BatchNorm1d;

  /** `channels` × `height` × `width` is the input map's shape. */
  constructor(
    readonly channels: number,
    readonly height: number,
    readonly width: number,
    config: EmbeddingHeadConfig = {},
  ) {
    super();
    const { embeddingSize, dropout } = resolveEmbeddingHeadConfig(config);
    this.embeddingSize = embeddingSize;
    this.dropout = dropout;
    this.bn = this.module('bn', new BatchNorm2d(channels));
    this.fc = this.module('fc', new Linear(channels * height * width, this.embeddingSize));
    this.feat = this.module('feat', new BatchNorm1d(this.embeddingSize));
    (this.feat.weight as Tensor).requiresGrad = false;
  }

  forward(map: Tensor): Embedding {
    const [, c, h, w] = map.shape;
    if (map.ndim !== 4 || c !== this.channels || h !== this.height || w !== this.width) {
      throw new RangeError(`EmbeddingHead: expected [B, ${this.channels}, ${this.height}, ${this.width}], got [${map.shape}]`);
    }
    return torch.tidy(() => {
      let x = this.bn.forward(map);
      if (this.dropout > 0) x = torch.F.dropout(x, this.dropout, this.training);
      const f = this.feat.forward(this.fc.forward(x.flatten(1)));
      const norm = f.norm(2, 1, true);
      return { embedding: f.div(norm), norm };
    });
  }

  toOnnx(g: OnnxGraph, map: OnnxValue): EmbeddingValues {
    const flat = g.reshape(this.bn.toOnnx(g, map), [0, -1]);
    return unitWithNorm(g, this.feat.toOnnx(g, this.fc.toOnnx(g, flat)));
  }
}
