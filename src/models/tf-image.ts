// TensorFlow's bilinear resampling on libtorch, with TF's own coordinate rules (not PyTorch's half-pixel ones),
// so graphs ported from tfjs see the very pixels they saw there: `tf.image.resizeBilinear` (alignCorners and
// halfPixelCenters off) and `tf.image.cropAndResize` (bilinear, zeros outside the image). Both are one
// grid_sample at TF's sample positions (align_corners: −1 and 1 are the first and last pixel centres).
import { fromTypedArray } from '../torch/creation.js';
import { gridSample, stack } from '../torch/functional.js';
import type { Tensor } from '../torch/tensor.js';

/** Pixel positions → grid_sample's [−1, 1] (align_corners) for an axis of `size` pixels. */
function normalised(positions: Float64Array, size: number): Float32Array {
  return Float32Array.from(positions, (p) => (size > 1 ? (2 * p) / (size - 1) - 1 : -1));
}

/**
 * Bilinear samples of NCHW `image` (float, or uint8 pixels) at rows `ys` × columns `xs` (pixel positions), as
 * float32. 'border' clamps positions past the last pixel (resizeBilinear's rule); 'zeros' makes every sample
 * outside [0, size − 1] exactly 0 (cropAndResize's).
 */
function sample(image: Tensor, ys: Float64Array, xs: Float64Array, outside: 'border' | 'zeros'): Tensor {
  const [, , h, w] = image.shape;
  const gx = fromTypedArray(normalised(xs, w), [1, 1, xs.length]).expand(1, ys.length, xs.length);
  const gy = fromTypedArray(normalised(ys, h), [1, ys.length, 1]).expand(1, ys.length, xs.length);
  const grid = stack([gx, gy], 3);
  const float = image.isFloatingPoint ? image : image.float();
  let out = gridSample(float, grid, { paddingMode: outside, alignCorners: true });
  for (const t of [gx, gy, grid]) t.dispose();
  if (float !== image) float.dispose();
  const inside = (positions: Float64Array, size: number) => positions.every((p) => p >= 0 && p <= size - 1);
  if (outside === 'zeros' && !(inside(ys, h) && inside(xs, w))) {
    // grid_sample blends a sample just outside the image with the zero padding; TF zeroes it outright.
    const mask = (positions: Float64Array, size: number) => Float32Array.from(positions, (p) => (p >= 0 && p <= size - 1 ? 1 : 0));
    const my = fromTypedArray(mask(ys, h), [1, 1, ys.length, 1]);
    const mx = fromTypedArray(mask(xs, w), [1, 1, 1, xs.length]);
    const rows = out.mul(my);
    const masked = rows.mul(mx);
    for (const t of [out, rows, my, mx]) t.dispose();
    out = masked;
  }
  return out;
}

/** `tf.image.resizeBilinear(image, [height, width])` (alignCorners = halfPixelCenters = false) on NCHW images, as float32. */
export function resizeBilinear(image: Tensor, height: number, width: number): Tensor {
  const [, , h, w] = image.shape;
  const positions = (out: number, size: number) => Float64Array.from({ length: out }, (_, i) => (i * size) / out);
  return sample(image, positions(height, h), positions(width, w), 'border');
}

/**
 * `tf.image.cropAndResize(image, [[y1, x1, y2, x2]], [0], [height, width])` for one box in normalised
 * coordinates on an NCHW image [1, C, H, W], as float32: the box's corners map to pixel centres 0 … size − 1.
 */
export function cropAndResize(image: Tensor, box: readonly [number, number, number, number], height: number, width: number): Tensor {
  const [, , h, w] = image.shape;
  const [y1, x1, y2, x2] = box;
  const positions = (from: number, to: number, out: number, size: number) =>
    Float64Array.from({ length: out }, (_, i) =>
      out > 1 ? from * (size - 1) + (i * (to - from) * (size - 1)) / (out - 1) : 0.5 * (from + to) * (size - 1),
    );
  return sample(image, positions(y1, y2, height, h), positions(x1, x2, width, w), 'zeros');
}
