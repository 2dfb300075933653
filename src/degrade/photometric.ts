// Per-image photometric adjustments on [B, C, H, W] batches in [0, 1]; each factor list has one entry per image.

import type { Tensor } from '../torch/index.js';
import * as torch from '../torch/index.js';

/** [B, 1, 1, 1] tensor of per-image factors. */
export function perImage(values: readonly number[]): Tensor {
  return torch.tensor([...values]).reshape(values.length, 1, 1, 1);
}

/** ITU-R 601 luma [B, 1, H, W] (the image itself when greyscale). */
export function luma(images: Tensor): Tensor {
  if (images.shape[1] === 1) return images;
  const weights = torch.tensor([0.299, 0.587, 0.114]).reshape(1, 3, 1, 1);
  return images.mul(weights).sum(1, true);
}

/** x · factor. */
export function adjustBrightness(images: Tensor, factors: readonly number[]): Tensor {
  return images.mul(perImage(factors)).clamp(0, 1);
}

/** Blends with the image's mean luma: mean + factor · (x − mean). */
export function adjustContrast(images: Tensor, factors: readonly number[]): Tensor {
  const mean = luma(images).mean([1, 2, 3], true);
  return images.sub(mean).mul(perImage(factors)).add(mean).clamp(0, 1);
}

/** Blends with the greyscale image: grey + factor · (x − grey); no-op on greyscale input. */
export function adjustSaturation(images: Tensor, factors: readonly number[]): Tensor {
  if (images.shape[1] === 1) return images;
  const grey = luma(images);
  return images.sub(grey).mul(perImage(factors)).add(grey).clamp(0, 1);
}

/** x^gamma (gamma > 1 darkens mid-tones). */
export function adjustGamma(images: Tensor, gammas: readonly number[]): Tensor {
  return images.clamp(0, 1).pow(perImage(gammas));
}
