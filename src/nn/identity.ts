// Pass-through layer (torch.nn.Identity): a placeholder where an architecture option removes a layer.
import type { Tensor } from '../torch/tensor.js';
import { Layer } from './layer.js';

export class Identity extends Layer {
  forward(input: Tensor): Tensor {
    return input;
  }
}
