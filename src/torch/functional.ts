// Neural-network functions (PyTorch's torch.nn.functional): each is one ATen call with PyTorch's
// argument order and defaults, so models written against them read like their PyTorch twins.
import { callOp } from './native.js';
import { type Shape, Tensor, type TensorLike } from './tensor.js';

function op(name: string, args: unknown[]): Tensor {
  return callOp(name, args) as Tensor;
}

type Pair = number | readonly [number, number];
const pair = (v: Pair): number[] => (typeof v === 'number' ? [v, v] : [...v]);

export interface Conv2dOptions {
  stride?: Pair;
  padding?: Pair | 'same' | 'valid';
  dilation?: Pair;
  groups?: number;
}

/** 2-D convolution: input [B, Cin, H, W], weight [Cout, Cin/groups, kH, kW]. */
export function conv2d(input: Tensor, weight: Tensor, bias: Tensor | null = null, options: Conv2dOptions = {}): Tensor {
  const { stride = 1, padding = 0, dilation = 1, groups = 1 } = options;
  if (typeof padding === 'string') {
    return op('aten::conv2d.padding', [input, weight, bias, pair(stride), padding, pair(dilation), groups]);
  }
  return op('aten::conv2d', [input, weight, bias, pair(stride), pair(padding), pair(dilation), groups]);
}

export interface ConvTranspose2dOptions {
  stride?: Pair;
  padding?: Pair;
  outputPadding?: Pair;
  groups?: number;
  dilation?: Pair;
}

/** Transposed 2-D convolution: weight [Cin, Cout/groups, kH, kW]. */
export function convTranspose2d(input: Tensor, weight: Tensor, bias: Tensor | null = null, options: ConvTranspose2dOptions = {}): Tensor {
  const { stride = 1, padding = 0, outputPadding = 0, groups = 1, dilation = 1 } = options;
  return op('aten::conv_transpose2d.input', [
    input,
    weight,
    bias,
    pair(stride),
    pair(padding),
    pair(outputPadding),
    groups,
    pair(dilation),
  ]);
}

/** x·Wᵀ + b, weight [out, in]. */
export function linear(input: Tensor, weight: Tensor, bias: Tensor | null = null): Tensor {
  return op('aten::linear', [input, weight, bias]);
}

export interface BatchNormOptions {
  weight?: Tensor | null;
  bias?: Tensor | null;
  training?: boolean;
  momentum?: number;
  eps?: number;
}

/** Batch normalisation over dim 1; in training it updates `runningMean`/`runningVar` in place. */
export function batchNorm(input: Tensor, runningMean: Tensor | null, runningVar: Tensor | null, options: BatchNormOptions = {}): Tensor {
  const { weight = null, bias = null, training = false, momentum = 0.1, eps = 1e-5 } = options;
  return op('aten::batch_norm', [input, weight, bias, runningMean, runningVar, training, momentum, eps, true]);
}

export function layerNorm(
  input: Tensor,
  normalizedShape: Shape,
  weight: Tensor | null = null,
  bias: Tensor | null = null,
  eps = 1e-5,
): Tensor {
  return op('aten::layer_norm', [input, [...normalizedShape], weight, bias, eps, true]);
}

export function groupNorm(input: Tensor, numGroups: number, weight: Tensor | null = null, bias: Tensor | null = null, eps = 1e-5): Tensor {
  return op('aten::group_norm', [input, numGroups, weight, bias, eps, true]);
}

/** Zeroes elements with probability p in training and scales the rest by 1/(1-p). */
export function dropout(input: Tensor, p = 0.5, training = true): Tensor {
  if (!(p >= 0 && p <= 1)) throw new RangeError(`dropout: p must be in [0, 1], got ${p}`);
  return op('aten::dropout', [input, p, training]);
}

export interface PoolOptions {
  stride?: Pair;
  padding?: Pair;
  ceilMode?: boolean;
}

export function maxPool2d(input: Tensor, kernelSize: Pair, options: PoolOptions & { dilation?: Pair } = {}): Tensor {
  const { stride = kernelSize, padding = 0, dilation = 1, ceilMode = false } = options;
  return op('aten::max_pool2d', [input, pair(kernelSize), pair(stride), pair(padding), pair(dilation), ceilMode]);
}

export function avgPool2d(input: Tensor, kernelSize: Pair, options: PoolOptions & { countIncludePad?: boolean } = {}): Tensor {
  const { stride = kernelSize, padding = 0, ceilMode = false, countIncludePad = true } = options;
  return op('aten::avg_pool2d', [input, pair(kernelSize), pair(stride), pair(padding), ceilMode, countIncludePad, null]);
}

