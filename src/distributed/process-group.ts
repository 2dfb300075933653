// A c10d process group (Gloo on CPU; NCCL when the addon was built against a CUDA libtorch) and its
// collectives, with PyTorch's semantics: tensors are reduced, broadcast and gathered in place. What Gloo 1.13
// lacks is composed from what it has, and said where: the average (a sum, then a division) and reduce-scatter
// (an all-reduce of the stacked inputs, then this rank's slice: W× the traffic of a native reduce-scatter).
import type { Tensor } from '../torch/index.js';
import * as torch from '../torch/index.js';
import { wrapTensor } from '../torch/native.js';
import { dist, type NativeRef, type ReduceOpName } from './native.js';
import type { Store } from './store.js';
import { Work } from './work.js';

export type Backend = 'gloo' | 'nccl';
export type ReduceOp = ReduceOpName | 'avg';

export class ProcessGroup {
  private ref: NativeRef | null;
  readonly rank: number;
  readonly size: number;
  readonly backend: Backend;

  private constructor(ref: NativeRef) {
    this.ref = ref;
    const info = dist.groupInfo(ref);
    this.rank = info.rank;
    this.size = info.size;
    this.backend = info.backend as Backend;
  }

  /** Connects to every other rank through `store` (each rank calls this with its own rank). */
  static async create(backend: Backend, store: Store, rank: number, worldSize: number, timeoutMs: number): Promise<ProcessGroup> {
    if (backend === 'nccl') {
      if (!dist.ncclGroup)
        throw new Error(
          'initProcessGroup: this catface addon was built against a libtorch without CUDA, so it has no NCCL; ' +
            'rebuild it with LIBTORCH=/path/to/a/cuda/libtorch (see README, "Training on several machines"), or use backend gloo',
        );
      return new ProcessGroup(await dist.ncclGroup(store.ref, rank, worldSize, timeoutMs));
    }
    if (backend !== 'gloo') throw new RangeError(`initProcessGroup: backend must be 'gloo' or 'nccl', got '${backend}'`);
    return new ProcessGroup(await dist.glooGroup(store.ref, rank, worldSize, timeoutMs));
  }

  /** torch.distributed's post-init agreement on a sequence number (rank 0 writes it into the group's store). */
  agreeSequence(): Promise<void> {
    return dist.groupAgreeSequence(this.native('init'));
  }

  allReduce(tensor: Tensor | Tensor[], op: ReduceOp = 'sum'): Work {
    const tensors = this.inPlace('allReduce', tensor);
    if (op !== 'avg') return new Work(dist.allReduce(this.native('allReduce'), tensors, op));
    return new Work(dist.allReduce(this.native('allReduce'), tensors, 'sum'), () => {
      for (const t of tensors) t.div_(this.size);
    });
  }

  broadcast(tensor: Tensor | Tensor[], src = 0): Work {
    if (!Number.isInteger(src) || src < 0 || src >= this.size)
      throw new RangeError(`broadcast: src must be a rank in 0…${this.size - 1}, got ${src}`);
    return new Work(dist.broadcast(this.native('broadcast'), this.inPlace('broadcast', tensor), src));
  }

  /** Fills `outputs[r]` with rank r's `input` (torch.distributed.all_gather). */
  allGather(outputs: Tensor[], input: Tensor): Work {
    this.checkPerRank('allGather', outputs, input);
    this.inPlace('allGather', outputs);
    return new Work(dist.allGather(this.native('allGather'), outputs, input));
  }

  /** `output` = the reduction over ranks of their `inputs[rank]` (torch.distributed.reduce_scatter); emulated. */
  reduceScatter(output: Tensor, inputs: Tensor[], op: ReduceOp = 'sum'): Work {
    this.checkPerRank('reduceScatter', inputs, output);
    const stacked = torch.keep(torch.stack(inputs));
    const sum = dist.allReduce(this.native('reduceScatter'), [stacked], op === 'avg' ? 'sum' : op, 'reduceScatter');
    return new Work(sum, () => {
      torch.tidy(() => {
        const mine = stacked.select(0, this.rank);
        output.copy_(op === 'avg' ? mine.div(this.size) : mine);
      });
      torch.unkeep(stacked).dispose();
    });
  }

  /**
   * A new tensor: the sum over ranks of `tensor`, synchronously, that autograd differentiates (its backward sums
   * the incoming gradients over ranks). For statistics of the global batch inside a forward pass (SyncBatchNorm).
   */
  sumOverRanks(tensor: Tensor): Tensor {
    return wrapTensor(dist.sumOverRanks(this.native('sumOverRanks'), tensor)) as Tensor;
  }

  barrier(): Work {
    return new Work(dist.barrier(this.native('barrier')));
  }

  /** Releases this rank's connections; the group cannot be used afterwards. */
  destroy(): void {
    if (this.ref) dist.destroyGroup(this.ref);
    this.ref = null;
  }

  /** The native group, for this folder's other users of it (the gradient reducer). */
  native(what: string): NativeRef {
    if (!this.ref) throw new Error(`${what}: the process group was destroyed (destroyProcessGroup)`);
    return this.ref;
  }

  /** The tensors a collective writes into: c10d reads and writes them as dense memory. */
  private inPlace(what: string, tensor: Tensor | Tensor[]): Tensor[] {
    const tensors = Array.isArray(tensor) ? tensor : [tensor];
    tensors.forEach((t, i) => {
      if (!t.isContiguous())
        throw new RangeError(
          `${what} on rank ${this.rank}: tensor ${i} is not contiguous (collectives work in place on dense memory; pass t.contiguous())`,
        );
    });
    return tensors;
  }

  private checkPerRank(what: string, list: Tensor[], one: Tensor): void {
    if (list.length !== this.size)
      throw new RangeError(`${what} on rank ${this.rank}: needs one tensor per rank (${this.size}), got ${list.length}`);
    list.forEach((t, r) => {
      if (t.shape.join() !== one.shape.join() || t.dtype !== one.dtype)
        throw new RangeError(`${what} on rank ${this.rank}: tensor ${r} is ${t.dtype}[${t.shape}], expected ${one.dtype}[${one.shape}]`);
    });
  }
}
