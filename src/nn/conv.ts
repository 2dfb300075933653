// 2-D convolution layer (torch.nn.Conv2d): weight [out, in/groups, kH, kW], optional bias, PyTorch's default
// initialisation (kaiming uniform with a = √5; bias uniform on ±1/√fan_in).
import { empty } from '../torch/creation.js';
import { conv2d } from '../torch/functional.js';
import type { Tensor } from '../torch/tensor.js';
import { defaultBias_, defaultWeight_ } from './init.js';
import { Layer } from './layer.js';
import { type OnnxGraph, type OnnxValue, windowOutput } from './onnx-graph.js';

type Pair = number | readonly [number, number];

export interface Conv2dConfig {
  /** Default 1. */
  stride?: Pair;
  /** Zero padding per side, or 'same' / 'valid'; default 0. */
  padding?: Pair | 'same' | 'valid';
  /** Default 1. */
  dilation?: Pair;
  /** Default 1 (depthwise: groups = in channels). */
  groups?: number;
  /** Default true. */
  bias?: boolean;
}

const pair = (v: Pair): [number, number] => (typeof v === 'number' ? [v, v] : [v[0], v[1]]);

export class Conv2d extends Layer {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  readonly options: { stride: [number, number]; padding: [number, number] | 'same' | 'valid'; dilation: [number, number]; groups: number };

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    kernelSize: Pair,
    config: Conv2dConfig = {},
  ) {
    super();
    const { stride = 1, padding = 0, dilation = 1, groups = 1, bias = true } = config;
    if (!(groups >= 1) || inChannels % groups !== 0 || outChannels % groups !== 0) {
      throw new RangeError(`Conv2d: in (${inChannels}) and out (${outChannels}) channels must both be divisible by groups (${groups})`);
    }
    if (typeof padding === 'string' && padding === 'same' && pair(stride).some((s) => s !== 1)) {
      throw new RangeError("Conv2d: padding 'same' needs stride 1");
    }
    const [kh, kw] = pair(kernelSize);
    this.options = {
      stride: pair(stride),
      padding: typeof padding === 'string' ? padding : pair(padding),
      dilation: pair(dilation),
      groups,
    };
    this.weight = this.param('weight', defaultWeight_(empty([outChannels, inChannels / groups, kh, kw])));
    this.bias = bias ? this.param('bias', defaultBias_(empty([outChannels]), this.weight)) : this.noParam('bias');
  }

  forward(input: Tensor): Tensor {
    return conv2d(input, this.weight, this.bias, this.options);
  }

  toOnnx(g: OnnxGraph, x: OnnxValue): OnnxValue {
    const bias = this.bias ? g.weight(this.bias, 'conv_b') : null;
    return convToOnnx(g, x, g.weight(this.weight, 'conv_w'), bias, this.options);
  }
}

/**
 * An ONNX Conv on [B, C, H, W] with the initializers weight [out, in/groups, kH, kW] and bias [out], and
 * PyTorch's padding rules ('same' puts the odd pixel at the end, as PyTorch does).
 */
export function convToOnnx(
  g: OnnxGraph,
  x: OnnxValue,
  w: OnnxValue,
  b: OnnxValue | null,
  options: { stride: Pair; padding: Pair | 'same' | 'valid'; dilation?: Pair; groups?: number },
): OnnxValue {
  const [out, , kh, kw] = w.shape as number[];
  const stride = pair(options.stride);
  const dilation = pair(options.dilation ?? 1);
  const { padding } = options;
  const side = (k: number, d: number): [number, number] => {
    if (padding === 'valid') return [0, 0];
    const total = d * (k - 1);
    return [total >> 1, total - (total >> 1)];
  };
  const [top, bottom] = typeof padding === 'string' ? side(kh, dilation[0]) : [pair(padding)[0], pair(padding)[0]];
  const [left, right] = typeof padding === 'string' ? side(kw, dilation[1]) : [pair(padding)[1], pair(padding)[1]];
  const shape = [
    x.shape[0],
    out,
    windowOutput(x.shape[2], kh, stride[0], top, bottom, dilation[0]),
    windowOutput(x.shape[3], kw, stride[1], left, right, dilation[1]),
  ];
  return g.node('Conv', [x, w, b], shape, {
    kernel_shape: [kh, kw],
    strides: stride,
    pads: [top, left, bottom, right],
    dilations: dilation,
    group: options.groups ?? 1,
  });
}
