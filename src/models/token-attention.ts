// Scaled dot-product attention over spatial tokens, shared by the CATF and single cross-attention fusions:
// maps [B, C, H, W] ↔ tokens [B, N, C], and multi-head attention softmax(Q·Kᵀ/√d_k)·V with heads
// concatenated back along channels.

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
