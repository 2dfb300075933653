// The stage-1 multi-branch network (SPEC §2): a shared IR-ResNet trunk (stem + stages 1–3), then two branches
// that each own a copy of stage 4 and a self-attention block — FR (face recognition: the embedding head) and
// SB (soft biometrics: one logit per attribute). Trunk and stage names follow insightface's IResNet (conv1, bn1,
// prelu, layer1..3; the branches' fr_layer4 / sb_layer4), so an IR backbone's weights map onto it by name.
import { PReLU } from '../nn/activation.js';
import { BatchNorm2d } from '../nn/batchnorm.js';
import { chain, type Sequential } from '../nn/containers.js';
import { Conv2d } from '../nn/conv.js';
import { Module, type StateDict } from '../nn/module.js';
import type { OnnxGraph, OnnxValue } from '../nn/onnx-graph.js';
import { type Tensor, tidy } from '../torch/index.js';
import { AttributeHead } from './attribute-head.js';
import { DlibMultiBranchNet } from './dlib-multi-branch.js';
import { EMBEDDING_HEAD_DEFAULTS, type Embedding, EmbeddingHead, type EmbeddingValues } from './embedding-head.js';
import { IRESNET_LAYERS, type IResNetName, makeStage, outputSide, type ShortcutStyle } from './iresnet.js';
import { SelfAttention } from './self-attention.js';

/** The family of the trunk and branch stages: insightface's IR-ResNet or dlib's ResNet-34 (150 chips, 128-d, see dlib-multi-branch.ts). */
export type MultiBranchBackbone = 'iresnet' | 'dlib';

export interface MultiBranchConfig {
  /** Trunk and branch stages: IR-ResNet blocks, or dlib's ResNet-34 (built by `createMultiBranchNet`). */
  backbone?: MultiBranchBackbone;
  /** IR-ResNet depth giving the blocks per stage. */
  depth?: IResNetName;
  /** Blocks per stage (4 numbers); overrides `depth`. */
  layers?: readonly number[];
  /** Channels of the stem/stage 1 and stages 2–4. */
  widths?: readonly number[];
  /** Side of the square input in pixels. */
  inputSize?: number;
  /** Number of binary attributes K of the SB head. */
  attributes?: number;
  /** FR embedding size. */
  embeddingSize?: number;
  /** Dropout of the FR head. */
  dropout?: number;
  /** Self-attention query/key reduction (d = C/reduction). */
  attentionReduction?: number;
  /** Shortcut of stride-2 blocks that keep their width (see iresnet.ts). */
  shortcut?: ShortcutStyle;
}

/** The one place the network's defaults live (SPEC §2); the training config's schema shows these. */
export const MULTI_BRANCH_DEFAULTS = {
  backbone: 'iresnet',
  depth: 'ir18',
  widths: [64, 128, 256, 512],
  inputSize: 112,
  /** Male, Big_Nose, Chubby, Narrow_Eyes, Bald. */
  attributes: 5,
  embeddingSize: EMBEDDING_HEAD_DEFAULTS.embeddingSize,
  dropout: EMBEDDING_HEAD_DEFAULTS.dropout,
  attentionReduction: 8,
  shortcut: 'conv',
} as const satisfies Required<Omit<MultiBranchConfig, 'layers'>>;

/** One branch's outputs after its self-attention block. */
export interface BranchTaps {
  /** F' = F + γ·A·V, [B, C, h, w] (C = widths[3], h = w = mapSide). */
  map: Tensor;
  /** Self-attention A, [B, N, N] (N = h·w). */
  A: Tensor;
  /** Values V, [B, N, C]. */
  V: Tensor;
}

/** What inference reads of the network, as graph values: FR embedding and norm, attribute logits, both branch maps. */
export interface MultiBranchValues extends EmbeddingValues {
  attributes: OnnxValue;
  frMap: OnnxValue;
  sbMap: OnnxValue;
}

export interface MultiBranchOutput extends Embedding {
  /** Attribute logits, [B, K]. */
  attributes: Tensor;
  fr: BranchTaps;
  sb: BranchTaps;
}

/** The resolved config (every field filled). */
export type ResolvedMultiBranchConfig = Required<Omit<MultiBranchConfig, 'depth'>>;

