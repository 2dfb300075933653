// The objective of each training stage (SPEC §4–§5), as pure functions of the modules and one batch.
// Stage 1: HQ and LQ twins go through the network as one batch (BatchNorm sees both); the FR margin loss and
// the attribute loss apply to both halves; the distillation pulls each branch's LQ attention (A, V) towards
// its HQ attention, detached. Stage 2: the fused head's margin loss on the fused embedding of both halves.
// Images labelled −1 (identities with too few images for a class) skip the margin loss but feed every other
// term. With a frozen teacher (the pretrained network), 1 − cos(teacher(HQ), student embedding of the LQ twin)
// is added in both stages: it needs no identity label, so every training image contributes; the same term on
// the HQ embedding keeps clean photos where the teacher has them. Twins may be images or the frozen shared
// trunk's cached features (`fromTrunk`): the same terms, the trunk skipped. With a bank of the teacher's
// embeddings of every training photo (a trunk cache holds it), a contrastive term on the LQ embedding
// (src/losses/teacher-bank.ts) can join them.

import { attributeLoss } from '../losses/attribute-loss.js';
import { type DistillationOptions, distillationLoss } from '../losses/distillation.js';
import { type TeacherBank, teacherBankLoss } from '../losses/teacher-bank.js';
import type { BranchTaps, MultiBranchOutput } from '../models/multi-branch.js';
import type { Tensor } from '../torch/index.js';
import * as torch from '../torch/index.js';
import type { EmbeddingTeacher, FusionNetwork, MarginLoss, MultiBranchNetwork } from './contracts.js';

export interface Stage1Weights {
  lambdaFR: number;
  lambdaSB: number;
  lambdaDist: number;
  /** Weight of the teacher's embedding distillation to the LQ embedding (0: none). */
  lambdaTeacher?: number;
  /** Weight of the same distillation to the HQ embedding (0: none). */
  lambdaTeacherHQ?: number;
  /** Weight of the fused head's margin loss in stage 2 (default 1). */
  lambdaFused?: number;
  /** λ_k per attribute [K], or null for all 1. */
  attributeWeights: Tensor | null;
  distill: DistillationOptions;
  /** The contrastive distillation against the teacher's bank (stage 1, LQ embedding; batches carry `rows`). */
  teacherBank?: TeacherBank & { weight: number; temperature: number };
}

export interface Stage1Losses {
  total: Tensor;
  fr: Tensor;
  sb: Tensor;
  dist: Tensor;
  teacher: Tensor;
  teacherHq: Tensor;
  /** The teacher-bank term (0 without a bank). */
  bank: Tensor;
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
  if (head.skipsUnlabelled) return head.forward(embedding, norm, labels);
  const keep = (torch.callOp('aten::nonzero', [labels.ge(0)]) as Tensor).view([-1]);
  if (keep.shape[0] === labels.shape[0]) return head.forward(embedding, norm, labels);
  if (keep.shape[0] < 2) return embedding.sum().mul(0);
  return head.forward(embedding.indexSelect(0, keep), norm.indexSelect(0, keep), labels.indexSelect(0, keep));
}

/** The twins a stage's loss reads: normalised images, or (`fromTrunk`) the frozen trunk's features of them. */
export interface TwinBatch {
  hq: Tensor;
  lq: Tensor;
  labels: Tensor;
  /** Inputs are the features of the trunk's first `fromTrunk` blocks (a trunk cache), not images. */
  fromTrunk?: number;
  /** The frozen teacher's unit HQ embedding [B, E], when cached (else the teacher runs on `hq`). */
  teacher?: Tensor;
  /** Each sample's row in the training set [B] (int64): its target in the teacher's bank. */
  rows?: Tensor;
}

function forwardTwins(network: MultiBranchNetwork, batch: TwinBatch): MultiBranchOutput {
  const input = torch.cat([batch.hq, batch.lq]);
  if (batch.fromTrunk === undefined) return network.forward(input);
  if (!network.forwardFromTrunk) throw new Error('training on trunk features needs a network with forwardFromTrunk');
  return network.forwardFromTrunk(input, batch.fromTrunk);
}

/** The teacher's unit HQ embedding: the cached one, or the teacher run on the HQ images (null without a teacher). */
function teacherTarget(teacher: EmbeddingTeacher | null, batch: TwinBatch): Tensor | null {
  if (batch.teacher) return batch.teacher;
  if (!teacher) return null;
  if (batch.fromTrunk !== undefined) throw new Error('a trunk-feature batch needs its cached teacher embedding');
  return torch.noGrad(() => teacher.embed(batch.hq));
}

