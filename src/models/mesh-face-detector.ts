// Face detection + 468-point face mesh on libtorch: BlazeFace finds square face boxes, FaceMesh places the points
// and confirms the face; the box is re-centred on the mesh. The same pipeline, weights and numbers as
// @vladmandic/human's face module (detector rotation off, no video caching), read from Human's npm package.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fromTypedArray } from '../torch/creation.js';
import { BlazeFace } from './blazeface.js';
import { FaceMesh } from './face-mesh.js';
import { TfjsGraph } from './tfjs-graph.js';

export interface MeshFace {
  /** [x, y, width, height] in image pixels, clipped to the image (whole numbers). */
  box: [number, number, number, number];
  /** FaceMesh's face-presence probability, rounded to 2 decimals as Human reports it. */
  score: number;
  /** 468 [x, y, z] points in image pixels. */
  mesh: [number, number, number][];
}

export interface MeshDetectOptions {
  /** A face is kept when its (rounded) mesh score exceeds this. */
  minScore: number;
  /** Most faces. */
  maxFaces: number;
}

/** The folder of Human's bundled models. */
export function humanModelsDir(): string {
  return join(dirname(createRequire(import.meta.url).resolve('@vladmandic/human')), '..', 'models');
}

export class MeshFaceDetector {
  private constructor(
    private readonly blazeGraph: TfjsGraph,
    private readonly meshGraph: TfjsGraph,
    readonly blazeFace = new BlazeFace(blazeGraph),
    readonly faceMesh = new FaceMesh(meshGraph),
  ) {}

  /** Loads BlazeFace and FaceMesh from Human's package (or `modelsDir`), no network. */
  static load(modelsDir = humanModelsDir()): MeshFaceDetector {
    const blaze = TfjsGraph.load(join(modelsDir, 'blazeface.json'));
    try {
      return new MeshFaceDetector(blaze, TfjsGraph.load(join(modelsDir, 'facemesh.json')));
    } catch (error) {
      blaze.dispose();
      throw error;
    }
  }

  /** Faces in an RGB image (height×width×3 uint8), most confident first. */
  detect(rgb: Uint8Array, width: number, height: number, options: MeshDetectOptions): MeshFace[] {
    if (rgb.length !== width * height * 3) throw new RangeError(`detect: ${rgb.length} bytes for ${width}×${height}×3`);
    const hwc = fromTypedArray(rgb, [1, height, width, 3]);
    const image = hwc.permute(0, 3, 1, 2).float(); // stays channels-last in memory, as the networks want it
    try {
      const boxes = this.blazeFace.detect(image, { maxFaces: options.maxFaces, minScore: options.minScore });
      const meshes = this.faceMesh.landmarks(image, boxes);
      const faces: MeshFace[] = [];
      meshes.forEach(({ score: probability, mesh }, i) => {
        const score = Math.round(100 * probability) / 100;
        if (score <= options.minScore) return;
        const { startPoint, endPoint } = boxes[i];
        const [size, sizeY] = [Math.abs(endPoint[0] - startPoint[0]), Math.abs(endPoint[1] - startPoint[1])];
        // centre of the mesh's extent, the detector box's size (Human's calculateFaceBox), clipped (clampBox)
        let [minX, minY, maxX, maxY] = [
          Number.POSITIVE_INFINITY,
          Number.POSITIVE_INFINITY,
          Number.NEGATIVE_INFINITY,
          Number.NEGATIVE_INFINITY,
        ];
        for (const [x, y] of mesh) [minX, minY, maxX, maxY] = [Math.min(minX, x), Math.min(minY, y), Math.max(maxX, x), Math.max(maxY, y)];
        const [cx, cy] = [minX + (maxX - minX) / 2, minY + (maxY - minY) / 2];
        const [x1, y1, x2, y2] = [cx - size / 2, cy - sizeY / 2, cx + size / 2, cy + sizeY / 2];
        const box: MeshFace['box'] = [
          Math.trunc(Math.max(0, x1)),
          Math.trunc(Math.max(0, y1)),
          Math.trunc(Math.min(width, x2) - Math.max(0, x1)),
          Math.trunc(Math.min(height, y2) - Math.max(0, y1)),
        ];
        faces.push({ box, score, mesh });
      });
      return faces.sort((a, b) => b.score - a.score);
    } finally {
      image.dispose();
      hwc.dispose();
    }
  }

  /** Frees both networks' weights. */
  dispose(): void {
    this.blazeGraph.dispose();
    this.meshGraph.dispose();
  }
}
