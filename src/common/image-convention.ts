// The image conventions (SPEC §1) in one place. Decoded crops are H×W×3 uint8 RGB (HWC); the degradations work
// on the unit range [0, 1]; the networks take normalised images (x/255 − 0.5)/0.5 ∈ [−1, 1]; tensors are
// float32 [B, 3, H, W]. Every conversion between the three goes through here.
import type { Tensor } from '../torch/index.js';
import * as torch from '../torch/index.js';

/** HWC uint8 crops of one size → a batch [B, H, W, 3] uint8 (the crops' bytes, copied once). */
function pixelBatch(pixels: readonly Uint8Array[], height: number, width: number): Tensor {
  const stride = height * width * 3;
  const all = new Uint8Array(pixels.length * stride);
  pixels.forEach((p, i) => {
    if (p.length !== stride) throw new RangeError(`image: crop ${i} has ${p.length} bytes, expected ${height}×${width}×3 = ${stride}`);
    all.set(p, i * stride);
  });
  return torch.fromBytes(all, 'uint8', [pixels.length, height, width, 3]);
}

/** HWC uint8 crops → normalised [B, 3, H, W] float32, (x/255 − 0.5)/0.5. */
export function pixelsToNormalized(pixels: readonly Uint8Array[], height: number, width = height): Tensor {
  return torch.tidy(() => pixelBatch(pixels, height, width).permute([0, 3, 1, 2]).to('float32').div(127.5).sub(1).contiguous());
}
