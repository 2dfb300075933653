// A collective in flight. It is enqueued when issued (every rank issues collectives in the same order); `wait()`
// settles from libuv's pool without blocking the event loop; `waitSync()` blocks, for synchronous code. A Work
// is thenable, so `await allReduce(t)` waits for it.
import { dist, type NativeRef } from './native.js';

export class Work implements PromiseLike<undefined> {
  private settled: Promise<undefined> | null = null;
  private finished = false;

  constructor(
    private readonly ref: NativeRef,
    /** Runs once after the collective completed (e.g. the division of an emulated average). */
    private readonly finish: () => void = () => undefined,
  ) {}

  isCompleted(): boolean {
    return dist.workDone(this.ref);
  }

  wait(): Promise<undefined> {
    this.settled ??= dist.workWait(this.ref).then(() => {
      this.complete();
      return undefined;
    });
    return this.settled;
  }

  waitSync(): void {
    dist.workWaitSync(this.ref);
    this.complete();
  }

  // biome-ignore lint/suspicious/noThenProperty: a Work is awaited like the promise of its completion
  then<A = void, B = never>(
    onFulfilled?: ((value: undefined) => A | PromiseLike<A>) | null,
    onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): Promise<A | B> {
    return this.wait().then(onFulfilled, onRejected);
  }

  private complete(): void {
    if (this.finished) return;
    this.finished = true;
    this.finish();
  }
}
