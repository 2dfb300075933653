// Scaled dot-product attention over spatial tokens, shared by the CATF and single cross-attention fusions:
// maps [B, C, H, W] ↔ tokens [B, N, C], and multi-head attention softmax(Q·Kᵀ/√d_k)·V with heads
// concatenated back along channels.

import type { OnnxGraph, OnnxValue } from '../nn/onnx-graph.js';
import type { Tensor } from '../torch/index.js';
import * as torch from '../torch/index.js';

/** [B, C, H, W] → [B, H·W, C]. */
export function toTokens(map: Tensor): Tensor {
  return map.flatten(2).transpose(1, 2);
}

/** [B, H·W, C] → [B, C, H, W]. */
export function fromTokens(tokens: Tensor, height: number, width: number): Tensor {
  const [b, , c] = tokens.shape;
  return tokens.transpose(1, 2).reshape(b, c, height, width);
}

/** q [B, L, C], k and v [B, S, C] → [B, L, C], with C split into `heads` heads of C/heads. */
export function multiHeadAttention(q: Tensor, k: Tensor, v: Tensor, heads: number): Tensor {
  const [b, l, c] = q.shape;
  const d = c / heads;
  const split = (t: Tensor): Tensor => t.reshape(b, t.shape[1], heads, d).transpose(1, 2);
  const weights = torch.F.softmax(split(q).matmul(split(k).transpose(-1, -2)).div(Math.sqrt(d)), -1);
  return weights.matmul(split(v)).transpose(1, 2).reshape(b, l, c);
}

/** `toTokens` as graph nodes. */
export function toTokensOnnx(g: OnnxGraph, map: OnnxValue): OnnxValue {
  return g.transpose(g.reshape(map, [0, 0, -1]), [0, 2, 1]);
}

/** `fromTokens` as graph nodes. */
export function fromTokensOnnx(g: OnnxGraph, tokens: OnnxValue, height: number, width: number): OnnxValue {
  return g.reshape(g.transpose(tokens, [0, 2, 1]), [0, 0, height, width]);
}

/** `multiHeadAttention` as graph nodes. */
export function multiHeadAttentionOnnx(g: OnnxGraph, q: OnnxValue, k: OnnxValue, v: OnnxValue, heads: number): OnnxValue {
  const d = (q.shape[2] as number) / heads;
  const split = (t: OnnxValue): OnnxValue => g.transpose(g.reshape(t, [0, 0, heads, d]), [0, 2, 1, 3]);
  const scores = g.div(g.matmul(split(q), g.transpose(split(k), [0, 1, 3, 2])), Math.sqrt(d));
  return g.reshape(g.transpose(g.matmul(g.softmax(scores, -1), split(v)), [0, 2, 1, 3]), [0, 0, -1]);
}
