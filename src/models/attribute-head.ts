// The soft-biometric head (SPEC §2): global average pooling, then one logit per attribute (a linear layer, so its
// state-dict keys are weight and bias, as the PyTorch reference's nn.Linear).
import { Linear } from '../nn/linear.js';
import type { OnnxGraph, OnnxValue } from '../nn/onnx-graph.js';
import type { Tensor } from '../torch/index.js';

export class AttributeHead extends Linear {
  constructor(channels: number, attributes: number) {
    if (!(Number.isInteger(attributes) && attributes > 0)) throw new RangeError(`AttributeHead: need ≥ 1 attribute, got ${attributes}`);
    super(channels, attributes);
  }

  /** Map [B, C, H, W] → logits [B, K]. */
  override forward(map: Tensor): Tensor {
    if (map.ndim !== 4 || map.shape[1] !== this.inFeatures) {
      throw new RangeError(`AttributeHead: expected [B, ${this.inFeatures}, H, W], got [${map.shape}]`);
    }
    return super.forward(map.mean([2, 3]));
  }

  override toOnnx(g: OnnxGraph, map: OnnxValue): OnnxValue {
    return super.toOnnx(g, g.reduce('ReduceMean', map, [2, 3], false));
  }
}