export function resolveMultiBranchConfig(config: MultiBranchConfig = {}): ResolvedMultiBranchConfig {
  const d = MULTI_BRANCH_DEFAULTS;
  const depth = config.depth ?? d.depth;
  if (!config.layers && !IRESNET_LAYERS[depth]) {
    throw new RangeError(`MultiBranchNet: config.depth must be one of ${Object.keys(IRESNET_LAYERS).join(', ')}, got '${depth}'`);
  }
  const resolved: ResolvedMultiBranchConfig = {
    backbone: config.backbone ?? d.backbone,
    layers: [...(config.layers ?? IRESNET_LAYERS[depth])],
    widths: [...(config.widths ?? d.widths)],
    inputSize: config.inputSize ?? d.inputSize,
    attributes: config.attributes ?? d.attributes,
    embeddingSize: config.embeddingSize ?? d.embeddingSize,
    dropout: config.dropout ?? d.dropout,
    attentionReduction: config.attentionReduction ?? d.attentionReduction,
    shortcut: config.shortcut ?? d.shortcut,
  };
  if (resolved.backbone !== 'iresnet' && resolved.backbone !== 'dlib') {
    throw new RangeError(`MultiBranchNet: config.backbone must be 'iresnet' or 'dlib', got '${resolved.backbone as string}'`);
  }
  for (const key of ['layers', 'widths'] as const) {
    const v = resolved[key];
    if (v.length !== 4 || !v.every((n) => Number.isInteger(n) && n > 0)) {
      throw new RangeError(`MultiBranchNet: config.${key} must be 4 positive integers, got [${v}]`);
    }
  }
  for (const key of ['inputSize', 'attributes', 'embeddingSize', 'attentionReduction'] as const) {
    const v = resolved[key];
    if (!(Number.isInteger(v) && v > 0)) throw new RangeError(`MultiBranchNet: config.${key} must be a positive integer, got ${v}`);
  }
  if (!(resolved.dropout >= 0 && resolved.dropout < 1))
    throw new RangeError(`MultiBranchNet: config.dropout must be in [0, 1), got ${resolved.dropout}`);
  if (resolved.shortcut !== 'conv' && resolved.shortcut !== 'subsample') {
    throw new RangeError(`MultiBranchNet: config.shortcut must be 'conv' or 'subsample', got '${resolved.shortcut}'`);
  }
  return resolved;
}

export class MultiBranchNet extends Module {
  readonly config: ResolvedMultiBranchConfig;
  /** Side of the stage-4 maps (⌈inputSize/16⌉). */
  readonly mapSide: number;
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly prelu: PReLU;
  /** Shared stages 1–3 (state-dict names layer1..layer3). */
  readonly trunkStages: readonly Sequential[];
  readonly fr_layer4: Sequential;
  readonly sb_layer4: Sequential;
  readonly fr_attention: SelfAttention;
  readonly sb_attention: SelfAttention;
  readonly fr_head: EmbeddingHead;
  readonly sb_head: AttributeHead;

  constructor(config: MultiBranchConfig = {}) {
    super();
    const c = resolveMultiBranchConfig(config);
    if (c.backbone !== 'iresnet') throw new RangeError(`MultiBranchNet: backbone '${c.backbone}' is built by createMultiBranchNet`);
    this.config = c;
    const { widths: w, layers } = c;
    this.conv1 = this.module('conv1', new Conv2d(3, w[0], 3, { padding: 1, bias: false }));
    this.bn1 = this.module('bn1', new BatchNorm2d(w[0]));
    this.prelu = this.module('prelu', new PReLU(w[0]));
    this.trunkStages = [0, 1, 2].map((i) =>
      this.module(`layer${i + 1}`, makeStage(i === 0 ? w[0] : w[i - 1], w[i], layers[i], 2, c.shortcut)),
    );
    this.fr_layer4 = this.module('fr_layer4', makeStage(w[2], w[3], layers[3], 2, c.shortcut));
    this.sb_layer4 = this.module('sb_layer4', makeStage(w[2], w[3], layers[3], 2, c.shortcut));
    this.fr_attention = this.module('fr_attention', new SelfAttention(w[3], { reduction: c.attentionReduction }));
    this.sb_attention = this.module('sb_attention', new SelfAttention(w[3], { reduction: c.attentionReduction }));
    this.mapSide = outputSide(c.inputSize, 4);
    this.fr_head = this.module(
      'fr_head',
      new EmbeddingHead(w[3], this.mapSide, this.mapSide, { embeddingSize: c.embeddingSize, dropout: c.dropout }),
    );
    this.sb_head = this.module('sb_head', new AttributeHead(w[3], c.attributes));
  }

