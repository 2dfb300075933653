// AdamW (decoupled weight decay), PyTorch 1.13's update with optional AMSGrad, done with libtorch's _foreach_
// ops. Bias corrections are computed in double precision in JS exactly as PyTorch computes them in Python.

import { zerosLike } from '../../torch/creation.js';
import { callOp, callOpInPlace } from '../../torch/native.js';
import type { Tensor } from '../../torch/tensor.js';
import { Optimizer, type ParamGroup } from './optimizer.js';

export interface AdamWOptions {
  /** Learning rate (default 1e-3). */
  lr: number;
  /** Decay rates of the first and second moment estimates (default [0.9, 0.999]). */
  betas: [number, number];
  /** Added to the denominator for stability (default 1e-8). */
  eps: number;
  /** Decoupled weight decay: p ← p·(1 − lr·weightDecay) (default 1e-2). */
  weightDecay: number;
  /** Use the running maximum of the second moment (default false). */
  amsgrad: boolean;
  /** Ascend instead of descend (default false). */
  maximize: boolean;
}

export class AdamW extends Optimizer<AdamWOptions> {
  constructor(params: readonly Tensor[] | readonly ParamGroup<AdamWOptions>[], options: Partial<AdamWOptions> = {}) {
    super(params, { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 1e-2, amsgrad: false, maximize: false, ...options }, 'AdamW');
  }

  protected validate(o: AdamWOptions, where: string): void {
    if (!(o.lr >= 0)) throw new RangeError(`${where}: invalid learning rate ${o.lr}`);
    if (!(o.eps >= 0)) throw new RangeError(`${where}: invalid eps ${o.eps}`);
    if (!Array.isArray(o.betas) || o.betas.length !== 2 || !o.betas.every((b) => b >= 0 && b < 1)) {
      throw new RangeError(`${where}: betas must be two numbers in [0, 1), got ${JSON.stringify(o.betas)}`);
    }
    if (!(o.weightDecay >= 0)) throw new RangeError(`${where}: invalid weightDecay ${o.weightDecay}`);
  }

  protected updateGroup(o: AdamWOptions, params: Tensor[], grads: Tensor[]): void {
    const [beta1, beta2] = o.betas;
    const states = params.map((p) =>
      this.stateOf(p, () => ({
        step: 0,
        expAvg: zerosLike(p),
        expAvgSq: zerosLike(p),
        ...(o.amsgrad ? { maxExpAvgSq: zerosLike(p) } : {}),
      })),
    );
    const g = o.maximize ? (callOp('aten::_foreach_neg', [grads]) as Tensor[]) : grads;
    const expAvgs = states.map((s) => s.expAvg as Tensor);
    const expAvgSqs = states.map((s) => s.expAvgSq as Tensor);
    for (const s of states) s.step = (s.step as number) + 1;
    callOpInPlace('aten::_foreach_mul_.Scalar', [params, 1 - o.lr * o.weightDecay]);
    callOpInPlace('aten::_foreach_mul_.Scalar', [expAvgs, beta1]);
    callOpInPlace('aten::_foreach_add_.List', [expAvgs, g, 1 - beta1]);
    callOpInPlace('aten::_foreach_mul_.Scalar', [expAvgSqs, beta2]);
    callOpInPlace('aten::_foreach_addcmul_.Scalar', [expAvgSqs, g, g, 1 - beta2]);
    const stepSizes = states.map((s) => -(o.lr / (1 - beta1 ** (s.step as number))));
    const correction2Sqrt = states.map((s) => Math.sqrt(1 - beta2 ** (s.step as number)));
    let second = expAvgSqs;
    if (o.amsgrad) {
      second = states.map((s) => s.maxExpAvgSq as Tensor);
      callOpInPlace('aten::_foreach_maximum.List_out', [second, expAvgSqs, second]); // running maximum, in place
    }
    const denom = callOp('aten::_foreach_sqrt', [second]) as Tensor[];
    callOpInPlace('aten::_foreach_div_.ScalarList', [denom, correction2Sqrt]);
    callOpInPlace('aten::_foreach_add_.Scalar', [denom, o.eps]);
    callOpInPlace('aten::_foreach_addcdiv_.ScalarList', [params, expAvgs, denom, stepSizes]);
  }
}
