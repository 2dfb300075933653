// The photo pipeline's face detectors, by name: 'onnx' (the default: BlazeFace + FaceMesh exported from their tfjs
// graphs and run by onnxruntime, serve/onnx-face-detector.ts), 'libtorch' (the same graphs on catface's engine,
// src/models/mesh-face-detector.ts) or 'human' (the same networks in @vladmandic/human on tfjs-wasm, as before).
// All give the 5 template points from the 468-point mesh in the same way.
import { type DetectorChoice, type DetectorOptions, type FaceDetection, FaceDetector, fivePointsFromMesh } from '../data/align/detect.js';
import { detectMeshFaces, MeshFaceDetector, type MeshNetworks } from '../models/mesh-face-detector.js';
import { OnnxMeshNetworks } from './onnx-face-detector.js';

export type DetectorKind = 'onnx' | 'libtorch' | 'human';
export const DETECTOR_KINDS: readonly DetectorKind[] = ['onnx', 'libtorch', 'human'];

/** FaceDetector's contract (`detect`, `maxSide`) on BlazeFace + FaceMesh run by catface (libtorch or onnxruntime). */
export class MeshDetector {
  private constructor(
    private readonly networks: MeshNetworks & { dispose(): void | Promise<void> },
    private readonly options: Required<DetectorOptions>,
  ) {}

  /** On libtorch (`'libtorch'`) or onnxruntime (`'onnx'`, with `threads` intra-op threads, default as $CATFACE_THREADS). */
  static async create(engine: 'libtorch' | 'onnx', options: DetectorOptions = {}, threads?: number): Promise<MeshDetector> {
    const full = { minScore: options.minScore ?? 0.3, maxFaces: options.maxFaces ?? 1, maxSide: options.maxSide ?? 1024 };
    return new MeshDetector(engine === 'onnx' ? await OnnxMeshNetworks.open(threads) : MeshFaceDetector.load(), full);
  }

  /** Faces in an RGB image (height×width×3 uint8), most confident first. */
  async detect(rgb: Uint8Array, width: number, height: number): Promise<FaceDetection[]> {
    const faces = await detectMeshFaces(this.networks, rgb, width, height, this.options);
    return faces.map((f) => ({ box: f.box, score: f.score, landmarks: fivePointsFromMesh(f.mesh) }));
  }

  get maxSide(): number {
    return this.options.maxSide;
  }

  async dispose(): Promise<void> {
    await this.networks.dispose();
  }
}

/** A detector of the given kind, in this thread. */
export async function createDetector(kind: DetectorKind, options: DetectorOptions, threads?: number): Promise<MeshDetector | FaceDetector> {
  if (kind === 'onnx' || kind === 'libtorch') return MeshDetector.create(kind, options, threads);
  if (kind === 'human') return FaceDetector.create(options);
  throw new RangeError(`unknown face detector '${kind}' (expected ${DETECTOR_KINDS.join(', ')})`);
}

/** `kind` as data/align's folder aligner takes it: each of its worker threads builds it with `createDetector`. */
export function detectorChoice(kind: DetectorKind): DetectorChoice {
  return { factory: import.meta.url, kind };
}
