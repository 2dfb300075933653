// The photo pipeline's face detectors, by name: 'libtorch' (the default: BlazeFace + FaceMesh ported onto
// catface's engine, src/models/mesh-face-detector.ts) or 'human' (the same networks in @vladmandic/human on
// tfjs-wasm, as before). Both give the 5 template points from the 468-point mesh in the same way.
import { type DetectorOptions, type FaceDetection, FaceDetector, fivePointsFromMesh } from '../data/align/detect.js';
import { MeshFaceDetector } from '../models/mesh-face-detector.js';

export type DetectorKind = 'libtorch' | 'human';
export const DETECTOR_KINDS: readonly DetectorKind[] = ['libtorch', 'human'];

/** FaceDetector's contract (`detect`, `maxSide`) on libtorch. */
export class TorchFaceDetector {
  private constructor(
    private readonly mesh: MeshFaceDetector,
    private readonly options: Required<DetectorOptions>,
  ) {}

  static create(options: DetectorOptions = {}): TorchFaceDetector {
    const full = { minScore: options.minScore ?? 0.3, maxFaces: options.maxFaces ?? 1, maxSide: options.maxSide ?? 1024 };
    return new TorchFaceDetector(MeshFaceDetector.load(), full);
  }

  /** Faces in an RGB image (height×width×3 uint8), most confident first. */
  async detect(rgb: Uint8Array, width: number, height: number): Promise<FaceDetection[]> {
    return this.mesh
      .detect(rgb, width, height, this.options)
      .map((f) => ({ box: f.box, score: f.score, landmarks: fivePointsFromMesh(f.mesh) }));
  }

  get maxSide(): number {
    return this.options.maxSide;
  }

  dispose(): void {
    this.mesh.dispose();
  }
}

/** A detector of the given kind, in this thread. */
export async function createDetector(kind: DetectorKind, options: DetectorOptions): Promise<TorchFaceDetector | FaceDetector> {
  if (kind === 'libtorch') return TorchFaceDetector.create(options);
  if (kind === 'human') return FaceDetector.create(options);
  throw new RangeError(`unknown face detector '${kind}' (expected ${DETECTOR_KINDS.join(' or ')})`);
}
