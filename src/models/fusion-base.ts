// What every stage-2 fusion shares (SPEC §5): it takes the FR and SB branch maps [B, C, H, W], fuses them into
// one map, and the fused head (the FR head of §2 on that map) turns it into an embedding. Subclasses build their
// layers, then `attachHead(fusedChannels)`, so state-dict keys read `<fusion layers>…, head.…`.
import { Module } from '../nn/module.js';
import type { OnnxGraph, OnnxValue } from '../nn/onnx-graph.js';
import { type Tensor, tidy } from '../torch/index.js';
import {
  EMBEDDING_HEAD_DEFAULTS,
  type Embedding,
  EmbeddingHead,
  type EmbeddingHeadConfig,
  type EmbeddingValues,
  resolveEmbeddingHeadConfig,
} from './embedding-head.js';

export type FusionKind = 'none' | 'concat' | 'add' | 'se' | 'cross' | 'catf' | 'catf-no-mffnl' | 'catf-no-caf';
export const fusionKinds: readonly FusionKind[] = ['none', 'concat', 'add', 'se', 'cross', 'catf', 'catf-no-mffnl', 'catf-no-caf'];

/** What a fusion is, apart from the geometry of the maps it fuses (which comes from the network). */
export interface FusionOptions {
  /** Which fusion: 'catf' (default) or an ablation baseline (SPEC §5, paper Tables II and VIII). */
  kind?: FusionKind;
  /** Attention heads of the cross-attention (CATF, 'cross'); must divide C. */
  heads?: number;
  /** CAF channel groups G; must divide 2C. */
  groups?: number;
  /** MFFNL expand ratio. */
  expandRatio?: number;
  /** SE gating bottleneck reduction ('se'). */
  seReduction?: number;
  /** Fused embedding head. */
  head?: EmbeddingHeadConfig;
}

/** Every option of a fusion, filled in (what a model directory stores). */
export interface ResolvedFusionOptions extends Required<Omit<FusionOptions, 'head'>> {
  head: Required<EmbeddingHeadConfig>;
}

/** The one place the fusion defaults live (SPEC §5); the training config's schema shows these. */
export const FUSION_DEFAULTS: ResolvedFusionOptions = {
  kind: 'catf',
  heads: 8,
  groups: 8,
  expandRatio: 4,
  seReduction: 16,
  head: EMBEDDING_HEAD_DEFAULTS,
};

export interface FusionConfig extends FusionOptions {
  /** Channels C of each branch map. Required. */
  channels: number;
  /** Spatial size of the branch maps. Required. */
  height: number;
  width: number;
}

/** Fills the defaults of `options` and checks its integers; errors name the field. */
export function resolveFusionOptions(options: FusionOptions = {}): ResolvedFusionOptions {
  const kind = options.kind ?? FUSION_DEFAULTS.kind;
  if (!fusionKinds.includes(kind))
    throw new RangeError(`fusion: config.kind must be one of ${fusionKinds.join(', ')}, got '${kind as string}'`);
  const resolved: ResolvedFusionOptions = {
    kind,
    heads: options.heads ?? FUSION_DEFAULTS.heads,
    groups: options.groups ?? FUSION_DEFAULTS.groups,
    expandRatio: options.expandRatio ?? FUSION_DEFAULTS.expandRatio,
    seReduction: options.seReduction ?? FUSION_DEFAULTS.seReduction,
    head: resolveEmbeddingHeadConfig(options.head),
  };
  for (const key of ['heads', 'groups', 'expandRatio', 'seReduction'] as const) {
    const v = resolved[key];
    if (!(Number.isInteger(v) && v > 0)) throw new RangeError(`Fusion(${kind}): config.${key} must be a positive integer, got ${v}`);
  }
  return resolved;
}

export abstract class Fusion extends Module {
  readonly channels: number;
  readonly height: number;
  readonly width: number;
  /** The options this fusion was built with, defaults filled in (`kind` is the class's own). */
  readonly options: ResolvedFusionOptions;
  private fusedHead: EmbeddingHead | null = null;

  constructor(
    readonly kind: FusionKind,
    config: FusionConfig,
  ) {
    super();
    for (const key of ['channels', 'height', 'width'] as const) {
      const v = config[key];
      if (!(Number.isInteger(v) && v > 0)) throw new RangeError(`Fusion(${kind}): config.${key} must be a positive integer, got ${v}`);
    }
    this.channels = config.channels;
    this.height = config.height;
    this.width = config.width;
    this.options = { ...resolveFusionOptions(config), kind };
  }

  /** The fused embedding head. */
  get head(): EmbeddingHead {
    if (!this.fusedHead) throw new Error(`${this.constructor.name}: attachHead was not called`);
    return this.fusedHead;
  }

  protected attachHead(fusedChannels: number): void {
    this.fusedHead = this.module('head', new EmbeddingHead(fusedChannels, this.height, this.width, this.options.head));
  }

  /** The fused map (before the head). */
  abstract fuse(fr: Tensor, sb: Tensor): Tensor;

  forward(fr: Tensor, sb: Tensor): Embedding {
    this.checkMaps(fr, sb);
    return tidy(() => this.head.forward(this.fuse(fr, sb)));
  }

  /** `fuse` as graph nodes. */
  abstract fuseOnnx(g: OnnxGraph, fr: OnnxValue, sb: OnnxValue): OnnxValue;

  /** `forward` as graph nodes: the fused embedding and its norm. */
  toOnnx(g: OnnxGraph, fr: OnnxValue, sb: OnnxValue): EmbeddingValues {
    return this.head.toOnnx(g, this.fuseOnnx(g, fr, sb));
  }

  protected checkMaps(fr: Tensor, sb: Tensor): void {
    const expected = [this.channels, this.height, this.width];
    for (const [name, t] of [
      ['FR', fr],
      ['SB', sb],
    ] as const) {
      if (t.ndim !== 4 || t.shape.slice(1).some((s, i) => s !== expected[i])) {
        throw new RangeError(`${this.constructor.name}: the ${name} map must be [B, ${expected.join(', ')}], got [${t.shape}]`);
      }
    }
    if (fr.shape[0] !== sb.shape[0])
      throw new RangeError(`${this.constructor.name}: FR and SB batch sizes differ (${fr.shape[0]} vs ${sb.shape[0]})`);
  }
}
