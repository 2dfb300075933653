// Blur kernels built for a whole batch at once (one kernel per image) and FFT convolution with them, so large
// kernels (σ up to 10 px, long motion streaks) cost the same as small ones.
import * as torch from '../torch/index.js';
import { type Tensor, tidy } from '../torch/index.js';

export type BlurKind = 'isotropic' | 'anisotropic' | 'motion';

/** One image's blur: Gaussian σ along the rotated axes (isotropic: sigmaX = sigmaY), or a motion streak. */
export interface BlurSpec {
  kind: BlurKind;
  sigmaX: number;
  sigmaY: number;
  /** Rotation of the Gaussian's x axis / the streak's direction, radians. */
  angle: number;
  /** Streak length in pixels (motion only). */
  length: number;
}

/** Odd kernel size holding ±3σ of every Gaussian and every streak. */
export function kernelSizeFor(specs: readonly BlurSpec[]): number {
  let radius = 1;
  for (const s of specs) {
    radius = Math.max(radius, s.kind === 'motion' ? Math.ceil(s.length / 2 + 1) : Math.ceil(3 * Math.max(s.sigmaX, s.sigmaY)));
  }
  return 2 * radius + 1;
}

/** Unit-sum kernels [B, 1, size, size], one per spec. */
export function blurKernels(specs: readonly BlurSpec[], size: number): Tensor {
  return tidy(() => {
    const b = specs.length;
    const column = (f: (s: BlurSpec) => number) => torch.tensor(specs.map(f)).reshape(b, 1, 1, 1);
    const axis = torch.arange(size).sub((size - 1) / 2);
    const x = axis.reshape(1, 1, 1, size);
    const y = axis.reshape(1, 1, size, 1);
    const cos = column((s) => Math.cos(s.angle));
    const sin = column((s) => Math.sin(s.angle));
    const u = x.mul(cos).add(y.mul(sin));
    const v = y.mul(cos).sub(x.mul(sin));
    const gaussian = u
      .div(column((s) => s.sigmaX))
      .square()
      .add(v.div(column((s) => s.sigmaY)).square())
      .mul(-0.5)
      .exp();
    // Motion: a 1-px-wide anti-aliased segment through the centre covering `length` pixels (its centres span
    // length − 1), fading to zero over one more pixel at both ends.
    const along = u
      .abs()
      .sub(column((s) => Math.max(0, (s.length - 1) / 2)))
      .clampMin(0);
    const streak = along.square().add(v.square()).sqrt().rsub(1).clampMin(0);
    const isMotion = column((s) => (s.kind === 'motion' ? 1 : 0)).gt(0.5);
    const kernel = torch.where(isMotion, streak, gaussian);
    return kernel.div(kernel.sum([2, 3], true));
  });
}

/** Convolves each image [B, C, H, W] with its kernel [B, 1, k, k] (k odd), edges replicated, by FFT. */
export function fftConvolve(images: Tensor, kernels: Tensor): Tensor {
  const [, , h, w] = images.shape;
  const k = kernels.shape[2];
  const r = (k - 1) / 2;
  return tidy(() => {
    const padded = torch.F.pad(images, [r, r, r, r], 'replicate');
    const size: [number, number] = [h + 2 * r, w + 2 * r];
    const spectrum = torch.fft.rfft2(padded).mul(torch.fft.rfft2(kernels, size));
    return torch.fft
      .irfft2(spectrum, size)
      .slice(2, 2 * r, 2 * r + h)
      .slice(3, 2 * r, 2 * r + w)
      .contiguous();
  });
}