export function adaptiveAvgPool2d(input: Tensor, outputSize: Pair): Tensor {
  return op('aten::adaptive_avg_pool2d', [input, pair(outputSize)]);
}

export function adaptiveMaxPool2d(input: Tensor, outputSize: Pair): Tensor {
  return (callOp('aten::adaptive_max_pool2d', [input, pair(outputSize)]) as Tensor[])[0];
}

/**
 * Pads the last dimensions: `padding` lists (left, right, top, bottom, …) as in PyTorch.
 * Modes: constant (with `value`), reflect, replicate, circular.
 */
export function pad(
  input: Tensor,
  padding: readonly number[],
  mode: 'constant' | 'reflect' | 'replicate' | 'circular' = 'constant',
  value = 0,
): Tensor {
  if (padding.length % 2 !== 0) throw new RangeError(`pad: padding must have an even length, got ${padding.length}`);
  if (mode === 'constant') return op('aten::constant_pad_nd', [input, [...padding], value]);
  const dims = padding.length / 2;
  const name = { reflect: 'reflection', replicate: 'replication', circular: 'circular' }[mode];
  if (mode === 'circular') return op('aten::_pad_circular', [input, [...padding]]);
  return op(`aten::${name}_pad${dims}d`, [input, [...padding]]);
}

export interface InterpolateOptions {
  size?: Pair;
  scaleFactor?: number | readonly [number, number];
  mode?: 'nearest' | 'nearest-exact' | 'bilinear' | 'bicubic' | 'area';
  /** Only for bilinear and bicubic, as in PyTorch. */
  alignCorners?: boolean;
  /** Only for bilinear and bicubic (downsampling with a widened kernel). */
  antialias?: boolean;
}

/**
 * Resizes [B, C, H, W] images to `size` or by `scaleFactor`. As in PyTorch (recompute_scale_factor unset), a
 * scale factor gives the size floor(H·scale) and also sets the coordinate mapping to 1/scale.
 */
export function interpolate(input: Tensor, options: InterpolateOptions): Tensor {
  const { mode = 'nearest', antialias = false } = options;
  if (input.ndim !== 4) throw new RangeError(`interpolate: expected a 4-D [B, C, H, W] tensor, got ${input.ndim}-D`);
  if ((options.size === undefined) === (options.scaleFactor === undefined)) {
    throw new TypeError('interpolate: give exactly one of size and scaleFactor');
  }
  const interpolating = mode === 'bilinear' || mode === 'bicubic';
  if (options.alignCorners !== undefined && !interpolating) {
    throw new TypeError(`interpolate: alignCorners can only be set with mode bilinear or bicubic, not ${mode}`);
  }
  if (antialias && !interpolating) throw new TypeError(`interpolate: antialias needs mode bilinear or bicubic, not ${mode}`);
  const alignCorners = options.alignCorners ?? false;
  const [h, w] = input.shape.slice(2);
  const { scaleFactor } = options;
  const scales = scaleFactor === undefined ? [null, null] : typeof scaleFactor === 'number' ? [scaleFactor, scaleFactor] : [...scaleFactor];
  const size =
    options.size !== undefined ? pair(options.size) : [Math.floor(h * (scales[0] as number)), Math.floor(w * (scales[1] as number))];
  if (size.some((s) => !(s >= 1))) throw new RangeError(`interpolate: output size must be ≥ 1, got [${size}]`);
  switch (mode) {
    case 'nearest':
      return op('aten::upsample_nearest2d', [input, size, scales[0], scales[1]]);
    case 'nearest-exact':
      return op('aten::_upsample_nearest_exact2d', [input, size, scales[0], scales[1]]);
    case 'area':
      return adaptiveAvgPool2d(input, size as [number, number]);
    case 'bilinear':
      return op(antialias ? 'aten::_upsample_bilinear2d_aa' : 'aten::upsample_bilinear2d', [
        input,
        size,
        alignCorners,
        scales[0],
        scales[1],
      ]);
    case 'bicubic':
      return op(antialias ? 'aten::_upsample_bicubic2d_aa' : 'aten::upsample_bicubic2d', [input, size, alignCorners, scales[0], scales[1]]);
    default:
      throw new TypeError(`interpolate: unknown mode '${mode as string}'`);
  }
}

export interface GridSampleOptions {
  mode?: 'bilinear' | 'nearest' | 'bicubic';
  paddingMode?: 'zeros' | 'border' | 'reflection';
  alignCorners?: boolean;
}

