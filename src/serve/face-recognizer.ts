// Photo in, answer out: decode (EXIF rotation, CMYK/greyscale/16-bit, pixel limit) → detect faces and 5
// landmarks (BlazeFace + FaceMesh on onnxruntime by default, or on libtorch, or Human on tfjs-wasm) → align each
// face as the model declares → the model (embedding, quality, attributes; on onnxruntime by default, or libtorch).
// Everything runs in this process, or with `{ worker: true }` detection runs on a worker thread and the model on
// another worker thread (`FaceModelWorker`), so a server's event loop only aligns (~1 ms per face).
import { readFile } from 'node:fs/promises';
import { alignFace } from '../data/align/align-face.js';
import { detectFaces } from '../data/align/align-image.js';
import type { Detector, Point } from '../data/align/detect.js';
import { DEFAULT_MAX_PIXELS, decodePhoto, type RgbImage } from '../data/decode.js';
import { DataError } from '../data/errors.js';
import { type FaceAlignment, type ModelSpec, resolveModelDir } from '../models/model-dir.js';
import * as torch from '../torch/index.js';
import { FaceDetectorThread } from './detector-thread.js';
import { createDetector, type DetectorKind } from './face-detectors.js';
import { type EmbeddingKind, type FaceAnalysis, FaceModel, type Verification, verification } from './face-model.js';
import { FaceModelWorker } from './face-model-worker.js';
import { OnnxFaceModel } from './onnx-face-model.js';

export type Box = [number, number, number, number];

/** The engines the model's forward runs on; the photo pipeline around it is the same. */
export const BACKENDS = ['onnx', 'libtorch'] as const;
export type Backend = (typeof BACKENDS)[number];

/** Where a face is in a photo: what detection gives, or what an earlier run recorded (`catface embed --faces`). */
export interface FaceLocation {
  /** [x, y, width, height] in photo pixels (after EXIF rotation). */
  box: Box;
  /** Left eye, right eye, nose tip, left and right mouth corner (image left/right), in photo pixels. */
  landmarks: Point[];
  /** Detection confidence in [0, 1]. */
  score: number;
}

export interface RecognizedFace extends FaceLocation, FaceAnalysis {}

export interface PhotoAnalysis {
  /** Upright photo size in pixels. */
  width: number;
  height: number;
  /** The largest face (default) or every face (`allFaces`), largest first; empty when none was found. */
  faces: RecognizedFace[];
}

export interface PhotoVerification extends Verification {
  /** The face compared in each photo. */
  faces: [RecognizedFace, RecognizedFace];
}

/** A photo: a file path or its encoded bytes (JPEG, PNG, WebP, TIFF, …). */
export type Photo = string | Uint8Array;

export interface AnalyzeOptions {
  /** Every face instead of the largest one. */
  allFaces?: boolean;
  /** Use these faces instead of detecting (e.g. a degraded copy reusing the clean photo's faces). */
  faces?: readonly FaceLocation[];
  /** Name used in error messages for byte inputs (default 'photo'). */
  source?: string;
}

export interface RecognizerOptions {
  /** Run the model on a worker thread (FaceModelWorker) so its forward passes never block the event loop. */
  worker?: boolean;
  /** Lowest detection score kept (default 0.3). */
  minScore?: number;
  /** Most faces detected per photo (default 20). */
  maxFaces?: number;
  /**
   * Face detector: 'onnx' (default; BlazeFace + FaceMesh on onnxruntime), 'libtorch' (the same on catface's
   * engine) or 'human' (the same on tfjs-wasm).
   */
  detector?: DetectorKind;
  /** The model's engine: 'onnx' (default; onnxruntime-node on the model's exported graph) or 'libtorch' (FaceModel). */
  backend?: Backend;
  /** Detection runs on a copy whose longer side is at most this (default 640). */
  detectionSide?: number;
  /** Photos declaring more pixels than this are refused before decoding (default 50 M). */
  maxPixels?: number;
  /** Which embedding to return (default: the model's). */
  kind?: EmbeddingKind;
  /**
   * Intra-op threads of the model and the detector (libtorch's are process-wide, and the worker's; onnxruntime's
   * per session). Unset: as it is ($CATFACE_THREADS or every core). One photo at a time, 1 is the fastest on a small or shared machine: the forward is ~10 ms
   * and a second thread that must wait for a busy core costs far more than it saves.
   */
  threads?: number;
}

