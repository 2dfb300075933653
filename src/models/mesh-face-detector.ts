// Face detection + 468-point face mesh: BlazeFace finds square face boxes, FaceMesh places the points and confirms
// the face; the box is re-centred on the mesh. The same pipeline, weights and numbers as @vladmandic/human's face
// module (detector rotation off, no video caching), read from Human's npm package. `detectMeshFaces` is that
// pipeline once, whatever engine runs the two networks (`MeshNetworks`): libtorch here (`MeshFaceDetector`), or
// onnxruntime on their `toOnnx` graphs (serve/onnx-face-detector.ts).
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { noGrad } from '../torch/autograd.js';
import { fromTypedArray } from '../torch/creation.js';
import type { Tensor } from '../torch/tensor.js';
import { BLAZEFACE_OUTPUTS, blazeFaceBoxes, blazeFaceInput } from './blazeface.js';
import { FACE_MESH_OUTPUTS, faceMeshCrops, meshesInImage } from './face-mesh.js';
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

/** Runs one network on its NCHW input and returns the named (tfjs) outputs as float32 arrays, row-major. */
export type NetworkRunner = (input: Tensor, outputs: readonly string[]) => Float32Array[] | Promise<Float32Array[]>;

/** The two networks on some engine. */
export interface MeshNetworks {
  blazeFace: NetworkRunner;
  faceMesh: NetworkRunner;
}

/** The folder of Human's bundled models. */
export function humanModelsDir(): string {
  return join(dirname(createRequire(import.meta.url).resolve('@vladmandic/human')), '..', 'models');
}

/** Human's BlazeFace and FaceMesh graphs, read from its package (or `modelsDir`), no network. */
export function loadMeshGraphs(modelsDir = humanModelsDir()): { blazeFace: TfjsGraph; faceMesh: TfjsGraph } {
  const blazeFace = TfjsGraph.load(join(modelsDir, 'blazeface.json'));
  try {
    return { blazeFace, faceMesh: TfjsGraph.load(join(modelsDir, 'facemesh.json')) };
  } catch (error) {
    blazeFace.dispose();
    throw error;
  }
}

/** Faces in an RGB image (height×width×3 uint8), most confident first, the networks run by `networks`. */
export async function detectMeshFaces(
  networks: MeshNetworks,
  rgb: Uint8Array,
  width: number,
  height: number,
  options: MeshDetectOptions,
): Promise<MeshFace[]> {
  if (rgb.length !== width * height * 3) throw new RangeError(`detect: ${rgb.length} bytes for ${width}×${height}×3`);
  const hwc = fromTypedArray(rgb, [1, height, width, 3]);
  const image = hwc.permute(0, 3, 1, 2).float(); // stays channels-last in memory, as the networks want it
  try {
    const input = blazeFaceInput(image);
    const outputs = await run(networks.blazeFace, input, BLAZEFACE_OUTPUTS);
    const boxes = blazeFaceBoxes(outputs, width, height, { maxFaces: options.maxFaces, minScore: options.minScore });
    if (boxes.length === 0) return [];
    const crops = faceMeshCrops(image, boxes);
    const [scores, points] = await run(networks.faceMesh, crops, FACE_MESH_OUTPUTS);
    const faces: MeshFace[] = [];
    meshesInImage(boxes, scores, points).forEach(({ score: probability, mesh }, i) => {
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

/** Runs a network on `input` and frees the input, whatever happens. */
async function run(network: NetworkRunner, input: Tensor, outputs: readonly string[]): Promise<Float32Array[]> {
  try {
    return await network(input, outputs);
  } finally {
    input.dispose();
  }
}

/** A tfjs graph on libtorch as a `NetworkRunner`. */
export function torchRunner(graph: TfjsGraph): NetworkRunner {
  return (input, outputs) =>
    noGrad(() => {
      const outs = graph.run(input, outputs);
      try {
        return outs.map((t) => t.dataSync() as Float32Array);
      } finally {
        for (const t of outs) t.dispose();
      }
    });
}

/** Both networks on libtorch. */
export class MeshFaceDetector implements MeshNetworks {
  readonly blazeFace: NetworkRunner;
  readonly faceMesh: NetworkRunner;

  private constructor(readonly graphs: { blazeFace: TfjsGraph; faceMesh: TfjsGraph }) {
    this.blazeFace = torchRunner(graphs.blazeFace);
    this.faceMesh = torchRunner(graphs.faceMesh);
  }

  /** Loads BlazeFace and FaceMesh from Human's package (or `modelsDir`), no network. */
  static load(modelsDir = humanModelsDir()): MeshFaceDetector {
    return new MeshFaceDetector(loadMeshGraphs(modelsDir));
  }

  /** Faces in an RGB image (height×width×3 uint8), most confident first. */
  detect(rgb: Uint8Array, width: number, height: number, options: MeshDetectOptions): Promise<MeshFace[]> {
    return detectMeshFaces(this, rgb, width, height, options);
  }

  /** Frees both networks' weights. */
  dispose(): void {
    this.graphs.blazeFace.dispose();
    this.graphs.faceMesh.dispose();
  }
}
