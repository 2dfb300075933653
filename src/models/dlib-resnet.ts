// dlib's ResNet-34 face descriptor (dlib_face_recognition_resnet_model_v1) as face-api.js ships and runs it:
// 150×150 RGB crops → 128-d descriptor. Layer names follow face-api's weight manifest (conv32_down,
// conv32_1 … conv256_down_out, fc), so its npm weights load by name through `parseTfjsWeights`.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { convToOnnx } from '../nn/conv.js';
import { Layer } from '../nn/layer.js';
import { Module } from '../nn/module.js';
import { type OnnxGraph, type OnnxValue, windowOutput } from '../nn/onnx-graph.js';
import { tensor, zeros } from '../torch/creation.js';
import { avgPool2d, conv2d, maxPool2d, pad, relu } from '../torch/functional.js';
import { callOp } from '../torch/native.js';
import { tidy } from '../torch/scope.js';
import type { Tensor } from '../torch/tensor.js';
import { parseTfjsWeights, type TfjsManifest } from './tfjs-weights.js';

/** The crop side the network takes. */
export const DLIB_INPUT_SIZE = 150;
/** Per-channel RGB means subtracted before scaling by 1/255 (face-api's normalisation). */
export const DLIB_RGB_MEAN = [122.782, 117.001, 104.298] as const;

/** Convolution + bias, then dlib's affine "scale" layer (x·w + b per channel), then optionally ReLU. */
class ConvScale extends Layer {
  readonly conv: WeightBias;
  readonly scale: WeightBias;

  constructor(
    inChannels: number,
    outChannels: number,
    kernel: number,
    readonly stride: number,
    readonly padding: number,
    readonly withRelu: boolean,
  ) {
    super();
    this.conv = this.module('conv', new WeightBias([outChannels, inChannels, kernel, kernel], [outChannels]));
    this.scale = this.module('scale', new WeightBias([outChannels], [outChannels]));
  }

  forward(x: Tensor): Tensor {
    const c = conv2d(x, this.conv.weight, this.conv.bias, { stride: this.stride, padding: this.padding });
    const shape = [1, -1, 1, 1];
    const scaled = callOp('aten::addcmul', [this.scale.bias.view(shape), c, this.scale.weight.view(shape), 1]) as Tensor;
    c.dispose();
    if (!this.withRelu) return scaled;
    const out = relu(scaled);
    scaled.dispose();
    return out;
  }

  /** One Conv with the scale folded in (w·s per output channel, b·s + t), then Relu. */
  toOnnx(g: OnnxGraph, x: OnnxValue): OnnxValue {
    const s = this.scale.weight;
    const [w, b] = tidy(() => [
      g.weight(this.conv.weight.mul(s.view(-1, 1, 1, 1)), 'conv_w'),
      g.weight(this.conv.bias.mul(s).add(this.scale.bias), 'conv_b'),
    ]);
    const conv = convToOnnx(g, x, w, b, { stride: this.stride, padding: this.padding });
    return this.withRelu ? g.unary('Relu', conv) : conv;
  }
}

/** A weight and an optional bias under one name (tfjs layers hold bare tensors); filled by loading. */
class WeightBias extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor;
  constructor(weightShape: number[], biasShape: number[] | null) {
    super();
    this.weight = this.param('weight', zeros(weightShape));
    this.bias = biasShape ? this.param('bias', zeros(biasShape)) : (this.noParam('bias') as unknown as Tensor);
  }
}

/** conv → ReLU → conv, plus the input, then ReLU (stride 1, 'same' padding). */
class Residual extends Layer {
  readonly conv1: ConvScale;
  readonly conv2: ConvScale;
  constructor(channels: number) {
    super();
    this.conv1 = this.module('conv1', new ConvScale(channels, channels, 3, 1, 1, true));
    this.conv2 = this.module('conv2', new ConvScale(channels, channels, 3, 1, 1, false));
  }
  forward(x: Tensor): Tensor {
    const a = this.conv1.forward(x);
    const b = this.conv2.forward(a);
    a.dispose();
    const sum = b.add(x);
    b.dispose();
    const out = relu(sum);
    sum.dispose();
    return out;
  }
  toOnnx(g: OnnxGraph, x: OnnxValue): OnnxValue {
    return g.unary('Relu', g.add(this.conv2.toOnnx(g, this.conv1.toOnnx(g, x)), x));
  }
}

