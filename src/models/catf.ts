// CATF, the cross-attention transformer fusion (SPEC §5), as the PyTorch reference
// (shared/anchors/pytorch_catface_bench.py) with the same parameter names, so its state dict loads here:
//  1. dual multi-head cross-attention with swapped queries on pre-normalised spatial tokens,
//     Z_fr = F_fr + out_fr(softmax(Q_sb·K_frᵀ/√d_k)·V_fr), Z_sb = F_sb + out_sb(softmax(Q_fr·K_sbᵀ/√d_k)·V_sb);
//  2. O_b = Z_b + MFFNL_b(Z_b);
//  3. CAF: the 2C channels of [O_fr, O_sb] are tokens (features: their N spatial values), projected to Q, K, V by
//     one 1×1 convolution and attended within G channel groups, softmax(Q_g·K_gᵀ/√N)·V_g;
//  4. the fused head. The ablations drop MFFNL (O_b = Z_b) or CAF (the fused map is [O_fr, O_sb]).
import { Conv2d } from '../nn/conv.js';
import { LayerNorm } from '../nn/layernorm.js';
import { Linear } from '../nn/linear.js';
import type { OnnxGraph, OnnxValue } from '../nn/onnx-graph.js';
import type { Tensor } from '../torch/index.js';
import * as torch from '../torch/index.js';
import { FUSION_DEFAULTS, Fusion, type FusionConfig } from './fusion-base.js';
import { MFFNL } from './mffnl.js';
import { fromTokens, fromTokensOnnx, multiHeadAttention, multiHeadAttentionOnnx, toTokens, toTokensOnnx } from './token-attention.js';

export class CATF extends Fusion {
  readonly heads: number;
  readonly groups: number;
  readonly norm_fr: LayerNorm;
  readonly norm_sb: LayerNorm;
  readonly qkv_fr: Linear;
  readonly qkv_sb: Linear;
  readonly out_fr: Linear;
  readonly out_sb: Linear;
  readonly ffn_fr: MFFNL | null;
  readonly ffn_sb: MFFNL | null;
  readonly caf_qkv: Conv2d | null;

  /** `config.kind`: 'catf' (default), 'catf-no-mffnl' or 'catf-no-caf'. */
  constructor(config: FusionConfig) {
    const kind = config.kind ?? FUSION_DEFAULTS.kind;
    if (kind !== 'catf' && kind !== 'catf-no-mffnl' && kind !== 'catf-no-caf') {
      throw new RangeError(`CATF: config.kind must be catf, catf-no-mffnl or catf-no-caf, got '${kind}'`);
    }
    super(kind, config);
    const c = this.channels;
    this.heads = this.options.heads;
    this.groups = this.options.groups;
    if (c % this.heads !== 0) throw new RangeError(`CATF: config.heads (${this.heads}) must divide the ${c} channels`);
    if ((2 * c) % this.groups !== 0) throw new RangeError(`CATF: config.groups (${this.groups}) must divide the ${2 * c} fused channels`);
    this.norm_fr = this.module('norm_fr', new LayerNorm(c));
    this.norm_sb = this.module('norm_sb', new LayerNorm(c));
    this.qkv_fr = this.module('qkv_fr', new Linear(c, 3 * c, { bias: false }));
    this.qkv_sb = this.module('qkv_sb', new Linear(c, 3 * c, { bias: false }));
    this.out_fr = this.module('out_fr', new Linear(c, c));
    this.out_sb = this.module('out_sb', new Linear(c, c));
    const withMffnl = kind !== 'catf-no-mffnl';
    this.ffn_fr = withMffnl ? this.module('ffn_fr', new MFFNL(c, this.options.expandRatio)) : null;
    this.ffn_sb = withMffnl ? this.module('ffn_sb', new MFFNL(c, this.options.expandRatio)) : null;
    this.caf_qkv = kind !== 'catf-no-caf' ? this.module('caf_qkv', new Conv2d(2 * c, 6 * c, 1, { bias: false })) : null;
    this.attachHead(2 * c);
  }