  /** The shared trunk: stem and stages 1–3 on images [B, 3, S, S] → [B, widths[2], S/8, S/8]. */
  trunk(images: Tensor): Tensor {
    const s = this.config.inputSize;
    if (images.ndim !== 4 || images.shape[1] !== 3 || images.shape[2] !== s || images.shape[3] !== s) {
      throw new RangeError(`MultiBranchNet: expected images [B, 3, ${s}, ${s}], got [${images.shape}]`);
    }
    return chain(images, [this.conv1, this.bn1, this.prelu, ...this.trunkStages]);
  }

  /** Both branches' stage 4 and self-attention, without the heads (what stage 2 fuses). */
  branches(trunk: Tensor): { fr: BranchTaps; sb: BranchTaps } {
    const branch = (stage: Sequential, attention: SelfAttention) => tidy(() => attention.forward(stage.forward(trunk)));
    return { fr: branch(this.fr_layer4, this.fr_attention), sb: branch(this.sb_layer4, this.sb_attention) };
  }

  /** Branch maps and attention of images [B, 3, S, S], skipping both heads. */
  forwardBranches(images: Tensor): { fr: BranchTaps; sb: BranchTaps } {
    return tidy(() => this.branches(this.trunk(images)));
  }

  /** Branches and heads on the trunk's features [B, widths[2], S/8, S/8] (what a cache of the frozen trunk holds). */
  forwardFromTrunk(trunk: Tensor): MultiBranchOutput {
    const { fr, sb } = this.branches(trunk);
    const { embedding, norm } = this.fr_head.forward(fr.map);
    return { embedding, norm, attributes: this.sb_head.forward(sb.map), fr, sb };
  }

  forward(images: Tensor): MultiBranchOutput {
    return tidy(() => this.forwardFromTrunk(this.trunk(images)));
  }

  toOnnx(g: OnnxGraph, images: OnnxValue): MultiBranchValues {
    const trunk = [this.conv1, this.bn1, this.prelu, ...this.trunkStages].reduce((x, layer) => layer.toOnnx(g, x), images);
    const frMap = this.fr_attention.toOnnx(g, this.fr_layer4.toOnnx(g, trunk));
    const sbMap = this.sb_attention.toOnnx(g, this.sb_layer4.toOnnx(g, trunk));
    return { ...this.fr_head.toOnnx(g, frMap), attributes: this.sb_head.toOnnx(g, sbMap), frMap, sbMap };
  }
}

/**
 * Renames an IResNet state dict (insightface names) to this network's: the stem and stages 1–3 keep their names,
 * stage 4 goes to both branches, and bn2 / fc / features become the FR head's bn / fc / feat. Load the result with
 * `loadStateDict(mapped, { strict: false })`: the self-attention blocks and the SB head stay as initialised.
 */
export function iresnetToMultiBranch(state: StateDict): StateDict {
  const out: StateDict = new Map();
  const headNames: Record<string, string> = { bn2: 'fr_head.bn', fc: 'fr_head.fc', features: 'fr_head.feat' };
  for (const [key, value] of state) {
    const [first, ...rest] = key.split('.');
    const tail = rest.join('.');
    if (first === 'layer4') {
      out.set(`fr_layer4.${tail}`, value);
      out.set(`sb_layer4.${tail}`, value);
    } else if (first in headNames) {
      out.set(`${headNames[first]}.${tail}`, value);
    } else {
      out.set(key, value);
    }
  }
  return out;
}

/** Either backbone's multi-branch network (same outputs: embedding, norm, attributes, FR/SB taps). */
export type BranchNetwork = MultiBranchNet | DlibMultiBranchNet;

/** The multi-branch network of a config, on its backbone. */
export function createMultiBranchNet(config: MultiBranchConfig = {}): BranchNetwork {
  const resolved = resolveMultiBranchConfig(config);
  return resolved.backbone === 'dlib' ? new DlibMultiBranchNet(resolved) : new MultiBranchNet(config);
}
