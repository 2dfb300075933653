// What every stage-2 fusion shares (SPEC §5): it takes the FR and SB branch maps [B, C, H, W], fuses them into
// one map, and the fused head (the FR head of §2 on that map) turns it into an embedding. Subclasses build their
// layers, then `attachHead(fusedChannels)`, so state-dict keys read `<fusion layers>…, head.…`.
import { Module } from '../nn/module.js';
import type { Tensor } from '../torch/index.js';
import { type Embedding, EmbeddingHead, type EmbeddingHeadConfig } from './embedding-head.js';

export type FusionKind = 'none' | 'concat' | 'add' | 'se' | 'cross' | 'catf' | 'catf-no-mffnl' | 'catf-no-caf';
export const fusionKinds: readonly FusionKind[] = ['none', 'concat', 'add', 'se', 'cross', 'catf', 'catf-no-mffnl', 'catf-no-caf'];

export interface FusionConfig {
  /** Which fusion: 'catf' (default) or an ablation baseline (SPEC §5, paper Tables II and VIII). */
  kind?: FusionKind;
  /** Channels C of each branch map. Required. */
  channels: number;
  /** Spatial size of the branch maps. Required. */
  height: number;
  width: number;
  /** Attention heads of the cross-attention (CATF, 'cross'). Default 8; must divide C. */
  heads?: number;
  /** CAF channel groups G. Default 8; must divide 2C. */
  groups?: number;
  /** MFFNL expand ratio. Default 4. */
  expandRatio?: number;
  /** SE gating bottleneck reduction ('se'). Default 16. */
  seReduction?: number;
  /** Fused embedding head (embedding size 512, dropout 0 by default). */
  head?: EmbeddingHeadConfig;
}

export abstract class Fusion extends Module {
  readonly channels: number;
  readonly height: number;
  readonly width: number;
  private fusedHead: EmbeddingHead | null = null;

  constructor(
    readonly kind: FusionKind,
    protected readonly config: FusionConfig,
  ) {
    super();
    for (const key of ['channels', 'height', 'width'] as const) {
      const v = config[key];
      if (!(Number.isInteger(v) && v > 0)) throw new RangeError(`Fusion(${kind}): config.${key} must be a positive integer, got ${v}`);
    }
    this.channels = config.channels;
    this.height = config.height;
    this.width = config.width;
  }

  /** The fused embedding head. */
  get head(): EmbeddingHead {
    if (!this.fusedHead) throw new Error(`${this.constructor.name}: attachHead was not called`);
    return this.fusedHead;
  }

  protected attachHead(fusedChannels: number): void {
    this.fusedHead = this.module('head', new EmbeddingHead(fusedChannels, this.height, this.width, this.config.head));
  }

  /** The fused map (before the head). */
  abstract fuse(fr: Tensor, sb: Tensor): Tensor;

  forward(fr: Tensor, sb: Tensor): Embedding {
    this.checkMaps(fr, sb);
    const fused = this.fuse(fr, sb);
    const out = this.head.forward(fused);
    if (fused !== fr) fused.dispose();
    return out;
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

/** A positive integer config field or its default, with an error naming the field. */
export function fusionInt(
  kind: FusionKind,
  config: FusionConfig,
  key: 'heads' | 'groups' | 'expandRatio' | 'seReduction',
  fallback: number,
): number {
  const v = config[key] ?? fallback;
  if (!(Number.isInteger(v) && v > 0)) throw new RangeError(`Fusion(${kind}): config.${key} must be a positive integer, got ${v}`);
  return v;
}
