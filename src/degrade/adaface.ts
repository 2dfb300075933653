// AdaFace's training augmentations (Kim et al., CVPR 2022), applied to HQ and LQ alike when enabled: a random
// resized crop kept in place on a zero canvas, a low-resolution round trip, and photometric jitter.

import type { Prng } from '../common/prng.js';
import * as torch from '../torch/index.js';
import { type Tensor, tidy } from '../torch/index.js';
import { adjustBrightness, adjustContrast, adjustSaturation } from './photometric.js';
import { type DownMode, downUp, type ResampleSpec, type UpMode } from './resample.js';
import { checkImages, checkNumber, checkProbability, checkRange } from './validate.js';

export interface AdaFaceConfig {
  /** Probability of the crop. Default 0.2. */
  cropProbability: number;
  /** Kept area as a fraction of the image. Default [0.2, 1]. */
  cropScale: [number, number];
  /** Aspect ratio (w/h) of the kept area, log-uniform. Default [3/4, 4/3]. */
  cropRatio: [number, number];
  /** Probability of the low-resolution round trip. Default 0.2. */
  lowResProbability: number;
  /** Side ratio of the low-resolution image. Default [0.2, 1]. */
  lowResRatio: [number, number];
  /** Probability of photometric jitter. Default 0.2. */
  photometricProbability: number;
  /** Brightness, contrast and saturation factors drawn from [1 − jitter, 1 + jitter]. Default 0.5. */
  jitter: number;
}

export const defaultAdaFaceConfig: AdaFaceConfig = {
  cropProbability: 0.2,
  cropScale: [0.2, 1],
  cropRatio: [3 / 4, 4 / 3],
  lowResProbability: 0.2,
  lowResRatio: [0.2, 1],
  photometricProbability: 0.2,
  jitter: 0.5,
};

export function resolveAdaFaceConfig(options: Partial<AdaFaceConfig> = {}): AdaFaceConfig {
  const c = { ...defaultAdaFaceConfig, ...options };
  checkProbability(c.cropProbability, 'adaface.cropProbability');
  checkRange(c.cropScale, 'adaface.cropScale', Number.MIN_VALUE, 1);
  checkRange(c.cropRatio, 'adaface.cropRatio', Number.MIN_VALUE);
  checkProbability(c.lowResProbability, 'adaface.lowResProbability');
  checkRange(c.lowResRatio, 'adaface.lowResRatio', Number.MIN_VALUE, 1);
  checkProbability(c.photometricProbability, 'adaface.photometricProbability');
  checkNumber(c.jitter, 'adaface.jitter', 0, 1);
  return c;
}

/** Kept rectangle in pixels (top, left, height, width). */
export interface CropBox {
  top: number;
  left: number;
  height: number;
  width: number;
}

export interface AdaFacePlan {
  crop: (CropBox | null)[];
  lowRes: (ResampleSpec | null)[];
  /** [brightness, contrast, saturation] factors, or null. */
  photometric: ([number, number, number] | null)[];
}

const DOWN_MODES: DownMode[] = ['area', 'bilinear', 'bicubic'];
const UP_MODES: UpMode[] = ['nearest', 'bilinear', 'bicubic'];

/** A box of area scale·H·W and aspect ratio ratio (clipped to the image), placed uniformly. */
function drawBox(rng: Prng, height: number, width: number, c: AdaFaceConfig): CropBox {
  const area = rng.uniform(...c.cropScale) * height * width;
  const ratio = rng.logUniform(...c.cropRatio);
  const w = Math.max(1, Math.min(width, Math.round(Math.sqrt(area * ratio))));
  const h = Math.max(1, Math.min(height, Math.round(Math.sqrt(area / ratio))));
  return { top: rng.int(0, height - h), left: rng.int(0, width - w), height: h, width: w };
}

export function planAdaFace(count: number, height: number, width: number, rng: Prng, c: AdaFaceConfig): AdaFacePlan {
  const plan: AdaFacePlan = { crop: [], lowRes: [], photometric: [] };
  for (let i = 0; i < count; i++) {
    plan.crop.push(rng.chance(c.cropProbability) ? drawBox(rng, height, width, c) : null);
    plan.lowRes.push(
      rng.chance(c.lowResProbability)
        ? { factor: 1 / rng.uniform(...c.lowResRatio), down: rng.pick(DOWN_MODES), up: rng.pick(UP_MODES) }
        : null,
    );
    const j = () => rng.uniform(1 - c.jitter, 1 + c.jitter);
    plan.photometric.push(rng.chance(c.photometricProbability) ? [j(), j(), j()] : null);
  }
  return plan;
}

/** Applies `plan` to `images` [B, C, H, W] in [0, 1]; images without an augmentation pass through unchanged. */
export function applyAdaFace(images: Tensor, plan: AdaFacePlan): Tensor {
  checkImages(images, 'applyAdaFace');
  const [b, , h, w] = images.shape;
  if (plan.crop.length !== b) throw new RangeError(`applyAdaFace: plan for ${plan.crop.length} images, batch of ${b}`);
  return tidy(() => {
    let out = images;
    if (plan.crop.some((box) => box)) {
      const boxes = plan.crop.map((box) => box ?? { top: 0, left: 0, height: h, width: w });
      const column = (f: (x: CropBox) => number) => torch.tensor(boxes.map(f)).reshape(b, 1, 1, 1);
      const ys = torch.arange(h).reshape(1, 1, h, 1);
      const xs = torch.arange(w).reshape(1, 1, 1, w);
      const inside = ys
        .ge(column((x) => x.top))
        .logicalAnd(ys.lt(column((x) => x.top + x.height)))
        .logicalAnd(xs.ge(column((x) => x.left)))
        .logicalAnd(xs.lt(column((x) => x.left + x.width)));
      out = out.mul(inside.float());
    }
    if (plan.lowRes.some((spec) => spec)) {
      out = downUp(
        out,
        plan.lowRes.map((spec) => spec ?? { factor: 1, down: 'area', up: 'nearest' }),
      );
    }
    if (plan.photometric.some((f) => f)) {
      const factors = plan.photometric.map((f) => f ?? [1, 1, 1]);
      out = adjustBrightness(
        out,
        factors.map((f) => f[0]),
      );
      out = adjustContrast(
        out,
        factors.map((f) => f[1]),
      );
      out = adjustSaturation(
        out,
        factors.map((f) => f[2]),
      );
    }
    return out === images ? images.clone() : out;
  });
}
