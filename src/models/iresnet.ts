// IR-ResNet (SPEC §2): the face-recognition backbone of insightface's `iresnet` and AdaFace's `net.py`,
// with insightface's parameter names (conv1, bn1, prelu, layer1..4 of IBasicBlocks, bn2, dropout, fc,
// features) so their state dicts load by name (AdaFace's through `pretrained.ts`). Stages are reusable
// pieces: CATFace's trunk is the stem + stages 1–3, and each branch owns a copy of stage 4.
import { PReLU } from '../nn/activation.js';
import { BatchNorm1d, BatchNorm2d } from '../nn/batchnorm.js';
import { chain, Sequential } from '../nn/containers.js';
import { Conv2d } from '../nn/conv.js';
import { Dropout } from '../nn/dropout.js';
import { normal_ } from '../nn/init.js';
import { Layer } from '../nn/layer.js';
import { Linear } from '../nn/linear.js';
import { Module } from '../nn/module.js';
import { type OnnxGraph, type OnnxValue, windowOutput } from '../nn/onnx-graph.js';
import { maxPool2d } from '../torch/functional.js';
import { tidy } from '../torch/scope.js';
import type { Tensor } from '../torch/tensor.js';

/**
 * How a stride-2 block whose channel count does not change makes its shortcut: 'conv' (insightface: 1×1
 * stride-2 conv + BN) or 'subsample' (AdaFace: a parameter-free 1×1 max-pool of stride 2). Blocks that change
 * the channel count always use the conv.
 */
export type ShortcutStyle = 'conv' | 'subsample';

export interface IResNetConfig {
  /** Blocks per stage (ir18: 2,2,2,2 · ir34: 3,4,6,3 · ir50: 3,4,14,3 · ir100: 3,13,30,3). */
  layers: readonly number[];
  /** Channels of each stage; the stem has the first. Default 64,128,256,512. */
  widths: readonly number[];
  /** Side of the square input in pixels. Default 112. */
  inputSize: number;
  /** Size of the embedding. Default 512. */
  embeddingSize: number;
  /** Dropout before the fc layer (insightface 0, AdaFace 0.4). Default 0. */
  dropout: number;
  /** See ShortcutStyle. Default 'conv' (insightface). */
  shortcut: ShortcutStyle;
  /**
   * The final BatchNorm1d ("features"): 'fixed-weight' (insightface: weight fixed at 1, bias learned) or
   * 'none' (AdaFace: affine=False, no weight or bias). Default 'fixed-weight'.
   */
  featuresAffine: 'fixed-weight' | 'none';
}

export type IResNetName = 'ir18' | 'ir34' | 'ir50' | 'ir100';

export const IRESNET_LAYERS: Record<IResNetName, readonly number[]> = {
  ir18: [2, 2, 2, 2],
  ir34: [3, 4, 6, 3],
  ir50: [3, 4, 14, 3],
  ir100: [3, 13, 30, 3],
};

export const IRESNET_DEFAULTS: Omit<IResNetConfig, 'layers'> = {
  widths: [64, 128, 256, 512],
  inputSize: 112,
  embeddingSize: 512,
  dropout: 0,
  shortcut: 'conv',
  featuresAffine: 'fixed-weight',
};

/** The config of a named depth with the defaults, overridden by `overrides`. */
export function iresnetConfig(name: IResNetName, overrides: Partial<Omit<IResNetConfig, 'layers'>> = {}): IResNetConfig {
  const layers = IRESNET_LAYERS[name];
  if (!layers) throw new RangeError(`iresnetConfig: unknown depth '${name}' (expected ${Object.keys(IRESNET_LAYERS).join(', ')})`);
  return { ...IRESNET_DEFAULTS, ...overrides, layers };
}

/** The AdaFace `net.py` variant: subsampling shortcut in stage 1, dropout 0.4, a non-affine final BatchNorm1d. */
export function adafaceConfig(name: IResNetName, overrides: Partial<Omit<IResNetConfig, 'layers'>> = {}): IResNetConfig {
  return iresnetConfig(name, { dropout: 0.4, shortcut: 'subsample', featuresAffine: 'none', ...overrides });
}

/** Spatial side after the four stride-2 stages (a 3×3 pad-1 stride-2 conv maps n to ⌈n/2⌉). */
export function outputSide(inputSize: number, stages: number): number {
  let side = inputSize;
  for (let i = 0; i < stages; i++) side = Math.ceil(side / 2);
  return side;
}

