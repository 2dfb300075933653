// Multi-head attention (torch.nn.MultiheadAttention with batch_first=True): PyTorch's parameter names
// (in_proj_weight, in_proj_bias, out_proj.weight, out_proj.bias) and initialisation order, so the same seed
// gives the same weights and PyTorch state dicts load as they are.
import { empty, zeros } from '../torch/creation.js';
import { dropout, linear, softmax } from '../torch/functional.js';
import type { Tensor } from '../torch/tensor.js';
import { xavierUniform_, zeros_ } from './init.js';
import { Linear } from './linear.js';
import { Module } from './module.js';

export interface MultiheadAttentionConfig {
  /** Dropout on the attention weights in training; default 0. */
  dropout?: number;
  /** Biases on the input and output projections; default true. */
  bias?: boolean;
}

export interface AttentionOptions {
  /** [B, S] bool, true where a key is padding (ignored). */
  keyPaddingMask?: Tensor | null;
  /** [L, S] or [B·heads, L, S]: bool (true = not allowed) or float (added to the scores). */
  attnMask?: Tensor | null;
  /** Return the attention weights too; default true (as PyTorch). */
  needWeights?: boolean;
  /** Average the weights over heads ([B, L, S]) instead of per head ([B, heads, L, S]); default true. */
  averageAttnWeights?: boolean;
}

export class MultiheadAttention extends Module {
  readonly inProjWeight: Tensor;
  readonly inProjBias: Tensor | null;
  readonly outProj: Linear;
  readonly headDim: number;
  readonly dropout: number;

  constructor(
    readonly embedDim: number,
    readonly numHeads: number,
    config: MultiheadAttentionConfig = {},
  ) {
    super();
    const { dropout: p = 0, bias = true } = config;
    if (embedDim % numHeads !== 0)
      throw new RangeError(`MultiheadAttention: embedDim ${embedDim} is not divisible by numHeads ${numHeads}`);
    this.headDim = embedDim / numHeads;
    this.dropout = p;
    // PyTorch creates out_proj (drawing its default init) before initialising in_proj: keep that order.
    const inProjWeight = empty([3 * embedDim, embedDim]);
    const inProjBias = bias ? zeros([3 * embedDim]) : null;
    const outProj = new Linear(embedDim, embedDim, { bias });
    xavierUniform_(inProjWeight);
    if (outProj.bias) zeros_(outProj.bias);
    this.inProjWeight = this.param('in_proj_weight', inProjWeight);
    this.inProjBias = inProjBias ? this.param('in_proj_bias', inProjBias) : this.noParam('in_proj_bias');
    this.outProj = this.module('out_proj', outProj);
  }

  private project(x: Tensor, index: number): Tensor {
    const e = this.embedDim;
    return linear(x, this.inProjWeight.narrow(0, index * e, e), this.inProjBias ? this.inProjBias.narrow(0, index * e, e) : null);
  }

  /** [B, T, E] → [B, heads, T, headDim] */
  private splitHeads(x: Tensor): Tensor {
    const [b, t] = x.shape;
    return x.view(b, t, this.numHeads, this.headDim).transpose(1, 2);
  }

  /**
   * query [B, L, E], key and value [B, S, E] → [output [B, L, E], weights or null]. Self-attention when the
   * three are the same tensor (one fused projection).
   */
  forward(query: Tensor, key: Tensor, value: Tensor, options: AttentionOptions = {}): [Tensor, Tensor | null] {
    const { keyPaddingMask = null, attnMask = null, needWeights = true, averageAttnWeights = true } = options;
    if (query.ndim !== 3 || key.ndim !== 3 || value.ndim !== 3) {
      throw new RangeError(
        `MultiheadAttention: expected batch-first [B, T, E] inputs, got [${query.shape}], [${key.shape}], [${value.shape}]`,
      );
    }
    if (query.shape[2] !== this.embedDim) {
      throw new RangeError(`MultiheadAttention: query has ${query.shape[2]} features, expected embedDim ${this.embedDim}`);
    }
    const [b, l] = query.shape;
    const s = key.shape[1];
    let q: Tensor;
    let k: Tensor;
    let v: Tensor;
    if (query === key && key === value) {
      [q, k, v] = linear(query, this.inProjWeight, this.inProjBias).chunk(3, -1);
    } else {
      [q, k, v] = [this.project(query, 0), this.project(key, 1), this.project(value, 2)];
    }
    let scores = this.splitHeads(q)
      .mul(1 / Math.sqrt(this.headDim))
      .matmul(this.splitHeads(k).transpose(-2, -1));
    if (attnMask) {
      const mask = attnMask.ndim === 3 ? attnMask.view(b, this.numHeads, l, s) : attnMask;
      scores = mask.dtype === 'bool' ? scores.maskedFill(mask, Number.NEGATIVE_INFINITY) : scores.add(mask);
    }
    if (keyPaddingMask) scores = scores.maskedFill(keyPaddingMask.view(b, 1, 1, s), Number.NEGATIVE_INFINITY);
    let weights = softmax(scores, -1);
    if (this.dropout > 0) weights = dropout(weights, this.dropout, this.training);
    const context = weights.matmul(this.splitHeads(v)).transpose(1, 2).reshape(b, l, this.embedDim);
    const output = this.outProj.forward(context);
    if (!needWeights) return [output, null];
    return [output, averageAttnWeights ? weights.mean(1) : weights];
  }
}
