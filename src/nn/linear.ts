// Fully connected layer (torch.nn.Linear): y = x·Wᵀ + b, weight [out, in], PyTorch's default initialisation.
import { empty } from '../torch/creation.js';
import { linear } from '../torch/functional.js';
import { tidy } from '../torch/scope.js';
import type { Tensor } from '../torch/tensor.js';
import { defaultBias_, defaultWeight_ } from './init.js';
import { Layer } from './layer.js';
import type { OnnxGraph, OnnxValue } from './onnx-graph.js';

export class Linear extends Layer {
  readonly weight: Tensor;
  readonly bias: Tensor | null;

  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    config: { bias?: boolean } = {},
  ) {
    super();
    this.weight = this.param('weight', defaultWeight_(empty([outFeatures, inFeatures])));
    this.bias = (config.bias ?? true) ? this.param('bias', defaultBias_(empty([outFeatures]), this.weight)) : this.noParam('bias');
  }

  forward(input: Tensor): Tensor {
    return linear(input, this.weight, this.bias);
  }

  /** x·Wᵀ (+ b) on the last dimension: MatMul with the transposed weight as initializer, then Add. */
  toOnnx(g: OnnxGraph, x: OnnxValue): OnnxValue {
    const product = g.matmul(
      x,
      tidy(() => g.weight(this.weight.t(), 'fc_wt')),
    );
    return this.bias ? g.add(product, g.weight(this.bias, 'fc_b')) : product;
  }
}