/** Samples `input` [B, C, H, W] at `grid` [B, Ho, Wo, 2] positions in [-1, 1] (x, y). */
export function gridSample(input: Tensor, grid: Tensor, options: GridSampleOptions = {}): Tensor {
  const { mode = 'bilinear', paddingMode = 'zeros', alignCorners = false } = options;
  const modes = { bilinear: 0, nearest: 1, bicubic: 2 };
  const pads = { zeros: 0, border: 1, reflection: 2 };
  return op('aten::grid_sampler', [input, grid, modes[mode], pads[paddingMode], alignCorners]);
}

/** The sampling grid [B, H, W, 2] of affine matrices `theta` [B, 2, 3] for an output of `size` [B, C, H, W]. */
export function affineGrid(theta: Tensor, size: Shape, alignCorners = false): Tensor {
  return op('aten::affine_grid_generator', [theta, [...size], alignCorners]);
}

/** Sliding local blocks (im2col): [B, C, H, W] → [B, C·kH·kW, L]. */
export function unfold(input: Tensor, kernelSize: Pair, options: { dilation?: Pair; padding?: Pair; stride?: Pair } = {}): Tensor {
  const { dilation = 1, padding = 0, stride = 1 } = options;
  return op('aten::im2col', [input, pair(kernelSize), pair(dilation), pair(padding), pair(stride)]);
}

export function softmax(input: Tensor, dim: number): Tensor {
  return op('aten::softmax.int', [input, dim]);
}
export function logSoftmax(input: Tensor, dim: number): Tensor {
  return op('aten::log_softmax.int', [input, dim]);
}
export function relu(input: Tensor): Tensor {
  return op('aten::relu', [input]);
}
/** max(0,x) + weight·min(0,x), weight per channel (dim 1) or a single value. */
export function prelu(input: Tensor, weight: Tensor): Tensor {
  return op('aten::prelu', [input, weight]);
}
export function gelu(input: Tensor, approximate: 'none' | 'tanh' = 'none'): Tensor {
  return op('aten::gelu', [input, approximate]);
}
export function silu(input: Tensor): Tensor {
  return op('aten::silu', [input]);
}
export function sigmoid(input: Tensor): Tensor {
  return op('aten::sigmoid', [input]);
}
export function tanh(input: Tensor): Tensor {
  return op('aten::tanh', [input]);
}
export function leakyRelu(input: Tensor, negativeSlope = 0.01): Tensor {
  return op('aten::leaky_relu', [input, negativeSlope]);
}
export function elu(input: Tensor, alpha = 1): Tensor {
  return op('aten::elu', [input, alpha, 1, 1]);
}
export function softplus(input: Tensor, beta = 1, threshold = 20): Tensor {
  return op('aten::softplus', [input, beta, threshold]);
}

type Reduction = 'mean' | 'sum' | 'none';
const reductionCode = (r: Reduction): number => ({ none: 0, mean: 1, sum: 2 })[r];

export interface CrossEntropyOptions {
  weight?: Tensor | null;
  reduction?: Reduction;
  ignoreIndex?: number;
  labelSmoothing?: number;
}

/** Softmax cross-entropy of logits [B, C] against class indices [B] (int64) or class probabilities [B, C]. */
export function crossEntropy(input: Tensor, target: Tensor, options: CrossEntropyOptions = {}): Tensor {
  const { weight = null, reduction = 'mean', ignoreIndex = -100, labelSmoothing = 0 } = options;
  return op('aten::cross_entropy_loss', [input, target, weight, reductionCode(reduction), ignoreIndex, labelSmoothing]);
}

export function nllLoss(
  input: Tensor,
  target: Tensor,
  options: { weight?: Tensor | null; reduction?: Reduction; ignoreIndex?: number } = {},
): Tensor {
  const { weight = null, reduction = 'mean', ignoreIndex = -100 } = options;
  return op('aten::nll_loss_nd', [input, target, weight, reductionCode(reduction), ignoreIndex]);
}

/** Binary cross-entropy on logits; `posWeight` weighs positives per class. */
export function binaryCrossEntropyWithLogits(
  input: Tensor,
  target: Tensor,
  options: { weight?: Tensor | null; posWeight?: Tensor | null; reduction?: Reduction } = {},
): Tensor {
  const { weight = null, posWeight = null, reduction = 'mean' } = options;
  return op('aten::binary_cross_entropy_with_logits', [input, target, weight, posWeight, reductionCode(reduction)]);
}

