// 5-point alignment (SPEC §8): the least-squares similarity transform (Umeyama, no reflection) from detected
// landmarks to the ArcFace template scaled to the output size, then a bilinear warp of the image.
import type { Point } from './detect.js';

/** SPEC §8's 112×112 template: left eye, right eye, nose tip, left and right mouth corner. */
export const ARCFACE_TEMPLATE_112: readonly Point[] = [
  [38.2946, 51.6963],
  [73.5318, 51.5014],
  [56.0252, 71.7366],
  [41.5493, 92.3655],
  [70.7299, 92.2041],
];

/**
 * dlib's mean face shape (get_face_chip_details, unit square) at our 5 points: the eye centres are the means of
 * the 68-layout eye outlines 36–41 and 42–47, then nose tip 30 and mouth corners 48 and 54 — the chip the dlib
 * ResNet-34 descriptor (face-api.js's recognition net) was trained on.
 */
export const DLIB_MEAN_FACE_5: readonly Point[] = [
  [0.2254918, 0.2159903],
  [0.7547613, 0.2159903],
  [0.490127, 0.515625],
  [0.254149, 0.780233],
  [0.726104, 0.780233],
];
/** dlib's default chip padding (0.25 of the face on each side), as dlib.get_face_chip(…, size=150, padding=0.25). */
export const DLIB_CHIP_PADDING = 0.25;

/** Which canonical face a crop is aligned to: insightface's ArcFace template or dlib's face chip. */
export type AlignmentTemplate = 'arcface' | 'dlib';

/** How a model's input crop is aligned (what a model directory declares). */
export interface Alignment {
  template: AlignmentTemplate;
  /** Side of the square crop in pixels. */
  size: number;
}

/** The 5-point template for a size×size crop: ArcFace's 112 template scaled, or dlib's padded mean face. */
export function templateFor(size: number, template: AlignmentTemplate = 'arcface'): Point[] {
  if (template === 'dlib') {
    const p = DLIB_CHIP_PADDING;
    return DLIB_MEAN_FACE_5.map(([x, y]) => [((p + x) / (1 + 2 * p)) * size, ((p + y) / (1 + 2 * p)) * size]);
  }
  if (template !== 'arcface') throw new RangeError(`alignment template must be 'arcface' or 'dlib', got '${template}'`);
  return ARCFACE_TEMPLATE_112.map(([x, y]) => [(x * size) / 112, (y * size) / 112]);
}

/** A 2×3 affine matrix [a, b, tx, c, d, ty]: (x, y) → (a·x + b·y + tx, c·x + d·y + ty). */
export type Affine = [number, number, number, number, number, number];

/** The similarity transform minimising Σ‖dst − (s·R·src + t)‖² (Umeyama 1991, rotation without reflection). */
export function similarityTransform(src: readonly Point[], dst: readonly Point[]): Affine {
  if (src.length !== dst.length || src.length < 2)
    throw new RangeError(`similarityTransform: need ≥ 2 matching points, got ${src.length} and ${dst.length}`);
  const n = src.length;
  let [msx, msy, mdx, mdy] = [0, 0, 0, 0];
  for (let i = 0; i < n; i++) {
    msx += src[i][0] / n;
    msy += src[i][1] / n;
    mdx += dst[i][0] / n;
    mdy += dst[i][1] / n;
  }
  let dot = 0;
  let cross = 0;
  let variance = 0;
  for (let i = 0; i < n; i++) {
    const [sx, sy] = [src[i][0] - msx, src[i][1] - msy];
    const [dx, dy] = [dst[i][0] - mdx, dst[i][1] - mdy];
    dot += sx * dx + sy * dy;
    cross += sx * dy - sy * dx;
    variance += sx * sx + sy * sy;
  }
  if (variance === 0) throw new RangeError('similarityTransform: source points are all equal');
  const a = dot / variance; // s·cos θ
  const c = cross / variance; // s·sin θ
  return [a, -c, mdx - a * msx + c * msy, c, a, mdy - c * msx - a * msy];
}

export function applyAffine(m: Affine, [x, y]: Point): Point {
  return [m[0] * x + m[1] * y + m[2], m[3] * x + m[4] * y + m[5]];
}

export function invertAffine(m: Affine): Affine {
  const det = m[0] * m[4] - m[1] * m[3];
  if (det === 0) throw new RangeError('invertAffine: singular matrix');
  const [a, b, c, d] = [m[4] / det, -m[1] / det, -m[3] / det, m[0] / det];
  return [a, b, -(a * m[2] + b * m[5]), c, d, -(c * m[2] + d * m[5])];
}

/** Warps an RGB image (h×w×3) by `m` (source → output) into outW×outH, bilinear, black outside. */
export function warpAffine(rgb: Uint8Array, width: number, height: number, m: Affine, outW: number, outH: number): Uint8Array {
  const inv = invertAffine(m);
  const out = new Uint8Array(outW * outH * 3);
  for (let v = 0; v < outH; v++) {
    for (let u = 0; u < outW; u++) {
      // Pixel centres: output (u, v) samples the source at inv(u, v) in the same pixel-index convention as cv2.
      const x = inv[0] * u + inv[1] * v + inv[2];
      const y = inv[3] * u + inv[4] * v + inv[5];
      const x0 = Math.floor(x);
      const y0 = Math.floor(y);
      const fx = x - x0;
      const fy = y - y0;
      const o = (v * outW + u) * 3;
      let r = 0;
      let g = 0;
      let b = 0;
      // The four neighbours, each skipped when outside the image (black there); no arrays per pixel: this loop
      // runs for every crop pixel of every photo.
      for (let k = 0; k < 4; k++) {
        const xs = x0 + (k & 1);
        const ys = y0 + (k >> 1);
        const w = (k & 1 ? fx : 1 - fx) * (k >> 1 ? fy : 1 - fy);
        if (w <= 0 || xs < 0 || ys < 0 || xs >= width || ys >= height) continue;
        const i = (ys * width + xs) * 3;
        r += w * rgb[i];
        g += w * rgb[i + 1];
        b += w * rgb[i + 2];
      }
      out[o] = Math.round(r);
      out[o + 1] = Math.round(g);
      out[o + 2] = Math.round(b);
    }
  }
  return out;
}

export interface AlignedFace {
  /** size×size×3 RGB. */
  pixels: Uint8Array;
  /** Source → crop transform. */
  matrix: Affine;
  /** The landmarks mapped into the crop. */
  landmarks: Point[];
}

/** Aligns one face of an RGB image to a template: a size (ArcFace template) or `{ template, size }`. */
export function alignFace(
  rgb: Uint8Array,
  width: number,
  height: number,
  landmarks: readonly Point[],
  alignment: number | Alignment = 112,
): AlignedFace {
  const { template, size } = typeof alignment === 'number' ? { template: 'arcface' as const, size: alignment } : alignment;
  const matrix = similarityTransform(landmarks, templateFor(size, template));
  return { pixels: warpAffine(rgb, width, height, matrix, size, size), matrix, landmarks: landmarks.map((p) => applyAffine(matrix, p)) };
}
