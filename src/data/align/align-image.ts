// Detect + align one encoded image: decode (with the pixel limit), shrink a copy for detection when large,
// map the landmarks back, and warp the full-resolution image to the template.
import sharp, { type Sharp } from 'sharp';
import { DEFAULT_MAX_PIXELS, toRgb } from '../decode.js';
import { DataError } from '../errors.js';
import { type AlignedFace, alignFace } from './align-face.js';
import type { FaceDetection, FaceDetector } from './detect.js';

export type AlignOutcome = { face: FaceDetection; aligned: AlignedFace } | { face: null };

async function rawRgb(input: Sharp): Promise<{ data: Uint8Array; width: number; height: number }> {
  const { data, info } = await input.removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  return { data: toRgb(data, info.channels, info.width * info.height), width: info.width, height: info.height };
}

/** Tightly cropped faces (e.g. ORL) escape the detector; retry with a grey border of half the size. */
async function detectPadded(
  detector: FaceDetector,
  image: { data: Uint8Array; width: number; height: number },
): Promise<FaceDetection | undefined> {
  const pad = Math.round(Math.max(image.width, image.height) / 2);
  const width = image.width + 2 * pad;
  const height = image.height + 2 * pad;
  const padded = new Uint8Array(width * height * 3).fill(128);
  for (let y = 0; y < image.height; y++)
    padded.set(image.data.subarray(y * image.width * 3, (y + 1) * image.width * 3), ((y + pad) * width + pad) * 3);
  const [face] = await detector.detect(padded, width, height);
  if (!face) return undefined;
  return {
    score: face.score,
    box: [face.box[0] - pad, face.box[1] - pad, face.box[2], face.box[3]],
    landmarks: face.landmarks.map(([x, y]) => [x - pad, y - pad]),
  };
}

/** Detects the most confident face of an encoded image and aligns it to size×size. */
export async function detectAndAlign(
  detector: FaceDetector,
  bytes: Uint8Array,
  source: string,
  size = 112,
  maxPixels = DEFAULT_MAX_PIXELS,
): Promise<AlignOutcome> {
  if (bytes.length === 0) throw new DataError(source, 'empty file (0 bytes)');
  let full: { data: Uint8Array; width: number; height: number };
  let small: { data: Uint8Array; width: number; height: number };
  try {
    const image = sharp(bytes, { limitInputPixels: maxPixels, failOn: 'error' }).rotate(); // honour EXIF orientation
    full = await rawRgb(image.clone());
    const longer = Math.max(full.width, full.height);
    small =
      longer > detector.maxSide
        ? await rawRgb(
            image.clone().resize({
              width: Math.round((full.width * detector.maxSide) / longer),
              height: Math.round((full.height * detector.maxSide) / longer),
              fit: 'fill',
            }),
          )
        : full;
  } catch (error) {
    const message = (error as Error).message;
    throw new DataError(
      source,
      /pixel limit/i.test(message) ? `image too large: more than ${maxPixels} pixels` : `cannot decode image: ${message}`,
    );
  }
  let face: FaceDetection | undefined = (await detector.detect(small.data, small.width, small.height))[0];
  if (!face) face = await detectPadded(detector, small);
  if (!face) return { face: null };
  const sx = full.width / small.width;
  const sy = full.height / small.height;
  const scaled: FaceDetection = {
    score: face.score,
    box: [face.box[0] * sx, face.box[1] * sy, face.box[2] * sx, face.box[3] * sy],
    landmarks: face.landmarks.map(([x, y]) => [x * sx, y * sy]),
  };
  return { face: scaled, aligned: alignFace(full.data, full.width, full.height, scaled.landmarks, size) };
}