/** 1 − cos(target, student embedding), batch mean; 0 without a target. */
function teacherLoss(target: Tensor | null, student: Tensor): Tensor {
  if (!target) return student.sum().mul(0);
  return torch.F.cosineSimilarity(target, student, 1).rsub(1).mean();
}

/**
 * L = λ_FR·L_margin + λ_SB·L_SB + λ_dist·(L_dist^FR + L_dist^SB) + λ_T·(1 − cos(T(HQ), LQ)) + λ_THQ·(1 − cos(T(HQ), HQ))
 * (+ λ_bank·L_bank(LQ)) on the HQ batch `hq` and its LQ twin `lq`.
 */
export function stage1Losses(
  network: MultiBranchNetwork,
  frHead: MarginLoss,
  batch: TwinBatch & { attributes: Tensor },
  weights: Stage1Weights,
  teacher: EmbeddingTeacher | null = null,
): Stage1Losses {
  const b = batch.hq.shape[0];
  const out = forwardTwins(network, batch);
  const labels = torch.cat([batch.labels, batch.labels]);
  const fr = labelledMargin(frHead, out.embedding, out.norm, labels);
  const sb = attributeLoss(out.attributes, torch.cat([batch.attributes, batch.attributes]), { weights: weights.attributeWeights });
  const [frTeacher, frStudent] = halves(out.fr, b);
  const [sbTeacher, sbStudent] = halves(out.sb, b);
  const dist = distillationLoss(frTeacher, frStudent, weights.distill).add(distillationLoss(sbTeacher, sbStudent, weights.distill));
  const [lambdaT, lambdaTHQ] = [weights.lambdaTeacher ?? 0, weights.lambdaTeacherHQ ?? 0];
  const target = lambdaT > 0 || lambdaTHQ > 0 ? teacherTarget(teacher, batch) : null;
  const lqEmbedding = out.embedding.narrow(0, b, b);
  const distilled = teacherLoss(target, lqEmbedding);
  const distilledHq = teacherLoss(target, out.embedding.narrow(0, 0, b));
  const bank = weights.teacherBank;
  if (bank && !batch.rows) throw new Error('the teacher-bank term needs batches that carry their rows (a trunk cache source)');
  const contrast = bank ? teacherBankLoss(lqEmbedding, bank, batch.rows as Tensor, bank.temperature) : fr.mul(0);
  const total = fr
    .mul(weights.lambdaFR)
    .add(sb.mul(weights.lambdaSB))
    .add(dist.mul(weights.lambdaDist))
    .add(distilled.mul(lambdaT))
    .add(distilledHq.mul(lambdaTHQ))
    .add(contrast.mul(bank?.weight ?? 0));
  return { total, fr, sb, dist, teacher: distilled, teacherHq: distilledHq, bank: contrast };
}

/**
 * The stage-2 loss: the fused head's margin loss on both halves (× `marginWeight`), plus the teacher's distillation to the fused
 * LQ (and HQ) embedding. With `frozen` the stage-1 network runs without autograd (set it to eval mode first),
 * so no graph or gradient is kept for it.
 */
export function stage2Loss(
  network: MultiBranchNetwork,
  fusion: FusionNetwork,
  fusedHead: MarginLoss,
  batch: TwinBatch,
  frozen: boolean,
  teacher: { network: EmbeddingTeacher | null; weight: number; weightHq: number } | null = null,
  marginWeight = 1,
): Tensor {
  // Frozen, the stage-1 heads neither enter this loss nor update (eval mode): skip their work. Unfrozen, their
  // BatchNorm statistics follow the moving trunk, so they run.
  const branches = (): Pick<MultiBranchOutput, 'fr' | 'sb'> => {
    const input = torch.cat([batch.hq, batch.lq]);
    if (batch.fromTrunk !== undefined && network.branches && network.trunkFrom)
      return network.branches(network.trunkFrom(input, batch.fromTrunk));
    if (batch.fromTrunk === undefined && network.forwardBranches) return network.forwardBranches(input);
    return forwardTwins(network, batch);
  };
  const out = frozen ? torch.noGrad(branches) : forwardTwins(network, batch);
  const fused = fusion.forward(out.fr.map, out.sb.map);
  const margin = labelledMargin(fusedHead, fused.embedding, fused.norm, torch.cat([batch.labels, batch.labels])).mul(marginWeight);
  if (!teacher || (teacher.weight === 0 && teacher.weightHq === 0)) return margin;
  const b = batch.hq.shape[0];
  const target = teacherTarget(teacher.network, batch);
  return margin
    .add(teacherLoss(target, fused.embedding.narrow(0, b, b)).mul(teacher.weight))
    .add(teacherLoss(target, fused.embedding.narrow(0, 0, b)).mul(teacher.weightHq));
}
