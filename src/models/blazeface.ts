// BlazeFace (MediaPipe's short-range face detector, as @vladmandic/human ships it: 256×256 input, 896 anchors):
// its input, and Human's post-processing reproduced step by step on the network's outputs as plain arrays
// (whichever engine ran it: libtorch or onnxruntime): anchor decoding, sigmoid scores, greedy non-maximum
// suppression as tfjs does it, then each box scaled to the image, enlarged ×1.4 and squared (the crop the face
// mesh takes).
import type { Tensor } from '../torch/tensor.js';
import { resizeBilinear } from './tf-image.js';

/** BlazeFace's input side. */
export const BLAZEFACE_INPUT_SIZE = 256;
/** The graph's outputs: two score maps and two box regressions, one per anchor grid. */
export const BLAZEFACE_OUTPUTS = ['Identity', 'Identity_1', 'Identity_2', 'Identity_3'] as const;

/** A detection as the face mesh takes it: a square box in image pixels (whole numbers) and the detector's score. */
export interface SquareBox {
  startPoint: [number, number];
  endPoint: [number, number];
  /** Detector confidence (sigmoid of the anchor's logit). */
  confidence: number;
}

export interface BlazeFaceOptions {
  /** Most boxes kept after suppression. */
  maxFaces: number;
  /** Boxes scoring at or below this are dropped. */
  minScore: number;
  /** A box overlapping a better one by at least this IoU is suppressed (Human's default 0.1). */
  iouThreshold?: number;
  /** Box enlargement before squaring (Human's default 1.4). */
  scale?: number;
}

/** Anchor centres in input pixels: 16×16 cells of stride 16 with 2 anchors each, then 8×8 of stride 32 with 6. */
export function blazeFaceAnchors(size = BLAZEFACE_INPUT_SIZE): [number, number][] {
  const anchors: [number, number][] = [];
  for (const [stride, perCell] of [
    [size / 16, 2],
    [size / 8, 6],
  ]) {
    const cells = Math.floor((size + stride - 1) / stride);
    for (let y = 0; y < cells; y++)
      for (let x = 0; x < cells; x++) for (let n = 0; n < perCell; n++) anchors.push([stride * (x + 0.5), stride * (y + 0.5)]);
  }
  return anchors;
}

/** Intersection over union of two [x1, y1, x2, y2] boxes (0 when either is empty), as tfjs computes it. */
export function iou(a: readonly number[], b: readonly number[]): number {
  const [ax1, ax2] = [Math.min(a[0], a[2]), Math.max(a[0], a[2])];
  const [ay1, ay2] = [Math.min(a[1], a[3]), Math.max(a[1], a[3])];
  const [bx1, bx2] = [Math.min(b[0], b[2]), Math.max(b[0], b[2])];
  const [by1, by2] = [Math.min(b[1], b[3]), Math.max(b[1], b[3])];
  const areaA = (ax2 - ax1) * (ay2 - ay1);
  const areaB = (bx2 - bx1) * (by2 - by1);
  if (areaA <= 0 || areaB <= 0) return 0;
  const w = Math.max(Math.min(ax2, bx2) - Math.max(ax1, bx1), 0);
  const h = Math.max(Math.min(ay2, by2) - Math.max(ay1, by1), 0);
  const inter = w * h;
  return inter / (areaA + areaB - inter);
}

/**
 * Greedy non-maximum suppression (tf.image.nonMaxSuppression): candidates scoring above `minScore`, best first;
 * one is kept unless it overlaps a kept box by IoU ≥ `iouThreshold`; at most `maxOutput`. Returns indices.
 */
export function nonMaxSuppression(
  boxes: readonly number[][],
  scores: ArrayLike<number>,
  maxOutput: number,
  iouThreshold: number,
  minScore: number,
): number[] {
  const candidates: number[] = [];
  for (let i = 0; i < scores.length; i++) if (scores[i] > minScore) candidates.push(i);
  candidates.sort((a, b) => scores[b] - scores[a] || a - b);
  const kept: number[] = [];
  for (const i of candidates) {
    if (kept.length >= maxOutput) break;
    if (kept.every((k) => iou(boxes[i], boxes[k]) < iouThreshold)) kept.push(i);
  }
  return kept;
}

const ANCHORS = blazeFaceAnchors();

/** The network's input for an NCHW 0–255 image [1, 3, H, W]: resized to 256×256 as TF does, scaled to [−1, 1]. */
export function blazeFaceInput(image: Tensor): Tensor {
  const resized = resizeBilinear(image, BLAZEFACE_INPUT_SIZE, BLAZEFACE_INPUT_SIZE);
  const scaled = resized.div(127.5);
  resized.dispose();
  const input = scaled.sub(1);
  scaled.dispose();
  return input;
}

/**
 * Per-anchor rows [896 × 17] (logit, box centre offset and size, 6 keypoints) from the four outputs (any order).
 * As Human: sorted by size (scores 384, 512; boxes 384×16, 512×16), each grid's scores paired with its boxes,
 * the 16×16 grid (512 anchors) first.
 */
export function blazeFaceRows(outputs: readonly Float32Array[]): Float32Array {
  const [s384, s512, b384, b512] = [...outputs].sort((a, b) => a.length - b.length);
  const all = new Float32Array((s512.length + s384.length) * 17);
  let row = 0;
  for (const [s, b] of [
    [s512, b512],
    [s384, b384],
  ]) {
    for (let i = 0; i < s.length; i++, row++) {
      all[row * 17] = s[i];
      all.set(b.subarray(i * 16, i * 16 + 16), row * 17 + 1);
    }
  }
  return all;
}

/** Faces from BlazeFace's four outputs for a width×height image: square boxes in image pixels, best first. */
export function blazeFaceBoxes(outputs: readonly Float32Array[], width: number, height: number, options: BlazeFaceOptions): SquareBox[] {
  const raw = blazeFaceRows(outputs);
  const size = BLAZEFACE_INPUT_SIZE;
  const boxes: number[][] = [];
  const scores = new Float32Array(ANCHORS.length);
  for (let i = 0; i < ANCHORS.length; i++) {
    const r = raw.subarray(i * 17, i * 17 + 17);
    const cx = r[1] + ANCHORS[i][0];
    const cy = r[2] + ANCHORS[i][1];
    boxes.push([cx - r[3] / 2, cy - r[4] / 2, cx + r[3] / 2, cy + r[4] / 2]);
    scores[i] = 1 / (1 + Math.exp(-r[0]));
  }
  const kept = nonMaxSuppression(boxes, scores, options.maxFaces, options.iouThreshold ?? 0.1, options.minScore);
  const [fx, fy] = [width / size, height / size];
  const scale = options.scale ?? 1.4;
  const out: SquareBox[] = [];
  for (const i of kept) {
    const [x1, y1, x2, y2] = [boxes[i][0] * fx, boxes[i][1] * fy, boxes[i][2] * fx, boxes[i][3] * fy];
    const [cx, cy] = [x1 + (x2 - x1) / 2, y1 + (y2 - y1) / 2];
    // enlarged by `scale`, then squared on its longer side (Human's enlargeBox + squarifyBox)
    const half = (scale * Math.max(Math.abs(x2 - x1), Math.abs(y2 - y1))) / 2;
    const box: SquareBox = {
      startPoint: [Math.round(cx - half), Math.round(cy - half)],
      endPoint: [Math.round(cx + half), Math.round(cy + half)],
      confidence: scores[i],
    };
    if (box.endPoint[0] - box.startPoint[0] > 0 && box.endPoint[1] - box.startPoint[1] > 0) out.push(box);
  }
  return out;
}
