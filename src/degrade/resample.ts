// Down-sampling then up-sampling back to the original size, per image with its own factor and interpolations:
// the low-resolution effect of the unconstrained pipeline and of AdaFace's augmentation. Before shrinking, a
// raised-cosine low-pass (flat below 0.8× the new Nyquist frequency 1/(2k), zero from it on) removes what the
// smaller image cannot hold, so no down-sampling filter aliases; the modes then differ in how they interpolate.
import * as torch from '../torch/index.js';
import { type Tensor, tidy } from '../torch/index.js';

export type DownMode = 'area' | 'bilinear' | 'bicubic';
export type UpMode = 'nearest' | 'bilinear' | 'bicubic';

export interface ResampleSpec {
  /** Side shrink factor ≥ 1 (1 leaves the image unchanged). */
  factor: number;
  down: DownMode;
  up: UpMode;
}

/** Start of the low-pass roll-off, as a fraction of the new Nyquist frequency. */
const PASS_FRACTION = 0.8;

/** Raised-cosine gain over |frequency| (cycles/pixel) for cut-off fc: 1 below 0.8·fc, 0 from fc. */
function gain(frequencies: Tensor, cutoff: number): Tensor {
  const start = PASS_FRACTION * cutoff;
  const t = frequencies
    .abs()
    .sub(start)
    .div(cutoff - start)
    .clamp(0, 1);
  return t.mul(Math.PI).cos().add(1).mul(0.5);
}

/** Each image low-passed to its factor's new Nyquist frequency ([n, C, H, W], one factor per image). */
function lowPass(images: Tensor, factors: readonly number[]): Tensor {
  const [, , h, w] = images.shape;
  const fy = torch.fft.fftfreq(h).reshape(1, 1, h, 1);
  const fx = torch.fft
    .fftfreq(w)
    .slice(0, 0, Math.floor(w / 2) + 1)
    .abs()
    .reshape(1, 1, 1, Math.floor(w / 2) + 1);
  const masks = torch.cat(
    factors.map((k) => gain(fy, 1 / (2 * k)).mul(gain(fx, 1 / (2 * k)))),
    0,
  );
  return torch.fft.irfft2(torch.fft.rfft2(images).mul(masks), [h, w]);
}

/** Each image shrunk by its factor and enlarged back to H×W; values clamped to [0, 1] (filters overshoot). */
export function downUp(images: Tensor, specs: readonly ResampleSpec[]): Tensor {
  const [b, , h, w] = images.shape;
  if (specs.length !== b) throw new RangeError(`downUp: ${specs.length} specs for a batch of ${b}`);
  specs.forEach((spec, i) => {
    if (!(spec.factor >= 1) || !Number.isFinite(spec.factor))
      throw new RangeError(`downUp: specs[${i}].factor must be finite and ≥ 1, got ${spec.factor}`);
  });
  return tidy(() => {
    const filtered = lowPass(
      images,
      specs.map((s) => s.factor),
    );
    const out = specs.map((spec, i) => {
      const image = filtered.narrow(0, i, 1);
      if (spec.factor === 1) return images.narrow(0, i, 1);
      const size: [number, number] = [Math.max(1, Math.round(h / spec.factor)), Math.max(1, Math.round(w / spec.factor))];
      const small = torch.F.interpolate(image, { size, mode: spec.down, antialias: spec.down !== 'area' });
      return torch.F.interpolate(small, { size: [h, w], mode: spec.up, alignCorners: spec.up === 'nearest' ? undefined : false });
    });
    return torch.cat(out, 0).clamp(0, 1);
  });
}
