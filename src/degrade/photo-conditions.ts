// Whole-photo capture conditions for validation on real low-quality faces, applied to the decoded photo
// before detection, as a camera would capture it (sharp for resampling, blur and JPEG; catface's turbulence
// simulator for turbulence):
//   clean   — the photo as is;
//   down24 / down16 — scale by f = 24 (16) / face-box width with a linear kernel, then back to the original
//             size (linear): the face was captured ~24 (16) px wide;
//   blur3   — Gaussian blur σ = 3 px;  jpeg10 — JPEG quality 10 (sharp's defaults), decoded again;
//   turb2   — turbulence at D/r0 = 2 (tilt + blur), the photo spanning `TURBULENCE_SCENE_WIDTH` metres.
import sharp, { type Sharp } from 'sharp';
import * as torch from '../torch/index.js';
import { Turbulence } from './turbulence.js';

export const PHOTO_CONDITIONS = ['clean', 'down24', 'down16', 'blur3', 'jpeg10', 'turb2'] as const;
export type PhotoCondition = (typeof PHOTO_CONDITIONS)[number];

/** An RGB photo, height×width×3 bytes. */
export interface RgbPhoto {
  data: Uint8Array;
  width: number;
  height: number;
}

/** Metres across a 250-px LFW photo (its face, ~110 px wide, is then ~0.25 m, as the simulator's face crops). */
export const TURBULENCE_SCENE_WIDTH = 0.6;

const raw = (p: RgbPhoto) => sharp(p.data, { raw: { width: p.width, height: p.height, channels: 3 } });

async function toPhoto(image: Sharp): Promise<RgbPhoto> {
  const { data, info } = await image.removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data), width: info.width, height: info.height };
}

/** Scales the photo so its face is `target` px wide, then back to its size (linear both ways). */
export async function downUp(photo: RgbPhoto, target: number, faceWidth: number): Promise<RgbPhoto> {
  const f = Math.min(1, target / faceWidth);
  const width = Math.max(1, Math.round(photo.width * f));
  const height = Math.max(1, Math.round(photo.height * f));
  const small = await toPhoto(raw(photo).resize(width, height, { kernel: 'linear', fit: 'fill' }));
  return toPhoto(raw(small).resize(photo.width, photo.height, { kernel: 'linear', fit: 'fill' }));
}

/** Applies one condition. `faceWidth` is the clean face box's width; `seed` fixes the turbulence draw. */
export async function applyPhotoCondition(
  photo: RgbPhoto,
  condition: PhotoCondition,
  faceWidth: number,
  turbulence: Turbulence,
  seed: number,
): Promise<RgbPhoto> {
  switch (condition) {
    case 'clean':
      return photo;
    case 'down24':
      return downUp(photo, 24, faceWidth);
    case 'down16':
      return downUp(photo, 16, faceWidth);
    case 'blur3':
      return blurPhoto(photo, 3);
    case 'jpeg10':
      return jpegPhoto(photo, 10);
    case 'turb2':
      return turbulentPhoto(photo, 2, turbulence, seed);
  }
}

/** Gaussian blur of standard deviation `sigma` px (sharp; sigma ≥ 0.3). */
export function blurPhoto(photo: RgbPhoto, sigma: number): Promise<RgbPhoto> {
  return toPhoto(raw(photo).blur(sigma));
}

/** JPEG at `quality` (sharp's defaults otherwise), decoded again. */
export async function jpegPhoto(photo: RgbPhoto, quality: number): Promise<RgbPhoto> {
  return toPhoto(sharp(await raw(photo).jpeg({ quality }).toBuffer()));
}

/** Turbulence at D/r0 = `strength` over the whole photo; `seed` fixes the draw (libtorch's generator). */
export function turbulentPhoto(photo: RgbPhoto, strength: number, turbulence: Turbulence, seed: number): RgbPhoto {
  const { width, height } = photo;
  const bytes = torch.tidy(() => {
    torch.manualSeed(seed);
    const image = torch.fromTypedArray(photo.data, [height, width, 3]).permute(2, 0, 1).unsqueeze(0).float().div(255);
    const out = turbulence.apply(image, [strength]);
    return out.mul(255).round().clamp(0, 255).squeeze(0).permute(1, 2, 0).to('uint8').contiguous();
  });
  const data = new Uint8Array(bytes.dataSync() as Uint8Array);
  bytes.dispose();
  return { data, width, height };
}

/** The turbulence simulator configured for whole photos (D/r0 is given per call). */
export function photoTurbulence(): Turbulence {
  return new Turbulence({ sceneWidth: TURBULENCE_SCENE_WIDTH });
}
