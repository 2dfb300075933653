// The baseline fusions of the ablation (paper Table II), each ending in the same fused head as CATF:
// none (the FR map alone), concatenation, addition, SE-style channel gating of the concatenation, and a single
// (one-way) cross-attention in which the FR tokens query the SB tokens.
import { LayerNorm } from '../nn/layernorm.js';
import { Linear } from '../nn/linear.js';
import type { OnnxGraph, OnnxValue } from '../nn/onnx-graph.js';
import type { Tensor } from '../torch/index.js';
import * as torch from '../torch/index.js';
import { Fusion, type FusionConfig } from './fusion-base.js';
import { fromTokens, fromTokensOnnx, multiHeadAttention, multiHeadAttentionOnnx, toTokens, toTokensOnnx } from './token-attention.js';

/** The FR map alone: the stage-1 FR branch's information only, with a fresh head (the baseline without SB). */
export class NoFusion extends Fusion {
  constructor(config: FusionConfig) {
    super('none', config);
    this.attachHead(this.channels);
  }

  fuse(fr: Tensor): Tensor {
    return fr;
  }

  fuseOnnx(_g: OnnxGraph, fr: OnnxValue): OnnxValue {
    return fr;
  }
}

/** [F_fr, F_sb] along channels (2C). */
export class ConcatFusion extends Fusion {
  constructor(config: FusionConfig) {
    super('concat', config);
    this.attachHead(2 * this.channels);
  }

  fuse(fr: Tensor, sb: Tensor): Tensor {
    return torch.cat([fr, sb], 1);
  }

  fuseOnnx(g: OnnxGraph, fr: OnnxValue, sb: OnnxValue): OnnxValue {
    return g.concat([fr, sb], 1);
  }
}

/** F_fr + F_sb (C). */
export class AddFusion extends Fusion {
  constructor(config: FusionConfig) {
    super('add', config);
    this.attachHead(this.channels);
  }

  fuse(fr: Tensor, sb: Tensor): Tensor {
    return fr.add(sb);
  }

  fuseOnnx(g: OnnxGraph, fr: OnnxValue, sb: OnnxValue): OnnxValue {
    return g.add(fr, sb);
  }
}

/** Squeeze-and-excitation gating of [F_fr, F_sb]: X·σ(fc2(ReLU(fc1(GAP X)))) with a 2C/r bottleneck. */
export class SEFusion extends Fusion {
  readonly fc1: Linear;
  readonly fc2: Linear;

  constructor(config: FusionConfig) {
    super('se', config);
    const c2 = 2 * this.channels;
    const hidden = Math.max(1, Math.floor(c2 / this.options.seReduction));
    this.fc1 = this.module('fc1', new Linear(c2, hidden));
    this.fc2 = this.module('fc2', new Linear(hidden, c2));
    this.attachHead(c2);
  }

  fuse(fr: Tensor, sb: Tensor): Tensor {
    const x = torch.cat([fr, sb], 1);
    const gate = this.fc2.forward(torch.F.relu(this.fc1.forward(x.mean([2, 3])))).sigmoid();
    return x.mul(gate.unsqueeze(-1).unsqueeze(-1));
  }

  fuseOnnx(g: OnnxGraph, fr: OnnxValue, sb: OnnxValue): OnnxValue {
    const x = g.concat([fr, sb], 1);
    const hidden = g.unary('Relu', this.fc1.toOnnx(g, g.reduce('ReduceMean', x, [2, 3], false)));
    const gate = g.unary('Sigmoid', this.fc2.toOnnx(g, hidden));
    return g.mul(x, g.reshape(gate, [0, 0, 1, 1]));
  }
}

/** One-way multi-head cross-attention: Z = F_fr + out(softmax(Q_fr·K_sbᵀ/√d_k)·V_sb), pre-normalised tokens (C). */
export class CrossAttentionFusion extends Fusion {
  readonly heads: number;
  readonly norm_fr: LayerNorm;
  readonly norm_sb: LayerNorm;
  readonly q_fr: Linear;
  readonly kv_sb: Linear;
  readonly out: Linear;

  constructor(config: FusionConfig) {
    super('cross', config);
    const c = this.channels;
    this.heads = this.options.heads;
    if (c % this.heads !== 0) throw new RangeError(`CrossAttentionFusion: config.heads (${this.heads}) must divide the ${c} channels`);
    this.norm_fr = this.module('norm_fr', new LayerNorm(c));
    this.norm_sb = this.module('norm_sb', new LayerNorm(c));
    this.q_fr = this.module('q_fr', new Linear(c, c, { bias: false }));
    this.kv_sb = this.module('kv_sb', new Linear(c, 2 * c, { bias: false }));
    this.out = this.module('out', new Linear(c, c));
    this.attachHead(c);
  }

  fuse(fr: Tensor, sb: Tensor): Tensor {
    const tfr = toTokens(fr);
    const q = this.q_fr.forward(this.norm_fr.forward(tfr));
    const [k, v] = this.kv_sb.forward(this.norm_sb.forward(toTokens(sb))).chunk(2, -1);
    return fromTokens(tfr.add(this.out.forward(multiHeadAttention(q, k, v, this.heads))), this.height, this.width);
  }

  fuseOnnx(g: OnnxGraph, fr: OnnxValue, sb: OnnxValue): OnnxValue {
    const c = this.channels;
    const tfr = toTokensOnnx(g, fr);
    const q = this.q_fr.toOnnx(g, this.norm_fr.toOnnx(g, tfr));
    const [k, v] = g.split(this.kv_sb.toOnnx(g, this.norm_sb.toOnnx(g, toTokensOnnx(g, sb))), [c, c], -1);
    return fromTokensOnnx(g, g.add(tfr, this.out.toOnnx(g, multiHeadAttentionOnnx(g, q, k, v, this.heads))), this.height, this.width);
  }
}
