// Activation layers (torch.nn.ReLU, PReLU, GELU).
import { full } from '../torch/creation.js';
import { gelu, prelu, relu } from '../torch/functional.js';
import type { Tensor } from '../torch/tensor.js';
import { Layer } from './layer.js';

export class ReLU extends Layer {
  forward(input: Tensor): Tensor {
    return relu(input);
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
}

export class GELU extends Layer {
  constructor(readonly approximate: 'none' | 'tanh' = 'none') {
    super();
  }

  forward(input: Tensor): Tensor {
    return gelu(input, this.approximate);
  }
}
