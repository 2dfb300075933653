// Gradient clipping by total norm, as torch.nn.utils.clip_grad_norm_ (PyTorch 1.13): the norm of the vector of
// all gradients' norms; gradients are scaled in place by min(1, maxNorm / (norm + 1e-6)).
import { noGrad } from '../torch/autograd.js';
import { stack } from '../torch/functional.js';
import { callOpInPlace } from '../torch/native.js';
import { tidy } from '../torch/scope.js';
import type { Tensor } from '../torch/tensor.js';

export interface ClipOptions {
  /** The p of the p-norm (default 2; Infinity for the largest absolute value). */
  normType?: number;
  /** Throw when the total norm is NaN or infinite instead of scaling by it (default false, as PyTorch). */
  errorIfNonfinite?: boolean;
}

/** Scales the gradients of `params` so that their total norm is at most `maxNorm`; returns the norm before. */
export function clipGradNorm(params: Iterable<Tensor>, maxNorm: number, options: ClipOptions = {}): number {
  const { normType = 2, errorIfNonfinite = false } = options;
  if (!(maxNorm >= 0)) throw new RangeError(`clipGradNorm: maxNorm must be a non-negative number, got ${maxNorm}`);
  if (!(normType > 0)) throw new RangeError(`clipGradNorm: normType must be positive, got ${normType}`);
  return tidy(() =>
    noGrad(() => {
      const grads: Tensor[] = [];
      for (const p of params) {
        const g = p.grad;
        if (g !== null) grads.push(g);
      }
      if (grads.length === 0) return 0;
      const norms = grads.map((g) => g.norm(normType));
      const total = normType === Number.POSITIVE_INFINITY ? stack(norms).max() : stack(norms).norm(normType);
      const value = total.item();
      if (errorIfNonfinite && !Number.isFinite(value)) {
        throw new Error(`clipGradNorm: the total norm of order ${normType} of the gradients is ${value}`);
      }
      scaleToNorm(grads, total, maxNorm);
      return value;
    }),
  );
}

/** Scales `grads` in place by min(1, maxNorm / (total + 1e-6)), `total` being their norm (a scalar tensor). */
export function scaleToNorm(grads: Tensor[], total: Tensor, maxNorm: number): void {
  tidy(() => {
    // As PyTorch: the factor is a float32 tensor clamped to 1, so the arithmetic rounds the same way.
    const factor = total.add(1e-6).reciprocal().mul(maxNorm).clampMax(1);
    callOpInPlace('aten::_foreach_mul_.List', [grads, grads.map(() => factor)]);
  });
}
