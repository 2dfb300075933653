// Data-parallel training over a c10d process group, as PyTorch's DistributedDataParallel does it: every rank
// starts from rank 0's parameters and buffers, computes gradients on its shard of the batch, and the gradients
// are averaged across ranks in buckets before each optimiser step, so every rank applies the same update.
// `backward` (overlap, the default) hands the averaging to libtorch's own DDP reducer (GradientReducer), whose
// autograd hooks all-reduce each bucket while backward computes the rest; `averageGradients` is the plain way,
// after backward (all buckets issued at once, so Gloo pipelines them), used when overlap is off and for a step
// that leaves some parameter without a gradient (the reducer is then remade to search for such parameters).
import { GradientReducer, type ProcessGroup } from '../distributed/index.js';
import type { ClassParallelCollectives } from '../losses/partial-fc.js';
import type { Module } from '../nn/module.js';
import type { Tensor } from '../torch/index.js';
import * as torch from '../torch/index.js';

/** PyTorch DDP's default bucket size. */
export const DEFAULT_BUCKET_MB = 25;

export interface DataParallelOptions {
  /** Bucket size cap in bytes (default DEFAULT_BUCKET_MB MiB). */
  bucketBytes?: number;
  /** All-reduce buckets during backward (default true); false averages after backward. */
  overlap?: boolean;
}

export class DataParallel implements ClassParallelCollectives {
  readonly rank: number;
  readonly worldSize: number;
  readonly overlap: boolean;
  private readonly bucketBytes: number;
  private reducer: GradientReducer | null = null;

  constructor(
    private readonly group: ProcessGroup,
    options: DataParallelOptions = {},
  ) {
    this.rank = group.rank;
    this.worldSize = group.size;
    this.bucketBytes = options.bucketBytes ?? DEFAULT_BUCKET_MB * 2 ** 20;
    this.overlap = options.overlap ?? true;
  }

  /**
   * `loss.backward()`, leaving each gradient of `params` (only these: e.g. not Partial FC's class-centre slices,
   * which are this rank's own) averaged over ranks; every rank calls it with the same parameters.
   */
  backward(loss: Tensor, params: Tensor[]): void {
    const reducer = this.overlap ? this.reducerFor(params) : null;
    if (reducer?.prepare(loss)) {
      loss.backward();
    } else {
      loss.backward();
      this.averageGradients(params);
      // some parameter got no gradient (prepare declined): from now on the reducer searches for such parameters
      if (reducer) this.remakeReducer(params, true);
    }
  }

  /** Whether the reducer searches each backward for parameters without a gradient (after such a step). */
  get findsUnusedParameters(): boolean {
    return this.reducer?.findUnused ?? false;
  }

  /** The overlapping reducer's buckets in bytes, in reduction order (empty before the first overlapped step). */
  bucketSizes(): number[] {
    return this.reducer?.bucketBytes() ?? [];
  }

  /** Frees the reducer (its hooks and buckets); a later `backward` makes a new one. */
  dispose(): void {
    this.reducer?.dispose();
    this.reducer = null;
  }

  /** Copies rank 0's parameters and buffers into every rank's modules (in place), but not `own` (each rank's own slices). */
  async broadcastState(modules: Module, own: ReadonlySet<Tensor> = new Set()): Promise<void> {
    const shared = [...modules.stateDict().values()].filter((t) => !own.has(t));
    const works = shared.map((t) => this.group.broadcast(t, 0));
    await Promise.all(works.map((w) => w.wait()));
  }

  /** Replaces each gradient of `params` by its mean over ranks (blocks until done; call between backward and step). */
  averageGradients(params: Tensor[]): void {
    torch.tidy(() => {
      const grads = params.map((p) => p.grad).filter((g): g is Tensor => g !== null);
      const pending = this.buckets(grads).map((bucket) => {
        const flat = torch.cat(bucket.map((g) => g.reshape([-1])));
        return { bucket, flat, work: this.group.allReduce(flat, 'sum') };
      });
      for (const { bucket, flat, work } of pending) {
        work.waitSync();
        flat.div_(this.worldSize);
        let offset = 0;
        for (const g of bucket) {
          g.copy_(flat.narrow(0, offset, g.numel()).view(g.shape));
          offset += g.numel();
        }
      }
    });
  }

