// The soft-biometric loss (SPEC §4, eq. 6–7): one binary classifier per attribute,
// L_SB = Σ_k λ_k · BCEWithLogits(z_k, y_k), each term averaged over the batch.

import type { Tensor } from '../torch/index.js';
import * as torch from '../torch/index.js';

export interface AttributeLossOptions {
  /** λ_k per attribute, [K] (default all 1). */
  weights?: Tensor | null;
  /** BCE's positive-class weight per attribute, [K] (for rare attributes such as Bald); default none. */
  posWeight?: Tensor | null;
  /**
   * 'sum' (default, SPEC): Σ_k of the per-attribute batch means. 'mean': also averaged over the K attributes
   * (PyTorch's BCEWithLogitsLoss default, what the anchor benchmark uses).
   */
  reduction?: 'sum' | 'mean';
}

/** `logits` [B, K] against 0/1 `targets` [B, K] (float). */
export function attributeLoss(logits: Tensor, targets: Tensor, options: AttributeLossOptions = {}): Tensor {
  const { weights = null, posWeight = null, reduction = 'sum' } = options;
  if (logits.ndim !== 2) throw new RangeError(`attributeLoss: logits must be [B, K], got [${logits.shape}]`);
  const [b, k] = logits.shape;
  if (targets.ndim !== 2 || targets.shape[0] !== b || targets.shape[1] !== k) {
    throw new RangeError(`attributeLoss: targets must be [${b}, ${k}] like the logits, got [${targets.shape}]`);
  }
  if (!targets.isFloatingPoint) throw new TypeError(`attributeLoss: targets must be floating point 0/1 values, got ${targets.dtype}`);
  for (const [name, t] of [
    ['weights', weights],
    ['posWeight', posWeight],
  ] as const) {
    if (t && (t.ndim !== 1 || t.shape[0] !== k)) throw new RangeError(`attributeLoss: options.${name} must be [${k}], got [${t.shape}]`);
  }
  if (reduction !== 'sum' && reduction !== 'mean')
    throw new RangeError(`attributeLoss: reduction must be 'sum' or 'mean', got '${reduction}'`);
  const total = torch.F.binaryCrossEntropyWithLogits(logits, targets, { weight: weights, posWeight, reduction: 'sum' });
  return total.div(reduction === 'sum' ? b : b * k);
}