class Subsample extends Layer {
  constructor(readonly stride: number) {
    super();
  }
  forward(input: Tensor): Tensor {
    return maxPool2d(input, 1, { stride: this.stride });
  }
  toOnnx(g: OnnxGraph, x: OnnxValue): OnnxValue {
    const side = (n: OnnxValue['shape'][number]) => windowOutput(n, 1, this.stride, 0, 0);
    return g.node('MaxPool', [x], [x.shape[0], x.shape[1], side(x.shape[2]), side(x.shape[3])], {
      kernel_shape: [1, 1],
      strides: [this.stride, this.stride],
    });
  }
}

/** The IR block: BN → conv3×3 → BN → PReLU → conv3×3(stride) → BN, plus the shortcut. */
export class IBasicBlock extends Layer {
  readonly bn1: BatchNorm2d;
  readonly conv1: Conv2d;
  readonly bn2: BatchNorm2d;
  readonly prelu: PReLU;
  readonly conv2: Conv2d;
  readonly bn3: BatchNorm2d;
  /** conv1×1 + BN when the shape changes (insightface's name); null for identity or subsampling. */
  readonly downsample: Sequential | null;
  private readonly subsample: Subsample | null;
  /** The residual branch, in order. */
  private readonly residual: readonly Layer[];

  constructor(inChannels: number, outChannels: number, stride: number, shortcut: ShortcutStyle = 'conv') {
    super();
    this.bn1 = this.module('bn1', new BatchNorm2d(inChannels));
    this.conv1 = this.module('conv1', new Conv2d(inChannels, outChannels, 3, { padding: 1, bias: false }));
    this.bn2 = this.module('bn2', new BatchNorm2d(outChannels));
    this.prelu = this.module('prelu', new PReLU(outChannels));
    this.conv2 = this.module('conv2', new Conv2d(outChannels, outChannels, 3, { stride, padding: 1, bias: false }));
    this.bn3 = this.module('bn3', new BatchNorm2d(outChannels));
    const reshapes = stride !== 1 || inChannels !== outChannels;
    const useConv = reshapes && (inChannels !== outChannels || shortcut === 'conv');
    this.downsample = this.module(
      'downsample',
      useConv ? new Sequential(new Conv2d(inChannels, outChannels, 1, { stride, bias: false }), new BatchNorm2d(outChannels)) : null,
    );
    this.subsample = reshapes && !useConv ? new Subsample(stride) : null;
    this.residual = [this.bn1, this.conv1, this.bn2, this.prelu, this.conv2, this.bn3];
  }

  /** x ↦ x, or its downsampled projection when the block changes the shape. */
  shortcut(x: Tensor): Tensor {
    return this.downsample?.forward(x) ?? this.subsample?.forward(x) ?? x;
  }

  /** BN3(conv2(PReLU(BN2(conv1(BN1(x)))))) + shortcut(x); the block's intermediates are freed on return. */
  forward(x: Tensor): Tensor {
    return tidy(() => chain(x, this.residual).add(this.shortcut(x)));
  }

  toOnnx(g: OnnxGraph, x: OnnxValue): OnnxValue {
    const residual = this.residual.reduce((value, layer) => layer.toOnnx(g, value), x);
    const shortcut = this.downsample?.toOnnx(g, x) ?? this.subsample?.toOnnx(g, x) ?? x;
    return g.add(residual, shortcut);
  }
}

/** One stage: a first block with `stride` (and the shortcut it needs), then `blocks − 1` identity blocks. */
export function makeStage(
  inChannels: number,
  outChannels: number,
  blocks: number,
  stride = 2,
  shortcut: ShortcutStyle = 'conv',
): Sequential {
  if (!(Number.isInteger(blocks) && blocks >= 1)) throw new RangeError(`makeStage: blocks must be a positive integer, got ${blocks}`);
  const list = [new IBasicBlock(inChannels, outChannels, stride, shortcut)];
  for (let i = 1; i < blocks; i++) list.push(new IBasicBlock(outChannels, outChannels, 1, shortcut));
  return new Sequential(...list);
}

/** Insightface's initialisation: conv weights N(0, 0.1); batch norms weight 1, bias 0 (their defaults). */
function initialiseInsightface(m: Module): void {
  if (m instanceof Conv2d) normal_(m.weight, 0, 0.1);
}