  fuse(fr: Tensor, sb: Tensor): Tensor {
    // tidy frees the intermediates at once (autograd keeps what backward needs), as Python's refcounting would.
    return torch.tidy(() => {
      const [zfr, zsb] = this.crossAttend(fr, sb);
      const ofr = this.ffn_fr ? zfr.add(this.ffn_fr.forward(zfr)) : zfr;
      const osb = this.ffn_sb ? zsb.add(this.ffn_sb.forward(zsb)) : zsb;
      const both = torch.cat([ofr, osb], 1);
      return this.caf_qkv ? this.channelAttention(both) : both;
    });
  }

  /** Step 1: [Z_fr, Z_sb] as maps [B, C, H, W]. */
  crossAttend(fr: Tensor, sb: Tensor): [Tensor, Tensor] {
    const tfr = toTokens(fr);
    const tsb = toTokens(sb);
    const [qf, kf, vf] = this.qkv_fr.forward(this.norm_fr.forward(tfr)).chunk(3, -1);
    const [qs, ks, vs] = this.qkv_sb.forward(this.norm_sb.forward(tsb)).chunk(3, -1);
    const zfr = tfr.add(this.out_fr.forward(multiHeadAttention(qs, kf, vf, this.heads)));
    const zsb = tsb.add(this.out_sb.forward(multiHeadAttention(qf, ks, vs, this.heads)));
    return [fromTokens(zfr, this.height, this.width), fromTokens(zsb, this.height, this.width)];
  }

  /** Step 3 (CAF) on [O_fr, O_sb] [B, 2C, H, W]. */
  channelAttention(both: Tensor): Tensor {
    const [b, c2, h, w] = both.shape;
    const n = h * w;
    const grouped = (t: Tensor): Tensor => t.reshape(b, this.groups, c2 / this.groups, n);
    const [q, k, v] = (this.caf_qkv as Conv2d).forward(both).chunk(3, 1);
    const weights = torch.F.softmax(grouped(q).matmul(grouped(k).transpose(-1, -2)).div(Math.sqrt(n)), -1);
    return weights.matmul(grouped(v)).reshape(b, c2, h, w);
  }

  fuseOnnx(g: OnnxGraph, fr: OnnxValue, sb: OnnxValue): OnnxValue {
    const c = this.channels;
    const tfr = toTokensOnnx(g, fr);
    const tsb = toTokensOnnx(g, sb);
    const [qf, kf, vf] = g.split(this.qkv_fr.toOnnx(g, this.norm_fr.toOnnx(g, tfr)), [c, c, c], -1);
    const [qs, ks, vs] = g.split(this.qkv_sb.toOnnx(g, this.norm_sb.toOnnx(g, tsb)), [c, c, c], -1);
    const zfr = fromTokensOnnx(
      g,
      g.add(tfr, this.out_fr.toOnnx(g, multiHeadAttentionOnnx(g, qs, kf, vf, this.heads))),
      this.height,
      this.width,
    );
    const zsb = fromTokensOnnx(
      g,
      g.add(tsb, this.out_sb.toOnnx(g, multiHeadAttentionOnnx(g, qf, ks, vs, this.heads))),
      this.height,
      this.width,
    );
    const ofr = this.ffn_fr ? g.add(zfr, this.ffn_fr.toOnnx(g, zfr)) : zfr;
    const osb = this.ffn_sb ? g.add(zsb, this.ffn_sb.toOnnx(g, zsb)) : zsb;
    const both = g.concat([ofr, osb], 1);
    if (!this.caf_qkv) return both;
    const [, c2, h, w] = both.shape as number[];
    const n = h * w;
    const grouped = (t: OnnxValue): OnnxValue => g.reshape(t, [0, this.groups, c2 / this.groups, n]);
    const [q, k, v] = g.split(this.caf_qkv.toOnnx(g, both), [c2, c2, c2], 1);
    const scores = g.div(g.matmul(grouped(q), g.transpose(grouped(k), [0, 1, 3, 2])), Math.sqrt(n));
    return g.reshape(g.matmul(g.softmax(scores, -1), grouped(v)), [0, c2, h, w]);
  }
}
