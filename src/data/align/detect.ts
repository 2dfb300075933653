// Face detection with 5 landmarks: @vladmandic/human (blazeface + 468-point face mesh) on tfjs's wasm
// backend, offline — its models ship in its npm package and are read from disk. The 5 points (eye centres,
// nose tip, mouth corners, in the order of SPEC §8's template) come from the mesh as measured in
// /work/shared/notes/detection.md.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

/** Subject's right eye (left in the image) and left eye outline indices in the 468-point mesh. */
const EYE_IMAGE_LEFT = [246, 161, 160, 159, 158, 157, 173, 33, 7, 163, 144, 145, 153, 154, 155, 133];
const EYE_IMAGE_RIGHT = [466, 388, 387, 386, 385, 384, 398, 263, 249, 390, 373, 374, 380, 381, 382, 362];
const NOSE_TIP = 4;
const MOUTH_IMAGE_LEFT = 61;
const MOUTH_IMAGE_RIGHT = 291;

export type Point = [number, number];

export interface FaceDetection {
  /** [x, y, width, height] in input pixels. */
  box: [number, number, number, number];
  score: number;
  /** Left eye, right eye, nose tip, left and right mouth corner (image left/right), in input pixels. */
  landmarks: Point[];
}

export interface DetectorOptions {
  /** Lowest detection score kept (default 0.3). */
  minScore?: number;
  /** Most faces per image (default 1: the most confident). */
  maxFaces?: number;
  /** Images whose longer side exceeds this are shrunk before detection (default 1024). */
  maxSide?: number;
}

// The few members of Human's API we use (its bundled types are not exported from the wasm build's path).
interface HumanTensor {
  dispose(): void;
}
interface HumanFace {
  score: number;
  box: [number, number, number, number];
  mesh: [number, number, number][];
}
interface HumanInstance {
  load(): Promise<void>;
  detect(input: HumanTensor): Promise<{ face: HumanFace[]; error?: string | null }>;
  tf: { tensor4d(values: Int32Array, shape: number[], dtype: 'int32'): HumanTensor; getBackend(): string };
}

const require = createRequire(import.meta.url);

function humanPaths(): { module: string; models: string; wasm: string } {
  // The wasm build is not reachable through the package's exports map, so it is required by path.
  const humanDist = dirname(require.resolve('@vladmandic/human'));
  const wasmDist = dirname(require.resolve('@tensorflow/tfjs-backend-wasm'));
  return {
    module: join(humanDist, 'human.node-wasm.js'),
    models: join(humanDist, '..', 'models'),
    wasm: `${pathToFileURL(wasmDist).href}/`,
  };
}

/** Human loads models with global fetch, which cannot read file:// URLs in Node: answer those from disk. */
async function withFileFetch<T>(fn: () => Promise<T>): Promise<T> {
  const original = globalThis.fetch;
  globalThis.fetch = (async (input: string | URL | Request, init?: RequestInit) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    if (!url.startsWith('file://')) return original(input, init);
    return new Response(readFileSync(new URL(url)), {
      status: 200,
      headers: { 'content-type': url.endsWith('.json') ? 'application/json' : 'application/octet-stream' },
    });
  }) as typeof fetch;
  try {
    return await fn();
  } finally {
    globalThis.fetch = original;
  }
}

function mean(points: [number, number, number][], indices: number[]): Point {
  let x = 0;
  let y = 0;
  for (const i of indices) {
    x += points[i][0];
    y += points[i][1];
  }
  return [x / indices.length, y / indices.length];
}

/** The 5 template points from a 468-point face mesh. */
export function fivePointsFromMesh(mesh: [number, number, number][]): Point[] {
  const at = (i: number): Point => [mesh[i][0], mesh[i][1]];
  return [mean(mesh, EYE_IMAGE_LEFT), mean(mesh, EYE_IMAGE_RIGHT), at(NOSE_TIP), at(MOUTH_IMAGE_LEFT), at(MOUTH_IMAGE_RIGHT)];
}

/** Intersection over union of two [x, y, width, height] boxes. */
export function boxIoU(a: readonly number[], b: readonly number[]): number {
  const x = Math.max(0, Math.min(a[0] + a[2], b[0] + b[2]) - Math.max(a[0], b[0]));
  const y = Math.max(0, Math.min(a[1] + a[3], b[1] + b[3]) - Math.max(a[1], b[1]));
  return (x * y) / (a[2] * a[3] + b[2] * b[3] - x * y);
}

/** A face found on a degraded copy of a photo is the clean photo's face when their boxes overlap at least this much. */
export const SAME_FACE_MIN_IOU = 0.3;

