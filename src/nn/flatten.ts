// Flattening layer (torch.nn.Flatten): merges dimensions startDim..endDim (default 1..-1, keeping the batch).
import type { Tensor } from '../torch/tensor.js';
import { Layer } from './layer.js';

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
}
