// A fixed-size pool of worker threads answering `{ id, … }` requests with `{ id, … }` replies. A worker that
// dies (an uncaught error, a wasm abort, process.exit) rejects only its own pending requests and is replaced by
// a fresh one, so later requests still settle and nothing waits forever on a reply that cannot come.
import { Worker } from 'node:worker_threads';

interface Pending<Reply> {
  resolve(reply: Reply): void;
  reject(error: Error): void;
  slot: number;
}

/** Why a request was not answered: its worker died. */
export class WorkerDiedError extends Error {}

export class WorkerPool<Request extends object, Reply extends { id: number }> {
  private readonly workers: Worker[] = [];
  private readonly load: number[] = [];
  private readonly pending = new Map<number, Pending<Reply>>();
  private nextId = 0;
  // Workers stay unref'd so an idle pool never holds the process open; while requests are in flight this
  // timer keeps the event loop alive (a worker's ref() proved unreliable for that).
  private keepAlive: ReturnType<typeof setInterval> | undefined;

  constructor(
    private readonly script: URL,
    readonly size: number,
  ) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`WorkerPool: size must be a positive integer, got ${size}`);
    for (let slot = 0; slot < size; slot++) {
      this.workers.push(this.spawn(slot));
      this.load.push(0);
    }
  }

  private spawn(slot: number): Worker {
    const worker = new Worker(this.script);
    let failure: Error | undefined;
    worker.on('message', (reply: Reply) => this.settle(reply));
    worker.on('error', (error) => {
      failure = error;
    });
    worker.on('exit', (code) => {
      if (this.workers[slot] !== worker) return; // terminated by close()
      this.failSlot(slot, failure?.message ?? `exit code ${code}`);
      this.workers[slot] = this.spawn(slot);
    });
    worker.unref();
    return worker;
  }

  /** Sends `request` (given a fresh `id`) to the least busy worker; resolves with its reply. */
  run(request: Request): Promise<Reply> {
    if (this.workers.length === 0) return Promise.reject(new Error('WorkerPool: closed'));
    const slot = this.load.indexOf(Math.min(...this.load));
    const id = this.nextId++;
    this.load[slot]++;
    this.keepAlive ??= setInterval(() => undefined, 1 << 30);
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, slot });
      this.workers[slot].postMessage({ ...request, id });
    });
  }

  private settle(reply: Reply): void {
    const entry = this.pending.get(reply.id);
    if (!entry) return;
    this.pending.delete(reply.id);
    this.load[entry.slot]--;
    this.releaseIfIdle();
    entry.resolve(reply);
  }

  private failSlot(slot: number, reason: string): void {
    for (const [id, entry] of this.pending) {
      if (entry.slot !== slot) continue;
      this.pending.delete(id);
      entry.reject(new WorkerDiedError(`worker died (${reason})`));
    }
    this.load[slot] = 0;
    this.releaseIfIdle();
  }

  private releaseIfIdle(): void {
    if (this.pending.size > 0 || !this.keepAlive) return;
    clearInterval(this.keepAlive);
    this.keepAlive = undefined;
  }

  async close(): Promise<void> {
    const workers = this.workers.splice(0); // emptied first, so their exits are not taken for deaths
    const hold = setInterval(() => undefined, 1 << 30); // unref'd workers' exits do not keep the loop alive
    try {
      await Promise.all(workers.map((w) => w.terminate()));
    } finally {
      clearInterval(hold);
    }
    this.pending.clear();
    if (this.keepAlive) clearInterval(this.keepAlive);
    this.keepAlive = undefined;
  }
}