/**
 * The down-sampling block: stride-2 'valid' conv path; the shortcut is a 2×2 average pool, zero-padded in
 * channels when they double; when the two paths' sides differ the conv path gets a zero row and column.
 */
class ResidualDown extends Layer {
  readonly conv1: ConvScale;
  readonly conv2: ConvScale;
  constructor(inChannels: number, outChannels: number) {
    super();
    this.conv1 = this.module('conv1', new ConvScale(inChannels, outChannels, 3, 2, 0, true));
    this.conv2 = this.module('conv2', new ConvScale(outChannels, outChannels, 3, 1, 1, false));
  }
  forward(x: Tensor): Tensor {
    const a = this.conv1.forward(x);
    let b = this.conv2.forward(a);
    a.dispose();
    let pooled = avgPool2d(x, 2, { stride: 2 });
    const [, pc, ph, pw] = pooled.shape;
    const [, bc, bh, bw] = b.shape;
    if (bh !== ph || bw !== pw) {
      const padded = pad(b, [0, pw - bw, 0, ph - bh]);
      b.dispose();
      b = padded;
    }
    if (pc !== bc) {
      const padded = pad(pooled, [0, 0, 0, 0, 0, bc - pc]);
      pooled.dispose();
      pooled = padded;
    }
    const sum = b.add(pooled);
    b.dispose();
    pooled.dispose();
    const out = relu(sum);
    sum.dispose();
    return out;
  }
  toOnnx(g: OnnxGraph, x: OnnxValue): OnnxValue {
    let b = this.conv2.toOnnx(g, this.conv1.toOnnx(g, x));
    const side = (n: OnnxValue['shape'][number]) => windowOutput(n, 2, 2, 0, 0);
    let pooled = g.node('AveragePool', [x], [x.shape[0], x.shape[1], side(x.shape[2]), side(x.shape[3])], {
      kernel_shape: [2, 2],
      strides: [2, 2],
    });
    const [, pc, ph, pw] = pooled.shape as number[];
    const [, bc, bh, bw] = b.shape as number[];
    if (bh !== ph || bw !== pw) b = g.pad(b, [0, 0, 0, 0, 0, 0, ph - bh, pw - bw]);
    if (pc !== bc) pooled = g.pad(pooled, [0, 0, 0, 0, 0, bc - pc, 0, 0]);
    return g.unary('Relu', g.add(b, pooled));
  }
}

/** dlib's residual blocks after the stem, in order; the last four (256 channels) are its last stage. */
export function dlibBlocks(): [string, Layer][] {
  return [
    ['conv32_1', new Residual(32)],
    ['conv32_2', new Residual(32)],
    ['conv32_3', new Residual(32)],
    ['conv64_down', new ResidualDown(32, 64)],
    ['conv64_1', new Residual(64)],
    ['conv64_2', new Residual(64)],
    ['conv64_3', new Residual(64)],
    ['conv128_down', new ResidualDown(64, 128)],
    ['conv128_1', new Residual(128)],
    ['conv128_2', new Residual(128)],
    ['conv256_down', new ResidualDown(128, 256)],
    ['conv256_1', new Residual(256)],
    ['conv256_2', new Residual(256)],
    ['conv256_down_out', new ResidualDown(256, 256)],
  ];
}

/** dlib's stem: 7×7 stride-2 'valid' conv + scale + ReLU, then a 3×3 stride-2 max pool. */
export class DlibStem extends Layer {
  readonly conv32_down = this.module('conv32_down', new ConvScale(3, 32, 7, 2, 0, true));
  forward(x: Tensor): Tensor {
    const stem = this.conv32_down.forward(x);
    const out = maxPool2d(stem, 3, { stride: 2 });
    stem.dispose();
    return out;
  }
  toOnnx(g: OnnxGraph, x: OnnxValue): OnnxValue {
    const stem = this.conv32_down.toOnnx(g, x);
    const side = (n: OnnxValue['shape'][number]) => windowOutput(n, 3, 2, 0, 0);
    return g.node('MaxPool', [stem], [stem.shape[0], stem.shape[1], side(stem.shape[2]), side(stem.shape[3])], {
      kernel_shape: [3, 3],
      strides: [2, 2],
    });
  }
}

