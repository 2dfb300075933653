// The service's inference off the event loop: a few recognizer workers (recognizer-worker.ts) fed from one
// bounded queue. A job beyond the queue's capacity is refused at once (Overloaded → 429) instead of piling
// up; `close()` stops taking jobs, lets the queued and running ones finish, then stops the workers. A worker
// that dies fails its job (500) and is replaced.
import type { ModelFacts, PhotoAnalysis } from './face-recognizer.js';
import type { ModelIdentity } from './gallery-store.js';
import {
  type FailureKind,
  type Job,
  RECOGNIZER_WORKER_ENTRY,
  type WorkerMessage,
  type WorkerSettings,
  workerArgs,
} from './recognizer-worker.js';
import { spawnWorker, type WorkerPort } from './worker-port.js';

/** A failed job, with the HTTP status and code it maps to. */
export class InferenceError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const STATUS: Record<FailureKind, number> = { bad_image: 400, too_many_pixels: 413, no_face: 422, internal: 500 };

export interface PoolOptions extends WorkerSettings {
  /** Worker count (default 1: libtorch already uses every core for one forward pass). */
  workers?: number;
  /** Jobs waiting beyond the running ones before new ones are refused (default 32). */
  maxQueue?: number;
}

interface Pending {
  job: Job;
  resolve(result: PhotoAnalysis): void;
  reject(err: Error): void;
}

interface Slot {
  port: WorkerPort;
  busy: Pending | null;
  ready: boolean;
}

export class InferencePool {
  private readonly slots: Slot[] = [];
  private readonly waiting: Pending[] = [];
  private closing = false;
  private drained: (() => void) | null = null;
  private nextId = 0;
  private specValue: ModelFacts | null = null;
  private fingerprint: string | null = null;
  private readonly maxQueue: number;

  private constructor(private readonly options: PoolOptions) {
    this.maxQueue = options.maxQueue ?? 32;
  }

  /** Starts the workers; resolves once the first one has loaded the model (rejects with its error). */
  static async start(options: PoolOptions): Promise<InferencePool> {
    const pool = new InferencePool(options);
    const readies = Array.from({ length: Math.max(1, options.workers ?? 1) }, () => pool.spawn());
    try {
      await Promise.any(readies);
    } catch (err) {
      await pool.close();
      throw (err as AggregateError).errors?.[0] ?? err;
    }
    return pool;
  }

  private spawn(): Promise<void> {
    const port = spawnWorker(RECOGNIZER_WORKER_ENTRY, workerArgs(this.options));
    const slot: Slot = { port, busy: null, ready: false };
    this.slots.push(slot);
    return new Promise((resolve, reject) => {
      port.onMessage((raw) => {
        const message = raw as WorkerMessage;
        if (message.type === 'ready') {
          this.specValue = message.spec;
          this.fingerprint = message.fingerprint;
          slot.ready = true;
          resolve();
          this.dispatch();
        } else if (message.type === 'failed') {
          reject(new Error(message.error));
        } else {
          const pending = slot.busy;
          slot.busy = null;
          if (pending) {
            if (message.type === 'done') pending.resolve(message.result);
            else pending.reject(new InferenceError(STATUS[message.kind], message.kind, message.error));
          }
          this.dispatch();
        }
      });
      port.onExit((why) => {
        const index = this.slots.indexOf(slot);
        if (index >= 0) this.slots.splice(index, 1);
        const error = new InferenceError(500, 'worker_exited', `the inference worker exited (${why})`);
        slot.busy?.reject(error);
        slot.busy = null;
        reject(error);
        if (slot.ready && !this.closing) this.spawn().catch(() => {});
        this.dispatch();
      });
    });
  }

  get ready(): boolean {
    return !this.closing && this.slots.some((s) => s.ready);
  }

  get spec(): ModelFacts {
    if (!this.specValue) throw new Error('InferencePool: no worker is ready');
    return this.specValue;
  }

  /** The running model as galleries record it (the dimension is that of its embeddings). */
  modelIdentity(embedding: Float32Array): ModelIdentity {
    return { fingerprint: this.fingerprint as string, dim: embedding.length };
  }

  /** Jobs waiting plus jobs running. */
  get queueDepth(): number {
    return this.waiting.length + this.slots.filter((s) => s.busy).length;
  }

  get workers(): number {
    return this.slots.filter((s) => s.ready).length;
  }

  /** Decode → detect → align → model for one photo, in a worker (429 when the queue is full). */
  analyze(photo: Uint8Array, allFaces = false): Promise<PhotoAnalysis> {
    const job: Job = { photo, allFaces };
    if (this.closing) return Promise.reject(new InferenceError(503, 'shutting_down', 'the service is shutting down'));
    if (this.waiting.length >= this.maxQueue)
      return Promise.reject(
        new InferenceError(429, 'overloaded', `${this.waiting.length} requests are already waiting for the model; retry later`),
      );
    return new Promise((resolve, reject) => {
      this.waiting.push({ job, resolve, reject });
      this.dispatch();
    });
  }

  private dispatch(): void {
    for (const slot of this.slots) {
      if (this.waiting.length === 0) break;
      if (!slot.ready || slot.busy) continue;
      const pending = this.waiting.shift() as Pending;
      slot.busy = pending;
      slot.port.send({ id: this.nextId++, job: pending.job });
    }
    if (this.closing && this.queueDepth === 0) this.drained?.();
  }

  /** Stops taking jobs, finishes the queued and running ones, then stops the workers. */
  async close(): Promise<void> {
    this.closing = true;
    if (this.queueDepth > 0 && this.slots.length > 0) await new Promise<void>((resolve) => (this.drained = resolve));
    for (const p of this.waiting.splice(0)) p.reject(new InferenceError(503, 'shutting_down', 'the service is shutting down'));
    await Promise.all(this.slots.map((s) => s.port.kill()));
  }
}
