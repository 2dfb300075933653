// FaceModel on a worker thread, for servers: every call is a message to a thread that owns the model, so the
// forward passes never block the event loop. Requests are answered in order; errors in the worker reject the
// call with its message. The addon keeps its state per JS environment, so the worker loads its own copy. The
// forward runs on libtorch (FaceModel) or onnxruntime (OnnxFaceModel), as `open` is told.
import { fileURLToPath } from 'node:url';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { type FaceAlignment, type ModelSpec, modelAlignment } from '../models/model-dir.js';
import type { EmbeddingKind, FaceAnalysis, FaceImage, Verification } from './face-model.js';
import { FaceModel, readFaceImages, verification } from './face-model.js';
import type { Backend } from './face-recognizer.js';

type Call =
  | { method: 'analyze'; images: FaceImage[]; kind?: EmbeddingKind }
  | { method: 'analyzeCrops'; crops: Uint8Array[]; kind?: EmbeddingKind }
  | { method: 'spec' }
  | { method: 'close' };
type Request = Call & { id: number };
type Reply = { id: number; result: unknown } | { id: number; error: string };

/** Marks the worker threads this module starts (a user's own Worker running this file is left alone). */
const WORKER_TAG = 'catface-model-worker';

export interface WorkerModelOptions {
  /** The forward's engine (default 'libtorch'). */
  backend?: Backend;
  /** onnxruntime's intra-op threads (libtorch's come from $CATFACE_THREADS, read when the worker loads the addon). */
  threads?: number;
}

/** What the worker holds: FaceModel, or OnnxFaceModel with aligned images decoded as FaceModel decodes them. */
interface WorkerModel {
  spec: ModelSpec;
  analyze(images: FaceImage[], kind?: EmbeddingKind): Promise<FaceAnalysis[]>;
  analyzeCrops(crops: Uint8Array[], kind?: EmbeddingKind): Promise<FaceAnalysis[]>;
  close(): void | Promise<void>;
}

async function loadWorkerModel(dir: string, options: WorkerModelOptions): Promise<WorkerModel> {
  if ((options.backend ?? 'libtorch') === 'libtorch') {
    const model = FaceModel.load(dir);
    return {
      spec: model.spec,
      analyze: (images, kind) => model.analyze(images, kind),
      analyzeCrops: (crops, kind) => model.analyzeCrops(crops, kind),
      close: () => model.dispose(),
    };
  }
  const { OnnxFaceModel } = await import('./onnx-face-model.js');
  const model = await OnnxFaceModel.open(dir, { threads: options.threads });
  return {
    spec: model.spec,
    analyze: async (images, kind) => model.analyzeCrops(await readFaceImages(images, model.imageSize), kind),
    analyzeCrops: (crops, kind) => model.analyzeCrops(crops, kind),
    close: () => model.close(),
  };
}

/** The same API as FaceModel, answered by a worker thread. Call `close()` when done. */
export class FaceModelWorker {
  private readonly worker: Worker;
  private readonly pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  private readonly exited: Promise<void>;
  private nextId = 0;
  private specCache: ModelSpec | null = null;

  private constructor(dir: string, options: WorkerModelOptions) {
    this.worker = new Worker(fileURLToPath(import.meta.url), { workerData: { tag: WORKER_TAG, dir, ...options } });
    this.worker.on('message', (reply: Reply) => {
      const entry = this.pending.get(reply.id);
      if (!entry) return;
      this.pending.delete(reply.id);
      if ('error' in reply) entry.reject(new Error(reply.error));
      else entry.resolve(reply.result);
    });
    this.worker.on('error', (err) => this.failAll(err));
    this.exited = new Promise((resolve) =>
      this.worker.once('exit', (code) => {
        this.failAll(new Error(`FaceModelWorker: the model thread exited (code ${code})`));
        resolve();
      }),
    );
  }

  /** Starts a worker and loads the model directory in it (rejects with the loader's error). */
  static async open(dir: string, options: WorkerModelOptions = {}): Promise<FaceModelWorker> {
    const worker = new FaceModelWorker(dir, options);
    try {
      worker.specCache = (await worker.call({ method: 'spec' })) as ModelSpec;
    } catch (err) {
      await worker.close();
      throw err;
    }
    return worker;
  }

  get spec(): ModelSpec {
    return this.specCache as ModelSpec;
  }

  get alignment(): FaceAlignment {
    return modelAlignment(this.spec);
  }

  private call(request: Call): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ ...request, id });
    });
  }

  private failAll(err: Error): void {
    for (const entry of this.pending.values()) entry.reject(err);
    this.pending.clear();
  }

  analyze(images: FaceImage[], kind?: EmbeddingKind): Promise<FaceAnalysis[]> {
    return this.call({ method: 'analyze', images, kind }) as Promise<FaceAnalysis[]>;
  }

  /** FaceModel.analyzeCrops in the worker: aligned H×W×3 uint8 RGB crops at the model's input size. */
  analyzeCrops(crops: Uint8Array[], kind?: EmbeddingKind): Promise<FaceAnalysis[]> {
    return this.call({ method: 'analyzeCrops', crops, kind }) as Promise<FaceAnalysis[]>;
  }

  async embed(images: FaceImage[], kind?: EmbeddingKind): Promise<Float32Array[]> {
    return (await this.analyze(images, kind)).map((r) => r.embedding);
  }

  async attributes(images: FaceImage[]): Promise<Record<string, number>[]> {
    return (await this.analyze(images, 'fr')).map((r) => r.attributes);
  }

  async quality(images: FaceImage[]): Promise<number[]> {
    return (await this.analyze(images, 'fr')).map((r) => r.quality);
  }

  async verify(a: FaceImage, b: FaceImage, options: { threshold?: number; kind?: EmbeddingKind } = {}): Promise<Verification> {
    const [ea, eb] = await this.embed([a, b], options.kind);
    return verification(ea, eb, options.threshold ?? this.spec.verifyThreshold);
  }

  /** Answers the requests already sent, frees the model and ends the thread. */
  async close(): Promise<void> {
    this.call({ method: 'close' }).catch(() => {}); // the exit handler rejects it if the thread is already gone
    await this.exited;
  }
}

// Worker side: load the model once, then answer requests one at a time; `close` frees the model and lets the
// thread end (its event loop has nothing left once the port is closed).
if (!isMainThread && (workerData as { tag?: string } | null)?.tag === WORKER_TAG && parentPort) {
  const port = parentPort;
  let model: WorkerModel | null = null;
  let loadError: string | null = null;
  const { dir, ...options } = workerData as { dir: string } & WorkerModelOptions;
  let queue = loadWorkerModel(dir, options).then(
    (loaded) => {
      model = loaded;
    },
    (err: Error) => {
      loadError = err.message;
    },
  );
  port.on('message', (request: Request) => {
    queue = queue.then(async () => {
      try {
        if (request.method === 'close') {
          await model?.close();
          model = null;
          port.close();
          return;
        }
        if (!model) throw new Error(loadError ?? 'model not loaded');
        if (request.method === 'spec') {
          port.postMessage({ id: request.id, result: model.spec } satisfies Reply);
          return;
        }
        const result =
          request.method === 'analyze'
            ? await model.analyze(request.images, request.kind)
            : await model.analyzeCrops(request.crops, request.kind);
        port.postMessage({ id: request.id, result } satisfies Reply);
      } catch (err) {
        port.postMessage({ id: request.id, error: (err as Error).message } satisfies Reply);
      }
    });
  });
}
