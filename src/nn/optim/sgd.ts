// Stochastic gradient descent with momentum, dampening, Nesterov and (L2) weight decay: PyTorch 1.13's update,
// done with libtorch's _foreach_ ops (one call per step for all parameters of a group).
import { callOp, callOpInPlace } from '../../torch/native.js';
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

  protected updateGroup(o: SGDOptions, params: Tensor[], grads: Tensor[]): void {
    let d = o.maximize ? (callOp('aten::_foreach_neg', [grads]) as Tensor[]) : grads;
    if (o.weightDecay !== 0) d = callOp('aten::_foreach_add.List', [d, params, o.weightDecay]) as Tensor[];
    if (o.momentum !== 0) {
      const fresh = params.filter((p) => !this.state.has(p));
      if (fresh.length === 0) {
        const bufs = params.map((p) => this.state.get(p)?.momentumBuffer as Tensor);
        callOpInPlace('aten::_foreach_mul_.Scalar', [bufs, o.momentum]);
        callOpInPlace('aten::_foreach_add_.List', [bufs, d, 1 - o.dampening]);
        d = o.nesterov ? (callOp('aten::_foreach_add.List', [d, bufs, o.momentum]) as Tensor[]) : bufs;
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
}
