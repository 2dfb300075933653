// The CATFace model (SPEC §2, §5) as one module: the multi-branch network and, once stage 2 is trained, the
// fusion with its fused head. Its children are named `network` and `fusion`, so its state dict is exactly the
// saved model's weights (`network.conv1.weight`, `fusion.head.fc.weight`, …).
import { Module } from '../nn/module.js';
import type { OnnxGraph, OnnxValue } from '../nn/onnx-graph.js';
import type { Tensor } from '../torch/index.js';
import * as torch from '../torch/index.js';
import type { EmbeddingValues } from './embedding-head.js';
import { createFusion } from './fusion.js';
import type { Fusion, FusionOptions, ResolvedFusionOptions } from './fusion-base.js';
import {
  type BranchNetwork,
  createMultiBranchNet,
  type MultiBranchConfig,
  type MultiBranchValues,
  type ResolvedMultiBranchConfig,
} from './multi-branch.js';

/** Which embedding to compute: the fused one (CATFace) or the FR branch's own (the baseline). */
export type EmbeddingKind = 'fused' | 'fr';

export interface CATFaceConfig {
  network: MultiBranchConfig;
  /** The fusion's options (its map geometry comes from the network), or null for a stage-1-only model. */
  fusion: FusionOptions | null;
}

export interface ResolvedCATFaceConfig {
  network: ResolvedMultiBranchConfig;
  fusion: ResolvedFusionOptions | null;
}

/** What inference reads for a batch: unit embedding [B, E], FR feature norm [B] (quality), attribute probabilities [B, K]. */
export interface CATFaceInference {
  embedding: Tensor;
  quality: Tensor;
  attributes: Tensor;
}

export class CATFace extends Module {
  readonly network: BranchNetwork;
  readonly fusion: Fusion | null;

  /** Builds both modules from a config, the fusion sized to the network's stage-4 maps. */
  static create(config: CATFaceConfig): CATFace {
    const network = createMultiBranchNet(config.network);
    const fusion = config.fusion
      ? createFusion({
          ...config.fusion,
          channels: network.config.widths[3],
          height: network.mapSide,
          width: network.mapSide,
        })
      : null;
    return new CATFace(network, fusion);
  }

  /** Wraps existing modules (shared, not copied); the fusion must take the network's stage-4 maps. */
  constructor(network: BranchNetwork, fusion: Fusion | null) {
    super();
    if (fusion) {
      const [c, s] = [network.config.widths[3], network.mapSide];
      if (fusion.channels !== c || fusion.height !== s || fusion.width !== s) {
        throw new RangeError(
          `CATFace: the fusion takes [${fusion.channels}, ${fusion.height}, ${fusion.width}] maps, the network gives [${c}, ${s}, ${s}]`,
        );
      }
    }
    this.network = this.module('network', network);
    this.fusion = this.module('fusion', fusion);
  }

  /** The resolved configs of both modules: what rebuilds this model. */
  get config(): ResolvedCATFaceConfig {
    return { network: this.network.config, fusion: this.fusion?.options ?? null };
  }

  /** Side of the aligned square input. */
  get imageSize(): number {
    return this.network.config.inputSize;
  }

  /** The same network without the fusion (shares its modules): a stage-1-only model. */
  withoutFusion(): CATFace {
    return new CATFace(this.network, null);
  }

  /** Network (+ fusion) on normalised images [B, 3, S, S], without autograd; tensors owned by the caller. */
  infer(images: Tensor, kind: EmbeddingKind): CATFaceInference {
    const fusion = this.fusion;
    if (kind === 'fused' && !fusion) throw new Error("CATFace: this model has no fusion (stage 2 was not trained); use kind 'fr'");
    return torch.tidy(() =>
      torch.noGrad(() => {
        const out = this.network.forward(images);
        const embedding = fusion && kind === 'fused' ? fusion.forward(out.fr.map, out.sb.map).embedding : out.embedding;
        return { embedding, quality: out.norm.reshape([-1]), attributes: out.attributes.sigmoid() };
      }),
    );
  }

  /** The network's inference values and, with a fusion, the fused embedding: what `infer` computes, as graph nodes. */
  toOnnx(g: OnnxGraph, images: OnnxValue): { network: MultiBranchValues; fused: EmbeddingValues | null } {
    const network = this.network.toOnnx(g, images);
    return { network, fused: this.fusion?.toOnnx(g, network.frMap, network.sbMap) ?? null };
  }
}
