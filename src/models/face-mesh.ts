// MediaPipe's FaceMesh (468 3-D points and a face-presence score from a 192×192 crop, as @vladmandic/human ships
// it) on libtorch, with Human's geometry: the detector's square box is cut out with tf.image.cropAndResize, and
// the points come back to image pixels truncated to whole numbers, as Human returns them.
import { noGrad } from '../torch/autograd.js';
import { cat } from '../torch/functional.js';
import type { Tensor } from '../torch/tensor.js';
import type { SquareBox } from './blazeface.js';
import { cropAndResize } from './tf-image.js';
import type { TfjsGraph } from './tfjs-graph.js';

/** FaceMesh's input side. */
export const FACE_MESH_INPUT_SIZE = 192;
/** Points in the mesh. */
export const FACE_MESH_POINTS = 468;

export interface MeshResult {
  /** Face-presence probability. */
  score: number;
  /** 468 [x, y, z] points in image pixels (whole numbers). */
  mesh: [number, number, number][];
}

export class FaceMesh {
  /** `graph`: Human's facemesh.json (outputs: contours, face flag, mesh). */
  constructor(readonly graph: TfjsGraph) {}

  /** The mesh input for each box: the box's crop of an NCHW 0–255 image, resized to 192×192 and scaled to [0, 1]. */
  crops(image: Tensor, boxes: readonly SquareBox[]): Tensor {
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

  /** Raw outputs for a batch of crops [N, 3, 192, 192] in [0, 1]: scores [N] and points [N, 468·3] in crop pixels. */
  raw(crops: Tensor): { scores: Float32Array; points: Float32Array } {
    return noGrad(() => {
      const [flag, mesh] = this.graph.run(crops, ['Identity_1', 'Identity_2']);
      const out = { scores: flag.dataSync() as Float32Array, points: mesh.dataSync() as Float32Array };
      flag.dispose();
      mesh.dispose();
      return out;
    });
  }

  /** The mesh of the face in each square box of an NCHW float image [1, 3, H, W] (0–255). */
  landmarks(image: Tensor, boxes: readonly SquareBox[]): MeshResult[] {
    if (boxes.length === 0) return [];
    const crops = this.crops(image, boxes);
    const { scores, points } = this.raw(crops);
    crops.dispose();
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
}
