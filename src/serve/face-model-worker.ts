// FaceModel in a separate process, for servers: every call is a message to a child process that owns the
// model, so the forward passes never block the event loop. Requests are answered in order; errors in the
// child reject the call with its message. A child process rather than a worker thread: the libtorch addon
// keeps process-wide state that a second JS context in the same process (a Worker) would corrupt.
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ModelSpec } from '../models/model-dir.js';
import type { EmbeddingKind, FaceAnalysis, FaceImage, Verification } from './face-model.js';
import { FaceModel, verification } from './face-model.js';

type Request = { id: number; method: 'analyze'; images: FaceImage[]; kind?: EmbeddingKind } | { id: number; method: 'spec' };
type Reply = { id: number; result: unknown } | { id: number; error: string };

const CHILD_FLAG = '--catface-model-worker';

/** The same API as FaceModel, answered by a child process. Call `close()` when done. */
export class FaceModelWorker {
  private readonly worker: ChildProcess;
  private readonly pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  private nextId = 0;
  private specCache: ModelSpec | null = null;

  private constructor(dir: string) {
    this.worker = fork(fileURLToPath(import.meta.url), [CHILD_FLAG, dir], {
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.worker.on('message', (reply: Reply) => {
      const entry = this.pending.get(reply.id);
      if (!entry) return;
      this.pending.delete(reply.id);
      if ('error' in reply) entry.reject(new Error(reply.error));
      else entry.resolve(reply.result);
    });
    this.worker.on('error', (err) => this.failAll(err));
    this.worker.on('exit', (code, signal) =>
      this.failAll(new Error(`FaceModelWorker: the model process exited (${signal ?? `code ${code}`})`)),
    );
  }

  /** Starts a worker and loads the model directory in it (rejects with the loader's error). */
  static async open(dir: string): Promise<FaceModelWorker> {
    const worker = new FaceModelWorker(dir);
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

  private call(request: { method: 'analyze'; images: FaceImage[]; kind?: EmbeddingKind } | { method: 'spec' }): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.send({ ...request, id });
    });
  }

  private failAll(err: Error): void {
    for (const entry of this.pending.values()) entry.reject(err);
    this.pending.clear();
  }

  analyze(images: FaceImage[], kind?: EmbeddingKind): Promise<FaceAnalysis[]> {
    return this.call({ method: 'analyze', images, kind }) as Promise<FaceAnalysis[]>;
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

  async close(): Promise<void> {
    if (this.worker.exitCode !== null || this.worker.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
    this.worker.kill();
    await exited;
  }
}

// Child side: load the model once, then answer requests one at a time.
if (process.argv[2] === CHILD_FLAG && process.send) {
  const send = process.send.bind(process);
  let model: FaceModel | null = null;
  let loadError: string | null = null;
  try {
    model = FaceModel.load(process.argv[3]);
  } catch (err) {
    loadError = (err as Error).message;
  }
  let queue = Promise.resolve();
  process.on('message', (request: Request) => {
    queue = queue.then(async () => {
      try {
        if (!model) throw new Error(loadError ?? 'model not loaded');
        if (request.method === 'spec') {
          send({ id: request.id, result: model.spec } satisfies Reply);
          return;
        }
        send({ id: request.id, result: await model.analyze(request.images, request.kind) } satisfies Reply);
      } catch (err) {
        send({ id: request.id, error: (err as Error).message } satisfies Reply);
      }
    });
  });
  process.on('disconnect', () => process.exit(0));
}
