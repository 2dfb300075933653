// The image conventions (SPEC §1) in one place. Decoded images are uint8 bytes, channels last (HWC, RGB or one
// grey channel); the loader and the degradations work on the unit range [0, 1]; the networks take normalised
// images (x/255 − 0.5)/0.5 ∈ [−1, 1]. Tensors are float32 [B, C, H, W]. Every conversion between the three goes
// through here, and a batch is converted once on its way to the network.
import type { Tensor } from '../torch/index.js';
import * as torch from '../torch/index.js';

/** B images of the same size, one after another as [B, H, W, C] uint8 bytes, into one buffer. */
function concatPixels(pixels: readonly Uint8Array[], height: number, width: number): Uint8Array {
  const stride = height * width * 3;
  const all = new Uint8Array(pixels.length * stride);
  pixels.forEach((p, i) => {
    if (p.length !== stride) throw new RangeError(`image: crop ${i} has ${p.length} bytes, expected ${height}×${width}×3 = ${stride}`);
    all.set(p, i * stride);
  });
  return all;
}

/** [B, H, W, C] uint8 bytes (C = 1 or 3) → [B, C, H, W] float32 in [0, 1]. */
export function bytesToUnit(bytes: Uint8Array, shape: readonly [number, number, number, number]): Tensor {
  return torch.tidy(() =>
    torch
      .fromBytes(bytes, 'uint8', [...shape])
      .permute([0, 3, 1, 2])
      .float()
      .div(255)
      .contiguous(),
  );
}

/** [B, C, H, W] in [0, 1] → [B, H, W, C] uint8 bytes (rounded to the nearest level, clamped). */
export function unitToBytes(images: Tensor): Uint8Array {
  return torch.tidy(() => images.mul(255).round().clamp(0, 255).to('uint8').permute([0, 2, 3, 1]).contiguous().toBytes());
}

/** H×W×3 uint8 RGB crops → [B, 3, H, W] float32 in [0, 1] (what the loader yields and the Degrader takes). */
export function pixelsToUnit(pixels: readonly Uint8Array[], height: number, width = height): Tensor {
  return bytesToUnit(concatPixels(pixels, height, width), [pixels.length, height, width, 3]);
}

/** H×W×3 uint8 RGB crops → normalised [B, 3, H, W] float32, (x/255 − 0.5)/0.5 (what the networks take). */
export function pixelsToNormalized(pixels: readonly Uint8Array[], height: number, width = height): Tensor {
  const all = concatPixels(pixels, height, width);
  return torch.tidy(() =>
    torch.fromBytes(all, 'uint8', [pixels.length, height, width, 3]).permute([0, 3, 1, 2]).to('float32').div(127.5).sub(1).contiguous(),
  );
}

/**
 * `pixelsToNormalized` without libtorch, for an engine that takes plain arrays (onnxruntime): the same float32
 * values, [B, 3, H, W] in one Float32Array.
 */
export function pixelsToNormalizedArray(pixels: readonly Uint8Array[], height: number, width = height): Float32Array {
  const all = concatPixels(pixels, height, width);
  const plane = height * width;
  const out = new Float32Array(all.length);
  for (let b = 0; b < pixels.length; b++) {
    const base = b * plane * 3;
    for (let p = 0; p < plane; p++) {
      for (let c = 0; c < 3; c++) out[base + c * plane + p] = Math.fround(all[base + p * 3 + c] / 127.5) - 1;
    }
  }
  return out;
}

/** [0, 1] → [−1, 1]: a unit-range batch (loader, degradations) as network input. */
export function unitToNormalized(images: Tensor): Tensor {
  return torch.tidy(() => images.mul(2).sub(1));
}