/** What the pipeline reads of a model's description. */
export type ModelFacts = Pick<ModelSpec, 'attributes' | 'verifyThreshold'>;

/** The model as the pipeline uses it: FaceModel in this process, FaceModelWorker on a worker thread. */
export interface CropModel {
  /** The model directory's description (FaceModel, FaceModelWorker: the whole model.json). */
  readonly spec: ModelFacts;
  readonly alignment: FaceAlignment;
  analyzeCrops(crops: Uint8Array[], kind?: EmbeddingKind): Promise<FaceAnalysis[]>;
}

const area = (f: FaceLocation) => f.box[2] * f.box[3];

const detectorOptions = (options: RecognizerOptions) => ({
  minScore: options.minScore,
  maxFaces: options.maxFaces ?? 20,
  maxSide: options.detectionSide ?? 640,
});

/** A face's aligned crop as the model declares it. */
export function alignForModel(image: RgbImage, landmarks: readonly Point[], alignment: FaceAlignment): Uint8Array {
  return alignFace(image.data, image.width, image.height, landmarks, alignment).pixels;
}

function checkLocation(face: FaceLocation, source: string): void {
  const finite = (xs: readonly number[]) => xs.every((x) => Number.isFinite(x));
  if (!Array.isArray(face.box) || face.box.length !== 4 || !finite(face.box))
    throw new DataError(source, `given face box must be [x, y, width, height], got ${JSON.stringify(face.box)}`);
  if (
    !Array.isArray(face.landmarks) ||
    face.landmarks.length !== 5 ||
    !face.landmarks.every((p) => Array.isArray(p) && p.length === 2 && finite(p))
  )
    throw new DataError(source, `given face landmarks must be 5 [x, y] points, got ${JSON.stringify(face.landmarks)}`);
}

export class FaceRecognizer {
  private constructor(
    private readonly detector: Detector,
    private readonly model: CropModel,
    private readonly close_: () => Promise<void>,
    private readonly options: RecognizerOptions,
  ) {}

  /**
   * Loads the detector and a model directory (default: the model shipped in `<catface>/models/default`). With
   * `worker`, detection and the model each run on a worker thread.
   */
  static async open(modelDir?: string, options: RecognizerOptions = {}): Promise<FaceRecognizer> {
    const dir = resolveModelDir(modelDir);
    if (options.threads !== undefined) {
      torch.setNumThreads(options.threads);
      process.env.CATFACE_THREADS = String(options.threads); // read by the addon when the model's worker loads it
    }
    const backend = options.backend ?? 'onnx';
    if (!BACKENDS.includes(backend)) throw new RangeError(`unknown model backend '${backend}' (expected ${BACKENDS.join(' or ')})`);
    if (options.worker) {
      const [worker, detector] = await Promise.all([
        FaceModelWorker.open(dir, { backend, threads: options.threads }),
        FaceDetectorThread.create(detectorOptions(options), options.detector, options.threads),
      ]);
      return new FaceRecognizer(detector, worker, async () => void (await Promise.all([worker.close(), detector.close()])), options);
    }
    if (backend === 'onnx') {
      const model = await OnnxFaceModel.open(dir, { threads: options.threads });
      return FaceRecognizer.withModel(model, options, () => model.close());
    }
    const model = FaceModel.load(dir);
    return FaceRecognizer.withModel(model, options, async () => model.dispose());
  }