/**
 * The landmarks to align a degraded copy of a photo with: the face detected on the copy when there is one and it
 * overlaps the clean photo's face (SAME_FACE_MIN_IOU), else the clean face's (`fallback`). One rule for validation's
 * degraded photos and for the training captures that imitate them.
 */
export function landmarksOnDegraded(
  found: FaceDetection | undefined,
  clean: { box: readonly number[]; landmarks: Point[] },
): { landmarks: Point[]; fallback: boolean } {
  if (found && boxIoU(found.box, clean.box) >= SAME_FACE_MIN_IOU) return { landmarks: found.landmarks, fallback: false };
  return { landmarks: clean.landmarks, fallback: true };
}

/** What detection callers need: FaceDetector here, or FaceDetectorThread on a worker thread. */
export type Detector = Pick<FaceDetector, 'detect' | 'maxSide'>;

/**
 * A detector chosen by name and built by a module above src/data (the CLI passes serve/face-detectors.ts's
 * `detectorChoice`): plain data, so each worker thread of `alignFolder` builds its own from it.
 */
export interface DetectorChoice {
  /** URL of a module exporting `createDetector(kind, options, threads?)`. */
  factory: string;
  kind: string;
}

/** A detector its builder owns: `dispose` (where it has one) frees its sessions or weights. */
export type OwnedDetector = Detector & { dispose?(): void | Promise<void> };

type DetectorFactory = (kind: string, options: DetectorOptions, threads?: number) => Promise<OwnedDetector>;

/** The chosen detector (Human's when none is chosen), built in this thread (`threads`: its intra-op threads). */
export async function loadDetector(choice: DetectorChoice | undefined, options: DetectorOptions, threads?: number): Promise<OwnedDetector> {
  if (!choice) return FaceDetector.create(options);
  const { createDetector } = (await import(choice.factory)) as { createDetector?: DetectorFactory };
  if (typeof createDetector !== 'function') throw new TypeError(`${choice.factory} exports no createDetector`);
  return createDetector(choice.kind, options, threads);
}

export class FaceDetector {
  private constructor(
    private readonly human: HumanInstance,
    private readonly options: Required<DetectorOptions>,
  ) {}

  /** Loads Human's detector and mesh models from its package (no network). */
  static async create(options: DetectorOptions = {}): Promise<FaceDetector> {
    const full = { minScore: options.minScore ?? 0.3, maxFaces: options.maxFaces ?? 1, maxSide: options.maxSide ?? 1024 };
    const paths = humanPaths();
    const { Human } = require(paths.module) as { Human: new (config: object) => HumanInstance };
    const human = new Human({
      backend: 'wasm',
      wasmPath: paths.wasm,
      modelBasePath: `${pathToFileURL(paths.models).href}/`,
      debug: false,
      cacheSensitivity: 0, // still images: no video-frame caching
      face: {
        enabled: true,
        // detector.square corrupts coordinates (see the notes), so it stays off.
        detector: { rotation: false, maxDetected: full.maxFaces, skipFrames: 0, skipTime: 0, minConfidence: full.minScore, square: false },
        mesh: { enabled: true },
        iris: { enabled: false },
        description: { enabled: false },
        emotion: { enabled: false },
        antispoof: { enabled: false },
        liveness: { enabled: false },
        attention: { enabled: false },
      },
      body: { enabled: false },
      hand: { enabled: false },
      object: { enabled: false },
      gesture: { enabled: false },
      segmentation: { enabled: false },
      filter: { enabled: false },
    });
    await withFileFetch(() => human.load());
    return new FaceDetector(human, full);
  }

  /** Faces in an RGB image (height×width×3 uint8), most confident first. */
  async detect(rgb: Uint8Array, width: number, height: number): Promise<FaceDetection[]> {
    if (rgb.length !== width * height * 3) throw new RangeError(`detect: ${rgb.length} bytes for ${width}×${height}×3`);
    const input = this.human.tf.tensor4d(Int32Array.from(rgb), [1, height, width, 3], 'int32');
    try {
      const result = await this.human.detect(input);
      if (result.error) throw new Error(`face detection failed: ${result.error}`);
      return result.face
        .filter((f) => f.score >= this.options.minScore && f.mesh.length >= 468)
        .sort((a, b) => b.score - a.score)
        .map((f) => ({ box: [...f.box] as FaceDetection['box'], score: f.score, landmarks: fivePointsFromMesh(f.mesh) }));
    } finally {
      input.dispose();
    }
  }

  /** Longest side detection runs at; larger inputs are shrunk by the caller (see `detectInImage`). */
  get maxSide(): number {
    return this.options.maxSide;
  }
}