  /** The mean over ranks of each number (e.g. the step's losses, so every rank logs and checks the global batch's). */
  averageNumbers(values: Record<string, number>): Record<string, number> {
    const keys = Object.keys(values);
    return torch.tidy(() => {
      const t = torch.tensor(
        keys.map((k) => values[k]),
        { dtype: 'float64' },
      );
      this.group.allReduce(t, 'sum').waitSync();
      const mean = t.div(this.worldSize).toArray() as number[];
      return Object.fromEntries(keys.map((k, i) => [k, mean[i]]));
    });
  }

  /** Sums a tensor over ranks in place, synchronously (batch statistics inside a forward pass). */
  readonly sumInPlace = (t: Tensor): void => {
    this.group.allReduce(t, 'sum').waitSync();
  };

  readonly maxInPlace = (t: Tensor): void => {
    this.group.allReduce(t, 'max').waitSync();
  };

  /** Every rank's rows of `t` concatenated in rank order, synchronously (Partial FC's gathered batch). */
  gatherRows(t: Tensor): Tensor {
    return torch.tidy(() => {
      const parts = Array.from({ length: this.worldSize }, () => torch.zerosLike(t));
      this.group.allGather(parts, t).waitSync();
      return torch.cat(parts);
    });
  }

  /** Every rank's JSON value, in rank order, on every rank. */
  async gatherJson(value: unknown): Promise<unknown[]> {
    const bytes = Buffer.from(JSON.stringify(value));
    const ranks = Array.from({ length: this.worldSize }, (_, r) => r);
    const made: Tensor[] = [];
    const make = (t: Tensor) => {
      made.push(t);
      return t;
    };
    try {
      // lengths first: allGather needs one shape on every rank
      const lengths = ranks.map(() => make(torch.zeros([1], { dtype: 'int64' })));
      await this.group.allGather(lengths, make(torch.tensor([bytes.length], { dtype: 'int64' })));
      const sizes = lengths.map((l) => Number(l.item()));
      const padded = new Uint8Array(Math.max(...sizes));
      padded.set(bytes);
      const outputs = ranks.map(() => make(torch.zeros([padded.length], { dtype: 'uint8' })));
      await this.group.allGather(outputs, make(torch.fromTypedArray(padded)));
      return outputs.map((o, r) =>
        JSON.parse(
          Buffer.from(o.dataSync() as Uint8Array)
            .subarray(0, sizes[r])
            .toString(),
        ),
      );
    } finally {
      torch.dispose(made);
    }
  }

  async barrier(): Promise<void> {
    await this.group.barrier();
  }

  /** The reducer over exactly `params` (made anew when the list changes, e.g. at the stage change). */
  private reducerFor(params: Tensor[]): GradientReducer {
    const same = this.reducer && this.reducer.params.length === params.length && this.reducer.params.every((p, i) => p === params[i]);
    return same ? (this.reducer as GradientReducer) : this.remakeReducer(params, false);
  }

  private remakeReducer(params: Tensor[], findUnused: boolean): GradientReducer {
    this.dispose();
    this.reducer = new GradientReducer(this.group, params, { bucketBytes: this.bucketBytes, findUnused });
    return this.reducer;
  }

  private buckets(grads: Tensor[]): Tensor[][] {
    const out: Tensor[][] = [];
    let current: Tensor[] = [];
    let bytes = 0;
    for (const g of grads) {
      const size = g.numel() * 4;
      if (current.length > 0 && bytes + size > this.bucketBytes) {
        out.push(current);
        current = [];
        bytes = 0;
      }
      current.push(g);
      bytes += size;
    }
    if (current.length > 0) out.push(current);
    return out;
  }
}