  /** The pipeline around an already loaded model (a FaceModel, a FaceModelWorker or any `CropModel`). */
  static async withModel(
    model: CropModel,
    options: RecognizerOptions = {},
    close: () => Promise<void> = async () => {},
  ): Promise<FaceRecognizer> {
    const detector = await createDetector(options.detector ?? 'onnx', detectorOptions(options), options.threads);
    const closeBoth = async () => {
      if ('dispose' in detector) await detector.dispose();
      await close();
    };
    return new FaceRecognizer(detector, model, closeBoth, options);
  }

  get spec(): ModelFacts {
    return this.model.spec;
  }

  /** The model's verification threshold (cosine similarity), or null when it ships none. */
  get threshold(): number | null {
    return this.model.spec.verifyThreshold;
  }

  /** Decodes a photo and finds its faces (or takes the given ones), largest first. */
  private async locate(photo: Photo, options: AnalyzeOptions): Promise<{ image: RgbImage; faces: FaceLocation[] }> {
    const source = typeof photo === 'string' ? photo : (options.source ?? 'photo');
    const decoded = await decodePhoto(await readPhoto(photo, source), source, {
      detectionSide: options.faces ? Number.POSITIVE_INFINITY : this.detector.maxSide,
      maxPixels: this.options.maxPixels ?? DEFAULT_MAX_PIXELS,
    });
    let faces: FaceLocation[];
    if (options.faces) {
      for (const f of options.faces) checkLocation(f, source);
      faces = [...options.faces];
    } else {
      faces = await detectFaces(this.detector, decoded);
    }
    faces.sort((a, b) => area(b) - area(a));
    return { image: decoded.full, faces: options.allFaces ? faces : faces.slice(0, 1) };
  }

  /** Faces (box, landmarks, score) in a photo, largest first, without running the model. */
  async detect(
    photo: Photo,
    options: Pick<AnalyzeOptions, 'allFaces' | 'source'> = {},
  ): Promise<{ width: number; height: number; faces: FaceLocation[] }> {
    const { image, faces } = await this.locate(photo, options);
    return { width: image.width, height: image.height, faces };
  }

  /** Decode → detect (or the given faces) → align → model, for one photo. */
  async analyze(photo: Photo, options: AnalyzeOptions = {}): Promise<PhotoAnalysis> {
    const { image, faces } = await this.locate(photo, options);
    if (faces.length === 0) return { width: image.width, height: image.height, faces: [] };
    const crops = faces.map((f) => alignForModel(image, f.landmarks, this.model.alignment));
    const analyses = await this.model.analyzeCrops(crops, this.options.kind);
    return {
      width: image.width,
      height: image.height,
      faces: faces.map((f, i) => ({ box: f.box, landmarks: f.landmarks, score: f.score, ...analyses[i] })),
    };
  }

  /** Whether the largest faces of two photos show the same person, at the model's threshold (or the given one). */
  async verify(a: Photo, b: Photo, options: { threshold?: number } = {}): Promise<PhotoVerification> {
    const [ra, rb] = await Promise.all(
      [a, b].map(async (photo, i) => {
        const source = typeof photo === 'string' ? photo : `photo ${i + 1}`;
        const result = await this.analyze(photo, { source });
        if (result.faces.length === 0) throw new DataError(source, 'no face found');
        return result.faces[0];
      }),
    );
    return { ...verification(ra.embedding, rb.embedding, options.threshold ?? this.threshold), faces: [ra, rb] };
  }

  /** Frees the model and the detector (or stops their worker threads). */
  close(): Promise<void> {
    return this.close_();
  }
}

async function readPhoto(photo: Photo, source: string): Promise<Uint8Array> {
  if (typeof photo !== 'string') return photo;
  try {
    return await readFile(photo);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'file not found'
        : code === 'EISDIR'
          ? 'is a folder, not a photo'
          : `cannot read (${code ?? (error as Error).message})`;
    throw new DataError(source, why);
  }
}
