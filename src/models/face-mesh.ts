// MediaPipe's FaceMesh (468 3-D points and a face-presence score from a 192×192 crop, as @vladmandic/human ships
// it) with Human's geometry: the detector's square box is cut out with tf.image.cropAndResize, and the points come
// back to image pixels truncated to whole numbers, as Human returns them (plain arrays, whichever engine ran it).
import { cat } from '../torch/functional.js';
import type { Tensor } from '../torch/tensor.js';
import type { SquareBox } from './blazeface.js';
import { cropAndResize } from './tf-image.js';

/** FaceMesh's input side. */
export const FACE_MESH_INPUT_SIZE = 192;
/** Points in the mesh. */
export const FACE_MESH_POINTS = 468;
/** The graph's outputs read: face flag [N, 1] and mesh [N, 468·3] in crop pixels. */
export const FACE_MESH_OUTPUTS = ['Identity_1', 'Identity_2'] as const;

export interface MeshResult {
  /** Face-presence probability. */
  score: number;
  /** 468 [x, y, z] points in image pixels (whole numbers). */
  mesh: [number, number, number][];
}

/** The mesh input for each box: the box's crop of an NCHW 0–255 image, resized to 192×192 and scaled to [0, 1]. */
export function faceMeshCrops(image: Tensor, boxes: readonly SquareBox[]): Tensor {
  const [, , h, w] = image.shape;
  const size = FACE_MESH_INPUT_SIZE;
  const each = boxes.map((b) =>
    cropAndResize(image, [b.startPoint[1] / h, b.startPoint[0] / w, b.endPoint[1] / h, b.endPoint[0] / w], size, size),
  );
  const batch = each.length === 1 ? each[0] : cat(each, 0);
  if (each.length > 1) for (const t of each) t.dispose();
  const out = batch.div(255);
  batch.dispose();
  return out;
}

/** Each box's mesh in image pixels, from the network's scores [N] and points [N, 468·3] (crop pixels). */
export function meshesInImage(boxes: readonly SquareBox[], scores: Float32Array, points: Float32Array): MeshResult[] {
  const size = FACE_MESH_INPUT_SIZE;
  const per = FACE_MESH_POINTS * 3;
  return boxes.map((box, f) => {
    const [bw, bh] = [Math.abs(box.endPoint[0] - box.startPoint[0]), Math.abs(box.endPoint[1] - box.startPoint[1])];
    const [cx, cy] = [
      box.startPoint[0] + (box.endPoint[0] - box.startPoint[0]) / 2,
      box.startPoint[1] + (box.endPoint[1] - box.startPoint[1]) / 2,
    ];
    const mesh: [number, number, number][] = [];
    for (let p = 0; p < FACE_MESH_POINTS; p++) {
      const [x, y, z] = points.subarray(f * per + 3 * p, f * per + 3 * p + 3);
      mesh.push([Math.trunc((bw / size) * (x - size / 2) + cx), Math.trunc((bh / size) * (y - size / 2) + cy), Math.trunc(z)]);
    }
    return { score: scores[f], mesh };
  });
}
