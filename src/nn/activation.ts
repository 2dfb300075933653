// Activation layers (torch.nn.ReLU, PReLU, GELU).
import { full } from '../torch/creation.js';
import { gelu, prelu, relu } from '../torch/functional.js';
import type { Tensor } from '../torch/tensor.js';
import { Layer } from './layer.js';
import type { OnnxGraph, OnnxValue } from './onnx-graph.js';

export class ReLU extends Layer {
  forward(input: Tensor): Tensor {
    return relu(input);
  }

  toOnnx(g: OnnxGraph, x: OnnxValue): OnnxValue {
    return g.unary('Relu', x);
  }
}

/** max(0,x) + a·min(0,x) with a learned slope per channel (`numParameters` = channels) or shared (1). */
export class PReLU extends Layer {
  readonly weight: Tensor;

  constructor(numParameters = 1, init = 0.25) {
    super();
    this.weight = this.param('weight', full([numParameters], init));
  }

  forward(input: Tensor): Tensor {
    return prelu(input, this.weight);
  }

  /** The slope broadcast over channel-first inputs ([C, 1, 1] for [B, C, H, W]), as PyTorch applies it. */
  toOnnx(g: OnnxGraph, x: OnnxValue): OnnxValue {
    const n = this.weight.shape[0];
    const shape = n === 1 ? [1] : [n, ...new Array(Math.max(x.shape.length - 2, 0)).fill(1)];
    return g.node('PRelu', [x, g.weight(this.weight, 'prelu', shape)], x.shape);
  }
}

export class GELU extends Layer {
  constructor(readonly approximate: 'none' | 'tanh' = 'none') {
    super();
  }

  forward(input: Tensor): Tensor {
    return gelu(input, this.approximate);
  }

  /** ONNX's Gelu from opset 20; before it the exact form x·(1 + erf(x/√2))/2. */
  toOnnx(g: OnnxGraph, x: OnnxValue): OnnxValue {
    if (g.opset >= 20) return g.node('Gelu', [x], x.shape, { approximate: this.approximate });
    if (this.approximate !== 'none') throw new RangeError('GELU: the tanh approximation exports from opset 20 (use --opset 20)');
    return g.mul(g.mul(x, g.add(g.unary('Erf', g.div(x, Math.SQRT2)), 1)), 0.5);
  }
}
