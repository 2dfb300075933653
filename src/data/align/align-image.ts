// Detect + align one encoded image: decode (with the pixel limit), shrink a copy for detection when large,
// map the landmarks back, and warp the full-resolution image to the template.
import { DEFAULT_MAX_PIXELS, type DecodedPhoto, decodePhoto, type RgbImage } from '../decode.js';
import { type AlignedFace, alignFace } from './align-face.js';
import type { Detector, FaceDetection } from './detect.js';

export type AlignOutcome = { face: FaceDetection; aligned: AlignedFace } | { face: null };

/** Moves and scales detections: (x, y) → ((x + dx)·sx, (y + dy)·sy). */
function mapDetections(faces: FaceDetection[], dx: number, dy: number, sx: number, sy: number): FaceDetection[] {
  return faces.map((f) => ({
    score: f.score,
    box: [(f.box[0] + dx) * sx, (f.box[1] + dy) * sy, f.box[2] * sx, f.box[3] * sy],
    landmarks: f.landmarks.map(([x, y]) => [(x + dx) * sx, (y + dy) * sy]),
  }));
}

/** Tightly cropped faces (e.g. ORL) escape the detector; retry with a grey border of half the size. */
async function detectPadded(detector: Detector, image: RgbImage): Promise<FaceDetection[]> {
  const pad = Math.round(Math.max(image.width, image.height) / 2);
  const width = image.width + 2 * pad;
  const height = image.height + 2 * pad;
  const padded = new Uint8Array(width * height * 3).fill(128);
  for (let y = 0; y < image.height; y++)
    padded.set(image.data.subarray(y * image.width * 3, (y + 1) * image.width * 3), ((y + pad) * width + pad) * 3);
  return mapDetections(await detector.detect(padded, width, height), -pad, -pad, 1, 1);
}

/** Every face the detector finds in a decoded photo (run on its small copy), in full-resolution pixels, most confident first. */
export async function detectFaces(detector: Detector, photo: DecodedPhoto): Promise<FaceDetection[]> {
  const { full, small } = photo;
  let faces = await detector.detect(small.data, small.width, small.height);
  if (faces.length === 0) faces = await detectPadded(detector, small);
  return small === full ? faces : mapDetections(faces, 0, 0, full.width / small.width, full.height / small.height);
}

/** Detects the most confident face of an encoded image and aligns it to size×size. */
export async function detectAndAlign(
  detector: Detector,
  bytes: Uint8Array,
  source: string,
  size = 112,
  maxPixels = DEFAULT_MAX_PIXELS,
): Promise<AlignOutcome> {
  const photo = await decodePhoto(bytes, source, { detectionSide: detector.maxSide, maxPixels });
  const [face] = await detectFaces(detector, photo);
  if (!face) return { face: null };
  const { full } = photo;
  return { face, aligned: alignFace(full.data, full.width, full.height, face.landmarks, size) };
}
