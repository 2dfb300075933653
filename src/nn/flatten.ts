// Flattening layer (torch.nn.Flatten): merges dimensions startDim..endDim (default 1..-1, keeping the batch).
import type { Tensor } from '../torch/tensor.js';
import { Layer } from './layer.js';
import type { OnnxGraph, OnnxValue } from './onnx-graph.js';

export class Flatten extends Layer {
  constructor(
    readonly startDim = 1,
    readonly endDim = -1,
  ) {
    super();
  }

  forward(input: Tensor): Tensor {
    return input.flatten(this.startDim, this.endDim);
  }

  /** A Reshape keeping the dimensions before `startDim` (flattening to the last one only). */
  toOnnx(g: OnnxGraph, x: OnnxValue): OnnxValue {
    const rank = x.shape.length;
    const start = (this.startDim + rank) % rank;
    if ((this.endDim + rank) % rank !== rank - 1) throw new RangeError('Flatten: exports only when flattening to the last dimension');
    return g.reshape(x, [...new Array(start).fill(0), -1]);
  }
}
