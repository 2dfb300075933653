// Parameter initialisation as torch.nn.init: the same fan computations, gains and draws, so that with the
// same `manualSeed` a layer starts from exactly PyTorch's values. Every function fills in place, without
// recording autograd history, and returns its tensor.
import { noGrad } from '../torch/autograd.js';
import type { Tensor } from '../torch/tensor.js';

export type Nonlinearity = 'linear' | 'conv1d' | 'conv2d' | 'conv3d' | 'sigmoid' | 'tanh' | 'relu' | 'leaky_relu' | 'selu';
export type FanMode = 'fan_in' | 'fan_out';

/** [fan_in, fan_out]: input/output feature maps times the receptive field (everything past dim 1). */
export function fanInAndFanOut(t: Tensor): [number, number] {
  const shape = t.shape;
  if (shape.length < 2) {
    throw new RangeError(`init: fan in and fan out need a tensor of at least 2 dimensions, got shape [${shape}]`);
  }
  const receptiveField = shape.slice(2).reduce((a, b) => a * b, 1);
  return [shape[1] * receptiveField, shape[0] * receptiveField];
}

/** The recommended gain for a nonlinearity (`param` is leaky_relu's negative slope, default 0.01). */
export function calculateGain(nonlinearity: Nonlinearity, param?: number): number {
  switch (nonlinearity) {
    case 'linear':
    case 'conv1d':
    case 'conv2d':
    case 'conv3d':
    case 'sigmoid':
      return 1;
    case 'tanh':
      return 5 / 3;
    case 'relu':
      return Math.SQRT2;
    case 'leaky_relu': {
      const slope = param ?? 0.01;
      return Math.sqrt(2 / (1 + slope * slope));
    }
    case 'selu':
      return 3 / 4;
    default:
      throw new RangeError(`calculateGain: unsupported nonlinearity '${nonlinearity as string}'`);
  }
}

export function uniform_(t: Tensor, a = 0, b = 1): Tensor {
  return noGrad(() => t.uniform_(a, b));
}

export function normal_(t: Tensor, mean = 0, std = 1): Tensor {
  return noGrad(() => t.normal_(mean, std));
}

export function constant_(t: Tensor, value: number): Tensor {
  return noGrad(() => t.fill_(value));
}

export function zeros_(t: Tensor): Tensor {
  return constant_(t, 0);
}

export function ones_(t: Tensor): Tensor {
  return constant_(t, 1);
}

export interface KaimingOptions {
  /** Negative slope of the rectifier after this layer (leaky_relu only); default 0. */
  a?: number;
  /** 'fan_in' (default) keeps the forward variance, 'fan_out' the backward one. */
  mode?: FanMode;
  /** Default 'leaky_relu', as PyTorch. */
  nonlinearity?: Nonlinearity;
}

function kaimingStd(t: Tensor, options: KaimingOptions): number {
  const { a = 0, mode = 'fan_in', nonlinearity = 'leaky_relu' } = options;
  const [fanIn, fanOut] = fanInAndFanOut(t);
  const fan = mode === 'fan_in' ? fanIn : fanOut;
  if (fan === 0) throw new RangeError(`init: cannot initialise a tensor with zero elements (shape [${t.shape}])`);
  return calculateGain(nonlinearity, a) / Math.sqrt(fan);
}

/** He initialisation, uniform on ±gain·√(3/fan). */
export function kaimingUniform_(t: Tensor, options: KaimingOptions = {}): Tensor {
  const bound = Math.sqrt(3) * kaimingStd(t, options);
  return uniform_(t, -bound, bound);
}

/** He initialisation, normal with std gain/√fan. */
export function kaimingNormal_(t: Tensor, options: KaimingOptions = {}): Tensor {
  return normal_(t, 0, kaimingStd(t, options));
}

function xavierStd(t: Tensor, gain: number): number {
  const [fanIn, fanOut] = fanInAndFanOut(t);
  return gain * Math.sqrt(2 / (fanIn + fanOut));
}

/** Glorot initialisation, uniform on ±gain·√(6/(fan_in+fan_out)). */
export function xavierUniform_(t: Tensor, gain = 1): Tensor {
  const bound = Math.sqrt(3) * xavierStd(t, gain);
  return uniform_(t, -bound, bound);
}

/** Glorot initialisation, normal with std gain·√(2/(fan_in+fan_out)). */
export function xavierNormal_(t: Tensor, gain = 1): Tensor {
  return normal_(t, 0, xavierStd(t, gain));
}

/** PyTorch's default for Linear/Conv weights: kaiming uniform with a = √5, i.e. ±1/√fan_in. */
export function defaultWeight_(t: Tensor): Tensor {
  return kaimingUniform_(t, { a: Math.sqrt(5) });
}

/** PyTorch's default for Linear/Conv biases: uniform on ±1/√fan_in of the weight. */
export function defaultBias_(bias: Tensor, weight: Tensor): Tensor {
  const [fanIn] = fanInAndFanOut(weight);
  const bound = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
  return uniform_(bias, -bound, bound);
}
