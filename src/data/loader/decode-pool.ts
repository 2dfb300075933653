// A pool of decode workers (or in-thread decoding when `workers` is 0) so image decoding overlaps training.
import { Worker } from 'node:worker_threads';
import sharp from 'sharp';
import { describeLocator, type ImageLocator, readImageBytes } from '../dataset.js';
import { type DecodeOptions, decodeImage } from '../decode.js';
import { DataError } from '../errors.js';
import type { DecodeReply, DecodeRequest } from './decode-worker.js';

// sharp must be loaded by the main thread before any worker loads it.
void sharp.versions;

interface Pending {
  resolve(pixels: Uint8Array): void;
  reject(error: DataError): void;
}

export class DecodePool {
  private readonly workers: Worker[] = [];
  private readonly load: number[] = [];
  private readonly pending = new Map<number, Pending & { worker: number }>();
  private nextId = 0;
  // Workers stay unref'd so an idle pool never holds the process open; while requests are in flight this
  // timer keeps the event loop alive (a worker's ref() proved unreliable for that).
  private keepAlive: ReturnType<typeof setInterval> | undefined;

  constructor(readonly size: number) {
    for (let i = 0; i < size; i++) {
      const worker = new Worker(new URL('./decode-worker.js', import.meta.url));
      worker.on('message', (reply: DecodeReply) => this.settle(reply));
      worker.on('error', (error) => this.failAll(error));
      worker.unref();
      this.workers.push(worker);
      this.load.push(0);
    }
  }

  /** Decodes one image to H×W×3 uint8 on the least busy worker. */
  decode(image: ImageLocator, options: DecodeOptions): Promise<Uint8Array> {
    if (this.size === 0) {
      return Promise.resolve()
        .then(() => readImageBytes(image))
        .then((bytes) => decodeImage(bytes, describeLocator(image), options));
    }
    const worker = this.load.indexOf(Math.min(...this.load));
    const id = this.nextId++;
    this.load[worker]++;
    this.keepAlive ??= setInterval(() => undefined, 1 << 30);
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, worker });
      this.workers[worker].postMessage({ id, image, options } satisfies DecodeRequest);
    });
  }

  private settle(reply: DecodeReply): void {
    const entry = this.pending.get(reply.id);
    if (!entry) return;
    this.pending.delete(reply.id);
    this.load[entry.worker]--;
    this.releaseIfIdle();
    if ('pixels' in reply) entry.resolve(reply.pixels);
    else entry.reject(new DataError(reply.error.file, reply.error.reason, reply.error.line));
  }

  private releaseIfIdle(): void {
    if (this.pending.size > 0 || !this.keepAlive) return;
    clearInterval(this.keepAlive);
    this.keepAlive = undefined;
  }

  private failAll(error: Error): void {
    for (const [id, entry] of this.pending) {
      entry.reject(new DataError('decode worker', `worker failed: ${error.message}`));
      this.pending.delete(id);
    }
    this.releaseIfIdle();
  }

  async close(): Promise<void> {
    const hold = setInterval(() => undefined, 1 << 30); // unref'd workers' exits do not keep the loop alive
    try {
      await Promise.all(this.workers.map((w) => w.terminate()));
    } finally {
      clearInterval(hold);
    }
    this.workers.length = 0;
    this.pending.clear();
    if (this.keepAlive) clearInterval(this.keepAlive);
    this.keepAlive = undefined;
  }
}
