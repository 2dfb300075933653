// c10d key-value stores: where the ranks of a process group meet (TCPStore, hosted by rank 0; FileStore on a
// shared file system) and a PrefixStore view of either. They are libtorch's own classes, so a PyTorch process
// can join a catface store and the reverse.
import { dist, type NativeRef } from './native.js';

export class Store {
  private constructor(
    /** @internal the native store */
    readonly ref: NativeRef,
    readonly description: string,
  ) {}

  /**
   * A TCPStore at host:port. The server (rank 0) listens and waits for `worldSize` ranks; the clients retry
   * connecting until `timeoutMs`.
   */
  static async tcp(host: string, port: number, options: { worldSize: number; isServer: boolean; timeoutMs: number }): Promise<Store> {
    const ref = await dist.tcpStore(host, port, options.worldSize, options.isServer, options.timeoutMs);
    return new Store(ref, `tcp://${host}:${port}`);
  }

  /** A FileStore: every rank opens the same file (on a shared file system across nodes). */
  static file(path: string, worldSize: number): Store {
    return new Store(dist.fileStore(path, worldSize), `file://${path}`);
  }

  /** This store with every key under `prefix/` (what torch.distributed does for each group). */
  prefixed(prefix: string): Store {
    return new Store(dist.prefixStore(prefix, this.ref), `${this.description}/${prefix}`);
  }

  set(key: string, value: Uint8Array | string): Promise<void> {
    return dist.storeSet(this.ref, key, typeof value === 'string' ? Buffer.from(value) : value);
  }

  /** The value of `key`, waiting up to the store's timeout for another rank to set it. */
  get(key: string): Promise<Buffer> {
    return dist.storeGet(this.ref, key);
  }

  /** Adds to an integer counter (created at 0) and returns its new value. */
  add(key: string, amount: number): Promise<number> {
    return dist.storeAdd(this.ref, key, amount);
  }

  setTimeout(timeoutMs: number): void {
    dist.storeSetTimeout(this.ref, timeoutMs);
  }
}

/**
 * Waits until `worldSize` ranks have reached this point, counting on the store (torch.distributed's
 * `_store_based_barrier`, which `init_process_group` runs after creating the group).
 */
export async function storeBarrier(store: Store, key: string, worldSize: number, rank: number, timeoutMs: number): Promise<void> {
  await store.add(key, 1);
  const started = Date.now();
  for (;;) {
    const arrived = await store.add(key, 0);
    if (arrived >= worldSize) return;
    if (Date.now() - started > timeoutMs)
      throw new Error(
        `rank ${rank}: only ${arrived} of ${worldSize} ranks joined the process group within ${timeoutMs} ms (${store.description})`,
      );
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
