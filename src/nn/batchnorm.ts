// Batch normalisation (torch.nn.BatchNorm1d/2d) with PyTorch's state: weight, bias, running_mean,
// running_var and num_batches_tracked, so state dicts match PyTorch's key for key. With `sumAcrossBatch` set
// (data-parallel training injects a differentiable sum over ranks) it is torch's SyncBatchNorm: the statistics
// are those of the global batch, from the summed per-rank count, sum and sum of squares.
import { noGrad } from '../torch/autograd.js';
import { ones, tensor, zeros } from '../torch/creation.js';
import { batchNorm, cat } from '../torch/functional.js';
import type { Tensor } from '../torch/tensor.js';
import { Layer } from './layer.js';
import type { OnnxGraph, OnnxValue } from './onnx-graph.js';

export interface BatchNormConfig {
  /** Default 1e-5. */
  eps?: number;
  /** Running-average factor; null averages cumulatively (1/num_batches_tracked). Default 0.1. */
  momentum?: number | null;
  /** Learnable weight and bias; default true. */
  affine?: boolean;
  /** Keep running statistics for evaluation; default true (false: batch statistics in eval too). */
  trackRunningStats?: boolean;
}

abstract class BatchNorm extends Layer {
  readonly weight: Tensor | null;
  readonly bias: Tensor | null;
  readonly runningMean: Tensor | null;
  readonly runningVar: Tensor | null;
  readonly numBatchesTracked: Tensor | null;
  readonly eps: number;
  readonly momentum: number | null;
  protected abstract readonly inputRanks: readonly number[];
  /**
   * Returns the sum of a tensor over every part of the global batch, differentiably (its gradient flows back to
   * each part); set by data-parallel training for synchronised statistics. null: this batch is the whole batch.
   */
  sumAcrossBatch: ((t: Tensor) => Tensor) | null = null;

  constructor(
    readonly numFeatures: number,
    config: BatchNormConfig = {},
  ) {
    super();
    const { eps = 1e-5, momentum = 0.1, affine = true, trackRunningStats = true } = config;
    this.eps = eps;
    this.momentum = momentum;
    this.weight = affine ? this.param('weight', ones([numFeatures])) : this.noParam('weight');
    this.bias = affine ? this.param('bias', zeros([numFeatures])) : this.noParam('bias');
    this.runningMean = trackRunningStats ? this.buffer('running_mean', zeros([numFeatures])) : null;
    this.runningVar = trackRunningStats ? this.buffer('running_var', ones([numFeatures])) : null;
    this.numBatchesTracked = trackRunningStats ? this.buffer('num_batches_tracked', zeros([], { dtype: 'int64' })) : null;
  }

  forward(input: Tensor): Tensor {
    const rank = input.ndim;
    if (!this.inputRanks.includes(rank)) {
      throw new RangeError(`${this.constructor.name}: expected a ${this.inputRanks.join('-D or ')}-D input, got shape [${input.shape}]`);
    }
    let factor = this.momentum ?? 0;
    if (this.training && this.numBatchesTracked) {
      this.numBatchesTracked.add_(1);
      if (this.momentum === null) factor = 1 / this.numBatchesTracked.item();
    }
    if (this.training && this.sumAcrossBatch) return this.synchronised(input, this.sumAcrossBatch, factor);
    const useBatchStats = this.training || this.runningMean === null;
    return batchNorm(input, this.runningMean, this.runningVar, {
      weight: this.weight,
      bias: this.bias,
      training: useBatchStats,
      momentum: factor,
      eps: this.eps,
    });
  }

  /**
   * Normalises by the global batch's mean and biased variance, from per-channel sums (squares summed in float64,
   * so E[x²] − E[x]² loses nothing to cancellation); the running variance takes the unbiased one, as torch's.
   */
  private synchronised(input: Tensor, sumAcrossBatch: (t: Tensor) => Tensor, factor: number): Tensor {
    const c = this.numFeatures;
    const dims = [0, ...Array.from({ length: input.ndim - 2 }, (_, i) => i + 2)];
    const x = input.double();
    const sums = sumAcrossBatch(cat([x.sum(dims), x.square().sum(dims), tensor([input.numel() / c], { dtype: 'float64' })]));
    const count = sums.narrow(0, 2 * c, 1);
    const mean = sums.narrow(0, 0, c).div(count);
    const variance = sums.narrow(0, c, c).div(count).sub(mean.square()).clampMin(0);
    const shape = [1, c, ...dims.slice(1).map(() => 1)];
    let out = input.sub(mean.float().view(shape)).mul(variance.add(this.eps).rsqrt().float().view(shape));
    if (this.weight) out = out.mul(this.weight.view(shape));
    if (this.bias) out = out.add(this.bias.view(shape));
    if (this.runningMean && this.runningVar) {
      const [mean_, variance_] = [mean.detach(), variance.detach()];
      const n = count.item();
      noGrad(() => {
        (this.runningMean as Tensor).mul_(1 - factor).add_(mean_.float().mul(factor));
        (this.runningVar as Tensor).mul_(1 - factor).add_(
          variance_
            .mul(n / Math.max(n - 1, 1))
            .float()
            .mul(factor),
        );
      });
    }
    return out;
  }

  toOnnx(g: OnnxGraph, x: OnnxValue): OnnxValue {
    if (!this.runningMean || !this.runningVar)
      throw new Error(`${this.constructor.name}: without running statistics it normalises by each batch; an inference graph cannot`);
    const c = this.numFeatures;
    const scale = this.weight ? g.weight(this.weight, 'bn_scale') : g.floats(new Float32Array(c).fill(1), [c], 'bn_scale');
    const bias = this.bias ? g.weight(this.bias, 'bn_bias') : g.floats(new Float32Array(c), [c], 'bn_bias');
    const mean = g.weight(this.runningMean, 'bn_mean');
    const variance = g.weight(this.runningVar, 'bn_var');
    return g.node('BatchNormalization', [x, scale, bias, mean, variance], x.shape, { epsilon: { float: this.eps } });
  }
}

/** Over [B, C] or [B, C, L] inputs. */
export class BatchNorm1d extends BatchNorm {
  protected readonly inputRanks = [2, 3];
}

/** Over [B, C, H, W] inputs. */
export class BatchNorm2d extends BatchNorm {
  protected readonly inputRanks = [4];
}
