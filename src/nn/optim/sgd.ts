// Stochastic gradient descent with momentum, dampening, Nesterov and (L2) weight decay: PyTorch 1.13's update,
// done with libtorch's _foreach_ ops (one call per step for all parameters of a group).
import { zerosLike } from '../../torch/creation.js';
import { callOp, callOpInPlace } from '../../torch/native.js';
import { dispose, keep } from '../../torch/scope.js';
import type { Tensor } from '../../torch/tensor.js';
import { Optimizer, type ParamGroup } from './optimizer.js';

export interface SGDOptions {
  /** Learning rate (required). */
  lr: number;
  /** Momentum factor (default 0). */
  momentum: number;
  /** Dampening of the momentum (default 0). */
  dampening: number;
  /** L2 penalty added to the gradient (default 0). */
  weightDecay: number;
  /** Nesterov momentum (default false; needs momentum > 0 and dampening 0). */
  nesterov: boolean;
  /** Ascend instead of descend (default false). */
  maximize: boolean;
}

export class SGD extends Optimizer<SGDOptions> {
  constructor(params: readonly Tensor[] | readonly ParamGroup<SGDOptions>[], options: Partial<SGDOptions> & { lr: number }) {
    super(params, { momentum: 0, dampening: 0, weightDecay: 0, nesterov: false, maximize: false, ...options }, 'SGD');
  }

  protected validate(o: SGDOptions, where: string): void {
    if (!(o.lr >= 0)) throw new RangeError(`${where}: invalid learning rate ${o.lr}`);
    if (!(o.momentum >= 0)) throw new RangeError(`${where}: invalid momentum ${o.momentum}`);
    if (!(o.weightDecay >= 0)) throw new RangeError(`${where}: invalid weightDecay ${o.weightDecay}`);
    if (!Number.isFinite(o.dampening)) throw new RangeError(`${where}: invalid dampening ${o.dampening}`);
    if (o.nesterov && (o.momentum <= 0 || o.dampening !== 0)) {
      throw new RangeError(`${where}: Nesterov momentum needs momentum > 0 and dampening 0`);
    }
  }

  /** Per-parameter buffers for the decayed and Nesterov gradients: reused each step, so no tensors are made. */
  private readonly scratch = new Map<Tensor, Tensor>();

  private scratchFor(params: Tensor[]): Tensor[] {
    return params.map((p) => {
      const existing = this.scratch.get(p);
      if (existing !== undefined) return existing;
      const made = keep(zerosLike(p));
      this.scratch.set(p, made);
      return made;
    });
  }

  protected updateGroup(o: SGDOptions, params: Tensor[], grads: Tensor[]): void {
    let d = o.maximize ? (callOp('aten::_foreach_neg', [grads]) as Tensor[]) : grads;
    if (o.weightDecay !== 0) {
      const decayed = this.scratchFor(params);
      callOpInPlace('aten::_foreach_add.List_out', [d, params, o.weightDecay, decayed]);
      d = decayed;
    }
    if (o.momentum !== 0) {
      const fresh = params.some((p) => !this.state.has(p));
      if (!fresh) {
        const bufs = params.map((p) => this.state.get(p)?.momentumBuffer as Tensor);
        callOpInPlace('aten::_foreach_mul_.Scalar', [bufs, o.momentum]);
        callOpInPlace('aten::_foreach_add_.List', [bufs, d, 1 - o.dampening]);
        if (o.nesterov) {
          const ahead = this.scratchFor(params);
          callOpInPlace('aten::_foreach_add.List_out', [d, bufs, o.momentum, ahead]); // in place when d is the scratch
          d = ahead;
        } else d = bufs;
      } else {
        // First step (or new parameters): the buffer starts as the gradient itself, as in PyTorch.
        d = params.map((p, i) => {
          const had = this.state.has(p);
          const buf = this.stateOf(p, () => ({ momentumBuffer: d[i].clone() })).momentumBuffer as Tensor;
          if (had) buf.mul_(o.momentum).add_(d[i], 1 - o.dampening);
          return o.nesterov ? d[i].add(buf, o.momentum) : buf;
        });
      }
    }
    callOpInPlace('aten::_foreach_add_.List', [params, d, -o.lr]);
  }

  override dispose(): void {
    super.dispose();
    dispose([...this.scratch.values()]);
    this.scratch.clear();
  }
}
