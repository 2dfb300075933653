// Randomised whole-photo capture for training LQ twins: the validation conditions of photo-conditions.ts
// (down-sampling to a small face, Gaussian blur, JPEG, turbulence), each drawn from a range instead of one value
// and sometimes several at once, in a camera's order: atmosphere (turbulence), optics (blur), sensor sampling
// (down-up), compression (JPEG). A draw is a plain record, so a cache of twins can name exactly what made each.
import type { Prng } from '../common/prng.js';
import { blurPhoto, downUp, jpegPhoto, type RgbPhoto, turbulentPhoto } from './photo-conditions.js';
import type { Turbulence } from './turbulence.js';

export interface PhotoCaptureConfig {
  /** Probability of each step; when none is drawn, one is picked uniformly (every twin is degraded). */
  probability: { turbulence: number; blur: number; down: number; jpeg: number };
  /** D/r0 of the turbulence. */
  turbulence: [number, number];
  /** Gaussian blur σ in px. */
  blurSigma: [number, number];
  /** Width in px the face (its clean box) is captured at before scaling back. */
  faceWidth: [number, number];
  /** JPEG quality. */
  jpegQuality: [number, number];
}

/** Ranges around the validation conditions (down24/16, blur3, jpeg10, turb2), not their exact values. */
export const PHOTO_CAPTURE_DEFAULTS: PhotoCaptureConfig = {
  probability: { turbulence: 0.2, blur: 0.3, down: 0.5, jpeg: 0.35 },
  turbulence: [1, 3],
  blurSigma: [1, 4],
  faceWidth: [12, 40],
  jpegQuality: [5, 30],
};

/** One capture's parameters (absent: step skipped); `seed` fixes the turbulence draw. */
export interface CaptureDraw {
  turbulence?: number;
  blurSigma?: number;
  faceWidth?: number;
  jpegQuality?: number;
  seed: number;
}

const STEPS = ['turbulence', 'blur', 'down', 'jpeg'] as const;

/** Draws one capture from `config` with `prng`. */
export function drawCapture(prng: Prng, config: PhotoCaptureConfig = PHOTO_CAPTURE_DEFAULTS): CaptureDraw {
  const on = STEPS.map((step) => prng.chance(config.probability[step]));
  if (!on.some(Boolean)) on[prng.index(STEPS.length)] = true;
  const draw: CaptureDraw = { seed: prng.nextUint32() };
  const between = ([lo, hi]: [number, number]) => prng.uniform(lo, hi);
  if (on[0]) draw.turbulence = between(config.turbulence);
  if (on[1]) draw.blurSigma = between(config.blurSigma);
  if (on[2]) draw.faceWidth = between(config.faceWidth);
  if (on[3]) draw.jpegQuality = Math.round(between(config.jpegQuality));
  return draw;
}

/** Captures `photo` as `draw` says; `faceWidth` is the clean face box's width in px. */
export async function capturePhoto(photo: RgbPhoto, draw: CaptureDraw, faceWidth: number, turbulence: Turbulence): Promise<RgbPhoto> {
  let out = photo;
  if (draw.turbulence !== undefined) out = turbulentPhoto(out, draw.turbulence, turbulence, draw.seed);
  if (draw.blurSigma !== undefined) out = await blurPhoto(out, draw.blurSigma);
  if (draw.faceWidth !== undefined) out = await downUp(out, draw.faceWidth, faceWidth);
  if (draw.jpegQuality !== undefined) out = await jpegPhoto(out, draw.jpegQuality);
  return out;
}
