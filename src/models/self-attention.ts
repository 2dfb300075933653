// The self-attention block of each branch (SPEC §3): tokens are the N = H·W positions of the branch's last
// feature map, A = softmax(Q·Kᵀ/√d) with d = C/reduction, F' = F + γ·reshape(A·V), γ learned and starting at 0
// (so a fresh block is the identity). A and V are returned for the distillation loss.
import { Linear } from '../nn/linear.js';
import { Module } from '../nn/module.js';
import type { OnnxGraph, OnnxValue } from '../nn/onnx-graph.js';
import type { Tensor } from '../torch/index.js';
import * as torch from '../torch/index.js';

export interface SelfAttentionConfig {
  /** Query/key size d = max(1, channels / reduction). Default 8. */
  reduction?: number;
}

export interface SelfAttentionOutput {
  /** F + γ·A·V, [B, C, H, W]. */
  map: Tensor;
  /** Attention A, [B, N, N]. */
  A: Tensor;
  /** Values V, [B, N, C]. */
  V: Tensor;
}

export class SelfAttention extends Module {
  readonly keyDim: number;
  readonly q: Linear;
  readonly k: Linear;
  readonly v: Linear;
  readonly gamma: Tensor;

  constructor(
    readonly channels: number,
    config: SelfAttentionConfig = {},
  ) {
    super();
    const reduction = config.reduction ?? 8;
    if (!(Number.isInteger(reduction) && reduction >= 1)) {
      throw new RangeError(`SelfAttention: config.reduction must be a positive integer, got ${reduction}`);
    }
    this.keyDim = Math.max(Math.floor(channels / reduction), 1);
    this.q = this.module('q', new Linear(channels, this.keyDim, { bias: false }));
    this.k = this.module('k', new Linear(channels, this.keyDim, { bias: false }));
    this.v = this.module('v', new Linear(channels, channels, { bias: false }));
    this.gamma = this.param('gamma', torch.zeros([1]));
  }

  forward(features: Tensor): SelfAttentionOutput {
    const [b, c, h, w] = features.shape;
    if (features.ndim !== 4 || c !== this.channels) {
      throw new RangeError(`SelfAttention: expected [B, ${this.channels}, H, W], got [${features.shape}]`);
    }
    // tidy frees the intermediates at once (autograd keeps what backward needs), as Python's refcounting would.
    return torch.tidy(() => {
      const tokens = features.flatten(2).transpose(1, 2);
      const scores = this.q.forward(tokens).matmul(this.k.forward(tokens).transpose(1, 2)).div(Math.sqrt(this.keyDim));
      const A = torch.F.softmax(scores, -1);
      const V = this.v.forward(tokens);
      const map = features.add(A.matmul(V).transpose(1, 2).reshape(b, c, h, w).mul(this.gamma));
      return { map, A, V };
    });
  }

  /** The map F' only (what inference reads). */
  toOnnx(g: OnnxGraph, features: OnnxValue): OnnxValue {
    const [, c, h, w] = features.shape as number[];
    const tokens = g.transpose(g.reshape(features, [0, 0, -1]), [0, 2, 1]);
    const keys = g.transpose(this.k.toOnnx(g, tokens), [0, 2, 1]);
    const A = g.softmax(g.div(g.matmul(this.q.toOnnx(g, tokens), keys), Math.sqrt(this.keyDim)), -1);
    const attended = g.reshape(g.transpose(g.matmul(A, this.v.toOnnx(g, tokens)), [0, 2, 1]), [0, c, h, w]);
    return g.add(features, g.mul(attended, g.weight(this.gamma, 'gamma')));
  }
}
