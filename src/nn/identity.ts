// Pass-through layer (torch.nn.Identity): a placeholder where an architecture option removes a layer.
import type { Tensor } from '../torch/tensor.js';
import { Layer } from './layer.js';
import type { OnnxGraph, OnnxValue } from './onnx-graph.js';

export class Identity extends Layer {
  forward(input: Tensor): Tensor {
    return input;
  }

  toOnnx(_g: OnnxGraph, x: OnnxValue): OnnxValue {
    return x;
  }
}
