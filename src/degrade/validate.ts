// Argument checks shared by every degradation: images are [B, C, H, W] float32 in [0, 1] (C = 1 or 3);
// config ranges are finite and ordered. Errors name the field and say what was wrong.
import { callOp, type Tensor } from '../torch/index.js';

/** Tolerance on the [0, 1] range check (resampling can overshoot by rounding). */
const RANGE_SLACK = 1e-4;

/**
 * Throws unless `images` is a [B, C, H, W] float32 batch with C ∈ {1, 3}, H, W ≥ `minSide`, finite values in
 * [0, 1]. Images in the model's [-1, 1] normalisation are rejected with a hint to convert with (x + 1) / 2.
 */
export function checkImages(images: Tensor, where: string, minSide = 8): void {
  if (images.ndim !== 4) throw new RangeError(`${where}: expected images [B, C, H, W], got shape [${images.shape}]`);
  const [b, c, h, w] = images.shape;
  if (images.dtype !== 'float32') throw new TypeError(`${where}: expected float32 images, got ${images.dtype}`);
  if (b < 1) throw new RangeError(`${where}: empty batch (shape [${images.shape}])`);
  if (c !== 1 && c !== 3) throw new RangeError(`${where}: expected 1 or 3 channels, got ${c} (shape [${images.shape}])`);
  if (h < minSide || w < minSide) throw new RangeError(`${where}: images must be at least ${minSide}×${minSide}, got ${h}×${w}`);
  const [minimum, maximum] = callOp('aten::aminmax', [images, null, false]) as [Tensor, Tensor];
  const lo = minimum.item();
  const hi = maximum.item();
  minimum.dispose();
  maximum.dispose();
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) throw new RangeError(`${where}: images contain NaN or infinite values`);
  if (lo < -RANGE_SLACK || hi > 1 + RANGE_SLACK) {
    const hint = lo >= -1 - RANGE_SLACK && lo < -RANGE_SLACK ? ' (looks like [-1, 1] model input: pass (x + 1) / 2)' : '';
    throw new RangeError(`${where}: pixel values must lie in [0, 1], got [${lo.toFixed(4)}, ${hi.toFixed(4)}]${hint}`);
  }
}

/** A closed range [lo, hi] of finite numbers with lo ≤ hi, optionally bounded below/above. */
export function checkRange(
  range: readonly [number, number],
  field: string,
  min = Number.NEGATIVE_INFINITY,
  max = Number.POSITIVE_INFINITY,
): void {
  if (!Array.isArray(range) || range.length !== 2) throw new TypeError(`${field}: expected [lo, hi], got ${JSON.stringify(range)}`);
  const [lo, hi] = range;
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) throw new RangeError(`${field}: bounds must be finite numbers, got [${lo}, ${hi}]`);
  if (lo > hi) throw new RangeError(`${field}: lower bound ${lo} exceeds upper bound ${hi}`);
  if (lo < min || hi > max) throw new RangeError(`${field}: [${lo}, ${hi}] must lie within [${min}, ${max}]`);
}

/** A finite number within [min, max]. */
export function checkNumber(value: number, field: string, min = Number.NEGATIVE_INFINITY, max = Number.POSITIVE_INFINITY): void {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new RangeError(`${field}: expected a finite number, got ${value}`);
  if (value < min || value > max) throw new RangeError(`${field}: ${value} must lie within [${min}, ${max}]`);
}

/** A probability in [0, 1]. */
export function checkProbability(value: number, field: string): void {
  checkNumber(value, field, 0, 1);
}

/** A positive integer. */
export function checkPositiveInt(value: number, field: string): void {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${field}: expected a positive integer, got ${value}`);
}
