// The objective of each training stage (SPEC §4–§5), as pure functions of the modules and one batch.
// Stage 1: HQ and LQ twins go through the network as one batch (BatchNorm sees both); the FR margin loss and
// the attribute loss apply to both halves; the distillation pulls each branch's LQ attention (A, V) towards
// its HQ attention, detached. Stage 2: the fused head's margin loss on the fused embedding of both halves.
// Images labelled −1 (identities with too few images for a class) skip the margin loss but feed every other
// term. With a frozen teacher (the pretrained network), 1 − cos(teacher(HQ), student embedding of the LQ twin)
// is added in both stages: it needs no identity label, so every training image contributes.

import { attributeLoss } from '../losses/attribute-loss.js';
import { type DistillationOptions, distillationLoss } from '../losses/distillation.js';
import type { BranchTaps } from '../models/multi-branch.js';
import type { Tensor } from '../torch/index.js';
import * as torch from '../torch/index.js';
import type { EmbeddingTeacher, FusionNetwork, MarginLoss, MultiBranchNetwork } from './contracts.js';

export interface Stage1Weights {
  lambdaFR: number;
  lambdaSB: number;
  lambdaDist: number;
  /** Weight of the teacher's embedding distillation (0: none). */
  lambdaTeacher?: number;
  /** λ_k per attribute [K], or null for all 1. */
  attributeWeights: Tensor | null;
  distill: DistillationOptions;
}

export interface Stage1Losses {
  total: Tensor;
  fr: Tensor;
  sb: Tensor;
  dist: Tensor;
  teacher: Tensor;
}

function halves(taps: BranchTaps, b: number): [BranchTaps, BranchTaps] {
  const part = (start: number): BranchTaps => ({
    map: taps.map.narrow(0, start, b),
    A: taps.A.narrow(0, start, b),
    V: taps.V.narrow(0, start, b),
  });
  return [part(0), part(b)];
}

/** The margin loss over the rows whose label is ≥ 0 (0 when fewer than two are). */
export function labelledMargin(head: MarginLoss, embedding: Tensor, norm: Tensor, labels: Tensor): Tensor {
  const keep = (torch.callOp('aten::nonzero', [labels.ge(0)]) as Tensor).view([-1]);
  if (keep.shape[0] === labels.shape[0]) return head.forward(embedding, norm, labels);
  if (keep.shape[0] < 2) return embedding.sum().mul(0);
  return head.forward(embedding.indexSelect(0, keep), norm.indexSelect(0, keep), labels.indexSelect(0, keep));
}

/** 1 − cos(teacher(HQ), student LQ embedding), batch mean; 0 without a teacher. */
function teacherLoss(teacher: EmbeddingTeacher | null, hq: Tensor, studentLq: Tensor): Tensor {
  if (!teacher) return studentLq.sum().mul(0);
  const target = torch.noGrad(() => teacher.embed(hq));
  return torch.F.cosineSimilarity(target, studentLq, 1).rsub(1).mean();
}

/** L = λ_FR·L_margin + λ_SB·L_SB + λ_dist·(L_dist^FR + L_dist^SB) on the HQ batch `hq` and its LQ twin `lq`. */
export function stage1Losses(
  network: MultiBranchNetwork,
  frHead: MarginLoss,
  batch: { hq: Tensor; lq: Tensor; labels: Tensor; attributes: Tensor },
  weights: Stage1Weights,
  teacher: EmbeddingTeacher | null = null,
): Stage1Losses {
  const b = batch.hq.shape[0];
  const out = network.forward(torch.cat([batch.hq, batch.lq]));
  const labels = torch.cat([batch.labels, batch.labels]);
  const fr = labelledMargin(frHead, out.embedding, out.norm, labels);
  const sb = attributeLoss(out.attributes, torch.cat([batch.attributes, batch.attributes]), { weights: weights.attributeWeights });
  const [frTeacher, frStudent] = halves(out.fr, b);
  const [sbTeacher, sbStudent] = halves(out.sb, b);
  const dist = distillationLoss(frTeacher, frStudent, weights.distill).add(distillationLoss(sbTeacher, sbStudent, weights.distill));
  const distilled = teacherLoss((weights.lambdaTeacher ?? 0) > 0 ? teacher : null, batch.hq, out.embedding.narrow(0, b, b));
  const total = fr
    .mul(weights.lambdaFR)
    .add(sb.mul(weights.lambdaSB))
    .add(dist.mul(weights.lambdaDist))
    .add(distilled.mul(weights.lambdaTeacher ?? 0));
  return { total, fr, sb, dist, teacher: distilled };
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
  teacher: { network: EmbeddingTeacher; weight: number } | null = null,
): Tensor {
  const images = torch.cat([batch.hq, batch.lq]);
  // Frozen, the stage-1 heads neither enter this loss nor update (eval mode): skip their work. Unfrozen, their
  // BatchNorm statistics follow the moving trunk, so they run.
  const out = frozen
    ? torch.noGrad(() => (network.forwardBranches ? network.forwardBranches(images) : network.forward(images)))
    : network.forward(images);
  const fused = fusion.forward(out.fr.map, out.sb.map);
  const margin = labelledMargin(fusedHead, fused.embedding, fused.norm, torch.cat([batch.labels, batch.labels]));
  if (!teacher || teacher.weight === 0) return margin;
  const b = batch.hq.shape[0];
  return margin.add(teacherLoss(teacher.network, batch.hq, fused.embedding.narrow(0, b, b)).mul(teacher.weight));
}
