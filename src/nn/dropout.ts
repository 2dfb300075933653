// Dropout layer (torch.nn.Dropout): active in training mode only.
import { dropout } from '../torch/functional.js';
import type { Tensor } from '../torch/tensor.js';
import { Layer } from './layer.js';
import type { OnnxGraph, OnnxValue } from './onnx-graph.js';

export class Dropout extends Layer {
  constructor(readonly p = 0.5) {
    super();
    if (!(p >= 0 && p <= 1)) throw new RangeError(`Dropout: p must be in [0, 1], got ${p}`);
  }

  forward(input: Tensor): Tensor {
    return dropout(input, this.p, this.training);
  }

  /** Inference: the identity. */
  toOnnx(_g: OnnxGraph, x: OnnxValue): OnnxValue {
    return x;
  }
}
