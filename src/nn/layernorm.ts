// Layer normalisation over the last dimensions (torch.nn.LayerNorm), weight ones and bias zeros.
import { ones, zeros } from '../torch/creation.js';
import { layerNorm } from '../torch/functional.js';
import type { Tensor } from '../torch/tensor.js';
import { Layer } from './layer.js';
import type { OnnxGraph, OnnxValue } from './onnx-graph.js';

export interface LayerNormConfig {
  /** Default 1e-5. */
  eps?: number;
  /** Learnable per-element weight and bias; default true. */
  elementwiseAffine?: boolean;
}

export class LayerNorm extends Layer {
  readonly normalizedShape: number[];
  readonly weight: Tensor | null;
  readonly bias: Tensor | null;
  readonly eps: number;

  constructor(normalizedShape: number | readonly number[], config: LayerNormConfig = {}) {
    super();
    this.normalizedShape = typeof normalizedShape === 'number' ? [normalizedShape] : [...normalizedShape];
    this.eps = config.eps ?? 1e-5;
    const affine = config.elementwiseAffine ?? true;
    this.weight = affine ? this.param('weight', ones(this.normalizedShape)) : this.noParam('weight');
    this.bias = affine ? this.param('bias', zeros(this.normalizedShape)) : this.noParam('bias');
  }

  forward(input: Tensor): Tensor {
    return layerNorm(input, this.normalizedShape, this.weight, this.bias, this.eps);
  }

  toOnnx(g: OnnxGraph, x: OnnxValue): OnnxValue {
    const n = this.normalizedShape.reduce((a, b) => a * b, 1);
    const scale = this.weight ? g.weight(this.weight, 'ln_scale') : g.floats(new Float32Array(n).fill(1), this.normalizedShape, 'ln_scale');
    const bias = this.bias ? g.weight(this.bias, 'ln_bias') : null;
    return g.node('LayerNormalization', [x, scale, bias], x.shape, { axis: -this.normalizedShape.length, epsilon: { float: this.eps } });
  }
}