export interface IResNetOutput {
  /** Output of each stage, [B, widths[i], side_i, side_i]. */
  stages: Tensor[];
  /** The embedding f (not normalised), [B, embeddingSize]. */
  embedding: Tensor;
}

export class IResNet extends Module {
  readonly config: IResNetConfig;
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly prelu: PReLU;
  /** layer1..layer4 in order. */
  readonly stages: readonly Sequential[];
  readonly bn2: BatchNorm2d;
  readonly dropout: Dropout;
  readonly fc: Linear;
  readonly features: BatchNorm1d;
  /** Side of the last stage's map. */
  readonly outputSide: number;

  constructor(config: IResNetConfig) {
    super();
    validate(config);
    this.config = config;
    const { widths, layers } = config;
    this.conv1 = this.module('conv1', new Conv2d(3, widths[0], 3, { padding: 1, bias: false }));
    this.bn1 = this.module('bn1', new BatchNorm2d(widths[0]));
    this.prelu = this.module('prelu', new PReLU(widths[0]));
    this.stages = widths.map((w, i) =>
      this.module(`layer${i + 1}`, makeStage(i === 0 ? widths[0] : widths[i - 1], w, layers[i], 2, config.shortcut)),
    );
    const last = widths[widths.length - 1];
    this.outputSide = outputSide(config.inputSize, widths.length);
    this.bn2 = this.module('bn2', new BatchNorm2d(last));
    this.dropout = this.module('dropout', new Dropout(config.dropout));
    this.fc = this.module('fc', new Linear(last * this.outputSide * this.outputSide, config.embeddingSize));
    this.features = this.module('features', new BatchNorm1d(config.embeddingSize, { affine: config.featuresAffine !== 'none' }));
    if (this.features.weight) this.features.weight.requiresGrad = false;
    this.apply(initialiseInsightface);
  }

  /** conv3×3 → BN → PReLU on [B, 3, S, S] images. */
  stem(images: Tensor): Tensor {
    const [, c, h, w] = images.shape;
    const s = this.config.inputSize;
    if (images.ndim !== 4 || c !== 3 || h !== s || w !== s) {
      throw new RangeError(`IResNet: expected images [B, 3, ${s}, ${s}], got [${images.shape}]`);
    }
    return chain(images, [this.conv1, this.bn1, this.prelu]);
  }

  /** The embedding of the last stage's map: BN2d → flatten → dropout → fc → BN1d. */
  head(map: Tensor): Tensor {
    return tidy(() => chain(this.bn2.forward(map).flatten(1), [this.dropout, this.fc, this.features]));
  }

  /** The embedding f, [B, embeddingSize] (normalise it for cosine similarity; its norm is AdaFace's quality). */
  forward(images: Tensor): Tensor {
    return tidy(() => this.head(chain(this.stem(images), this.stages, true)));
  }

  /** The embedding together with every stage's output map. */
  forwardWithStages(images: Tensor): IResNetOutput {
    const stages: Tensor[] = [];
    let x = this.stem(images);
    for (const stage of this.stages) {
      x = stage.forward(x);
      stages.push(x);
    }
    return { stages, embedding: this.head(x) };
  }
}

function validate(config: IResNetConfig): void {
  const { layers, widths, inputSize, embeddingSize, dropout } = config;
  if (layers.length !== widths.length || layers.length === 0) {
    throw new RangeError(
      `IResNet: config.layers (${layers.length} stages) and config.widths (${widths.length}) must have the same non-zero length`,
    );
  }
  for (const [field, values] of [
    ['layers', layers],
    ['widths', widths],
  ] as const) {
    if (!values.every((v) => Number.isInteger(v) && v > 0))
      throw new RangeError(`IResNet: config.${field} must be positive integers, got [${values}]`);
  }
  if (!(Number.isInteger(inputSize) && inputSize >= 1))
    throw new RangeError(`IResNet: config.inputSize must be a positive integer, got ${inputSize}`);
  if (!(Number.isInteger(embeddingSize) && embeddingSize >= 1)) {
    throw new RangeError(`IResNet: config.embeddingSize must be a positive integer, got ${embeddingSize}`);
  }
  if (!(dropout >= 0 && dropout < 1)) throw new RangeError(`IResNet: config.dropout must be in [0, 1), got ${dropout}`);
}