/** A weight [out, in] without bias: dlib's final 128-d projection (`fc`). */
export class DlibProjection extends WeightBias {
  constructor(inFeatures = 256, outFeatures = 128) {
    super([outFeatures, inFeatures], null);
  }
  forward(x: Tensor): Tensor {
    return x.matmul(this.weight.t());
  }
  toOnnx(g: OnnxGraph, x: OnnxValue): OnnxValue {
    return g.matmul(
      x,
      tidy(() => g.weight(this.weight.t(), 'fc_wt')),
    );
  }
}

export class DlibResNet extends Module {
  readonly conv32_down: ConvScale;
  readonly blocks: [string, Layer][];
  readonly fc: DlibProjection;
  private readonly mean: Tensor;

  constructor() {
    super();
    this.conv32_down = this.module('conv32_down', new ConvScale(3, 32, 7, 2, 0, true));
    this.blocks = dlibBlocks().map(([name, layer]) => [name, this.module(name, layer)]);
    this.fc = this.module('fc', new DlibProjection());
    this.mean = this.buffer('rgb_mean', tensor([...DLIB_RGB_MEAN]).view(1, 3, 1, 1), false);
    this.eval();
  }

  /** RGB pixels 0–255, [B, 3, 150, 150] float → descriptors [B, 128] (not normalised, as face-api returns them). */
  forward(images: Tensor): Tensor {
    const [, c, h, w] = images.shape;
    if (images.ndim !== 4 || c !== 3 || h !== DLIB_INPUT_SIZE || w !== DLIB_INPUT_SIZE) {
      throw new RangeError(`DlibResNet: expected RGB crops [B, 3, 150, 150] (0–255), got [${images.shape}]`);
    }
    const centred = images.sub(this.mean);
    const normalised = centred.div(255);
    centred.dispose();
    const stem = this.conv32_down.forward(normalised);
    normalised.dispose();
    let x = maxPool2d(stem, 3, { stride: 2 });
    stem.dispose();
    for (const [, block] of this.blocks) {
      const next = block.forward(x);
      x.dispose();
      x = next;
    }
    const pooled = x.mean([2, 3]);
    x.dispose();
    const out = this.fc.forward(pooled);
    pooled.dispose();
    return out;
  }
}

/**
 * face-api's tfjs weights (HWIO filters, [in, out] fc) renamed and laid out as DlibResNet's state dict
 * (OIHW filters, [out, in] fc): `conv32_1/conv1/conv/filters` → `conv32_1.conv1.conv.weight`.
 */
export function faceApiToDlibState(weights: Map<string, Tensor>): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  for (const [name, t] of weights) {
    const key = name
      .replaceAll('/', '.')
      .replace(/\.filters$/, '.weight')
      .replace(/\.weights$/, '.weight')
      .replace(/\.biases$/, '.bias');
    if (name.endsWith('/filters')) out.set(key, t.permute(3, 2, 0, 1).contiguous());
    else if (name === 'fc') out.set('fc.weight', t.t().contiguous());
    else out.set(key, t);
  }
  return out;
}

/** A DlibResNet holding face-api's weights, from its manifest and shard bytes (by path as the manifest names them). */
export function dlibResNetFromFaceApi(
  manifest: TfjsManifest,
  shards: Map<string, Uint8Array>,
  source = 'face_recognition_model-weights_manifest.json',
): DlibResNet {
  const model = new DlibResNet();
  model.loadStateDict(faceApiToDlibState(parseTfjsWeights(manifest, shards, source)), { source });
  return model;
}

/** The DlibResNet of face-api.js's npm package (@vladmandic/face-api's `model/` folder), read from disk. */
export function loadFaceApiDlibResNet(): DlibResNet {
  const modelDir = join(dirname(createRequire(import.meta.url).resolve('@vladmandic/face-api/package.json')), 'model');
  const manifestPath = join(modelDir, 'face_recognition_model-weights_manifest.json');
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as TfjsManifest;
  const shards = new Map(manifest.flatMap((g) => g.paths).map((p) => [p, new Uint8Array(readFileSync(join(modelDir, p)))] as const));
  return dlibResNetFromFaceApi(manifest, shards, manifestPath);
}