export function mseLoss(input: Tensor, target: Tensor, reduction: Reduction = 'mean'): Tensor {
  return op('aten::mse_loss', [input, target, reductionCode(reduction)]);
}
export function l1Loss(input: Tensor, target: Tensor, reduction: Reduction = 'mean'): Tensor {
  return op('aten::l1_loss', [input, target, reductionCode(reduction)]);
}
export function smoothL1Loss(input: Tensor, target: Tensor, reduction: Reduction = 'mean', beta = 1): Tensor {
  return op('aten::smooth_l1_loss', [input, target, reductionCode(reduction), beta]);
}

export function cosineSimilarity(x1: Tensor, x2: Tensor, dim = 1, eps = 1e-8): Tensor {
  return op('aten::cosine_similarity', [x1, x2, dim, eps]);
}

/** x / max(‖x‖_p, eps) along `dim`. */
export function normalize(input: Tensor, p = 2, dim = 1, eps = 1e-12): Tensor {
  const n = op('aten::linalg_vector_norm', [input, p, [dim], true, null]);
  const d = op('aten::clamp_min', [n, eps]);
  const out = op('aten::div.Tensor', [input, d]); // broadcasting divides like PyTorch's expand_as
  n.dispose();
  d.dispose();
  return out;
}

/** One-hot int64 encoding of class indices; numClasses -1 infers it. */
export function oneHot(indices: Tensor, numClasses = -1): Tensor {
  return op('aten::one_hot', [indices, numClasses]);
}

/** Pairwise p-norm distances between rows of x1 [.., P, M] and x2 [.., R, M]. */
export function cdist(x1: Tensor, x2: Tensor, p = 2): Tensor {
  return op('aten::cdist', [x1, x2, p, null]);
}

// ---- tensor-combining and general maths ----------------------------------------------------------------

export function cat(tensors: readonly Tensor[], dim = 0): Tensor {
  return op('aten::cat', [[...tensors], dim]);
}
export function stack(tensors: readonly Tensor[], dim = 0): Tensor {
  return op('aten::stack', [[...tensors], dim]);
}
/** Elementwise `condition ? x : y`. */
export function where(condition: Tensor, x: TensorLike, y: TensorLike): Tensor {
  if (x instanceof Tensor && y instanceof Tensor) return op('aten::where.self', [condition, x, y]);
  if (x instanceof Tensor) return op('aten::where.ScalarOther', [condition, x, y]);
  if (y instanceof Tensor) return op('aten::where.ScalarSelf', [condition, x, y]);
  return op('aten::where.Scalar', [condition, x, y]);
}
/** Einstein summation, e.g. einsum('bij,bjk->bik', a, b). */
export function einsum(equation: string, ...operands: Tensor[]): Tensor {
  return op('aten::einsum', [equation, operands, null]);
}
export function minimum(a: Tensor, b: Tensor): Tensor {
  return op('aten::minimum', [a, b]);
}
export function maximum(a: Tensor, b: Tensor): Tensor {
  return op('aten::maximum', [a, b]);
}
export function atan2(y: Tensor, x: Tensor): Tensor {
  return op('aten::atan2', [y, x]);
}
export function meshgrid(tensors: readonly Tensor[], indexing: 'ij' | 'xy' = 'ij'): Tensor[] {
  return callOp('aten::meshgrid.indexing', [[...tensors], indexing]) as Tensor[];
}
/** Complex tensor from magnitudes and angles. */
export function polar(abs: Tensor, angle: Tensor): Tensor {
  return op('aten::polar', [abs, angle]);
}
export function complex(real: Tensor, imag: Tensor): Tensor {
  return op('aten::complex', [real, imag]);
}

/** Eigen-decomposition of symmetric matrices: [eigenvalues ascending, eigenvectors as columns]. */
export function eigh(input: Tensor, uplo: 'L' | 'U' = 'L'): [Tensor, Tensor] {
  return callOp('aten::linalg_eigh', [input, uplo]) as [Tensor, Tensor];
}
/** Reduced SVD: [U, S, Vh] with input = U·diag(S)·Vh. */
export function svd(input: Tensor, fullMatrices = false): [Tensor, Tensor, Tensor] {
  return callOp('aten::linalg_svd', [input, fullMatrices, null]) as [Tensor, Tensor, Tensor];
}
export function inverse(input: Tensor): Tensor {
  return op('aten::linalg_inv', [input]);
}
/** Solves A·X = B. */
export function solve(a: Tensor, b: Tensor): Tensor {
  return op('aten::linalg_solve', [a, b, true]);
}
