// The objective of each training stage (SPEC §4–§5), as pure functions of the modules and one batch.
// Stage 1: HQ and LQ twins go through the network as one batch (BatchNorm sees both); the FR margin loss and
// the attribute loss apply to both halves; the distillation pulls each branch's LQ attention (A, V) towards
// its HQ attention, detached. Stage 2: the fused head's margin loss on the fused embedding of both halves.

import { attributeLoss } from '../losses/attribute-loss.js';
import { type DistillationOptions, distillationLoss } from '../losses/distillation.js';
import type { BranchTaps } from '../models/multi-branch.js';
import type { Tensor } from '../torch/index.js';
import * as torch from '../torch/index.js';
import type { FusionNetwork, MarginLoss, MultiBranchNetwork } from './contracts.js';

export interface Stage1Weights {
  lambdaFR: number;
  lambdaSB: number;
  lambdaDist: number;
  /** λ_k per attribute [K], or null for all 1. */
  attributeWeights: Tensor | null;
  distill: DistillationOptions;
}

export interface Stage1Losses {
  total: Tensor;
  fr: Tensor;
  sb: Tensor;
  dist: Tensor;
}

function halves(taps: BranchTaps, b: number): [BranchTaps, BranchTaps] {
  const part = (start: number): BranchTaps => ({
    map: taps.map.narrow(0, start, b),
    A: taps.A.narrow(0, start, b),
    V: taps.V.narrow(0, start, b),
  });
  return [part(0), part(b)];
}

/** L = λ_FR·L_margin + λ_SB·L_SB + λ_dist·(L_dist^FR + L_dist^SB) on the HQ batch `hq` and its LQ twin `lq`. */
export function stage1Losses(
  network: MultiBranchNetwork,
  frHead: MarginLoss,
  batch: { hq: Tensor; lq: Tensor; labels: Tensor; attributes: Tensor },
  weights: Stage1Weights,
): Stage1Losses {
  const b = batch.hq.shape[0];
  const out = network.forward(torch.cat([batch.hq, batch.lq]));
  const labels = torch.cat([batch.labels, batch.labels]);
  const fr = frHead.forward(out.embedding, out.norm, labels);
  const sb = attributeLoss(out.attributes, torch.cat([batch.attributes, batch.attributes]), { weights: weights.attributeWeights });
  const [frTeacher, frStudent] = halves(out.fr, b);
  const [sbTeacher, sbStudent] = halves(out.sb, b);
  const dist = distillationLoss(frTeacher, frStudent, weights.distill).add(distillationLoss(sbTeacher, sbStudent, weights.distill));
  const total = fr.mul(weights.lambdaFR).add(sb.mul(weights.lambdaSB)).add(dist.mul(weights.lambdaDist));
  return { total, fr, sb, dist };
}

/**
 * The stage-2 loss: the fused head's margin loss on both halves. With `frozen` the stage-1 network runs
 * without autograd (set it to eval mode first), so no graph or gradient is kept for it.
 */
export function stage2Loss(
  network: MultiBranchNetwork,
  fusion: FusionNetwork,
  fusedHead: MarginLoss,
  batch: { hq: Tensor; lq: Tensor; labels: Tensor },
  frozen: boolean,
): Tensor {
  const images = torch.cat([batch.hq, batch.lq]);
  // Frozen, the stage-1 heads neither enter this loss nor update (eval mode): skip their work. Unfrozen, their
  // BatchNorm statistics follow the moving trunk, so they run.
  const out = frozen
    ? torch.noGrad(() => (network.forwardBranches ? network.forwardBranches(images) : network.forward(images)))
    : network.forward(images);
  const fused = fusion.forward(out.fr.map, out.sb.map);
  return fusedHead.forward(fused.embedding, fused.norm, torch.cat([batch.labels, batch.labels]));
}
