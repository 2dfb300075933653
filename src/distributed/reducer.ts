// Gradient averaging overlapped with backward: libtorch's c10d::Reducer, the engine under PyTorch's
// DistributedDataParallel (native/dist-reducer.cc). Armed with `prepare(loss)`, it hooks each parameter's
// gradient accumulator, so the next `loss.backward()` all-reduces each bucket as soon as its gradients are in
// (while autograd still computes the rest) and returns with every parameter's .grad replaced by its mean over
// ranks. Buckets as DDP: reverse parameter order, the first ≤ 1 MiB, the rest ≤ bucketBytes, rebuilt once after
// the first step in the order gradients arrived.
import type { Tensor } from '../torch/index.js';
import { dist, type NativeRef } from './native.js';
import type { ProcessGroup } from './process-group.js';

export interface GradientReducerOptions {
  /** The size cap of every bucket but the first (PyTorch DDP: 25 MiB). */
  bucketBytes: number;
  /**
   * Search each backward's graph for parameters it leaves without a gradient (DDP's find_unused_parameters),
   * which costs a graph walk and one more small all-reduce per step. Without it, `prepare` declines a backward
   * that would leave some parameter without a gradient on some rank.
   */
  findUnused?: boolean;
}

export class GradientReducer {
  private ref: NativeRef | null;
  readonly findUnused: boolean;

  /** A collective: every rank creates its reducers in the same order, over parameters of the same shapes. */
  constructor(
    group: ProcessGroup,
    readonly params: readonly Tensor[],
    options: GradientReducerOptions,
  ) {
    this.findUnused = options.findUnused ?? false;
    this.ref = dist.reducerNew(group.native('GradientReducer'), [...params], options.bucketBytes, this.findUnused);
  }

  /**
   * Arms the reducer for `loss.backward()` (call it right before, on every rank). False (on every rank alike)
   * when the reducer has no findUnused and some parameter would get no gradient on some rank: then nothing is
   * armed, and that backward's gradients must be averaged another way.
   */
  prepare(loss: Tensor): boolean {
    return dist.reducerPrepare(this.native('prepare'), loss);
  }

  /** Each bucket's size in bytes, in the order they are all-reduced. */
  bucketBytes(): number[] {
    return dist.reducerBuckets(this.native('bucketBytes'));
  }

  /** Removes the hooks and frees the buckets now. */
  dispose(): void {
    if (this.ref) dist.reducerDispose(this.ref);
    this.ref = null;
  }

  private native(what: string): NativeRef {
    if (!this.ref) throw new Error(`GradientReducer.${what}: the reducer was disposed`);
    return this.ref;
  }
}
