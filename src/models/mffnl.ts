// MFFNL, the multi-scale feed-forward layer of CATF (SPEC §5.2): pointwise expand (ratio r) → BN → GELU →
// MDConv → pointwise project → BN. MDConv splits the expanded channels into three groups (the first takes the
// remainder) filtered depthwise at three scales — 3×3; 1×5 then 5×1; 1×7 then 7×1 — each followed by BN → GELU,
// concatenates them and adds its own input (the shortcut). The caller adds the outer residual.

import { GELU } from '../nn/activation.js';
import { BatchNorm2d } from '../nn/batchnorm.js';
import { Sequential } from '../nn/containers.js';
import { Conv2d } from '../nn/conv.js';
import { Module } from '../nn/module.js';
import type { OnnxGraph, OnnxValue } from '../nn/onnx-graph.js';
import type { Tensor } from '../torch/index.js';
import * as torch from '../torch/index.js';

function depthwise(channels: number, kh: number, kw: number): Conv2d {
  return new Conv2d(channels, channels, [kh, kw], { padding: [kh >> 1, kw >> 1], groups: channels, bias: false });
}

export class MFFNL extends Module {
  readonly expanded: number;
  /** Channels of the 3×3, 5 and 7 groups. */
  readonly groupSizes: [number, number, number];
  readonly expand: Sequential;
  readonly s3: Sequential;
  readonly s5: Sequential;
  readonly s7: Sequential;
  readonly project: Sequential;

  constructor(
    readonly channels: number,
    expandRatio = 4,
  ) {
    super();
    if (!(Number.isInteger(expandRatio) && expandRatio >= 1))
      throw new RangeError(`MFFNL: expandRatio must be a positive integer, got ${expandRatio}`);
    const e = channels * expandRatio;
    if (e < 3) throw new RangeError(`MFFNL: ${channels} channels × ratio ${expandRatio} cannot be split into three groups`);
    this.expanded = e;
    const third = Math.floor(e / 3);
    const g = [e - 2 * third, third, third] as [number, number, number];
    this.groupSizes = g;
    this.expand = this.module('expand', new Sequential(new Conv2d(channels, e, 1, { bias: false }), new BatchNorm2d(e), new GELU()));
    this.s3 = this.module('s3', new Sequential(depthwise(g[0], 3, 3), new BatchNorm2d(g[0]), new GELU()));
    this.s5 = this.module('s5', new Sequential(depthwise(g[1], 1, 5), depthwise(g[1], 5, 1), new BatchNorm2d(g[1]), new GELU()));
    this.s7 = this.module('s7', new Sequential(depthwise(g[2], 1, 7), depthwise(g[2], 7, 1), new BatchNorm2d(g[2]), new GELU()));
    this.project = this.module('project', new Sequential(new Conv2d(e, channels, 1, { bias: false }), new BatchNorm2d(channels)));
  }

  forward(x: Tensor): Tensor {
    // tidy frees the intermediates at once (autograd keeps what backward needs), as Python's refcounting would.
    return torch.tidy(() => {
      const u = this.expand.forward(x);
      const [x3, x5, x7] = u.split(this.groupSizes, 1);
      const mixed = torch.cat([this.s3.forward(x3), this.s5.forward(x5), this.s7.forward(x7)], 1);
      return this.project.forward(mixed.add(u));
    });
  }

  toOnnx(g: OnnxGraph, x: OnnxValue): OnnxValue {
    const u = this.expand.toOnnx(g, x);
    const [x3, x5, x7] = g.split(u, this.groupSizes, 1);
    const mixed = g.concat([this.s3.toOnnx(g, x3), this.s5.toOnnx(g, x5), this.s7.toOnnx(g, x7)], 1);
    return this.project.toOnnx(g, g.add(mixed, u));
  }
}
