// Self-attention distillation (SPEC §4, eq. 10–12): the low-quality image (student) should attend like its
// high-quality twin (teacher, gradients stopped). Per branch, L = mean_b[(1 − cos(vec A_hq, vec A_lq)) +
// (1 − cos(vec V_hq, vec V_lq))]. Ablations: an L2 distance instead of the cosine; distilling the branch
// feature maps; or distilling CBAM-style attention maps computed from those feature maps.

import type { BranchTaps } from '../models/multi-branch.js';
import type { Tensor } from '../torch/index.js';
import * as torch from '../torch/index.js';

/** 'cosine' (default): 1 − cos of the flattened maps. 'l2': mean squared difference of their elements. */
export type DistillationDistance = 'cosine' | 'l2';
/** What is matched: the self-attention (A, V) (default), the feature maps, or CBAM-style channel + spatial maps. */
export type DistillationTarget = 'attention' | 'features' | 'cbam';

/** The one place the distillation defaults live (SPEC §4). */
export const DISTILLATION_DEFAULTS = { distance: 'cosine', target: 'attention' } as const satisfies Required<DistillationOptions>;

export interface DistillationOptions {
  distance?: DistillationDistance;
  target?: DistillationTarget;
}

/** Distance between a teacher and a student map per sample, averaged over the batch; the teacher is detached. */
export function mapDistance(teacher: Tensor, student: Tensor, distance: DistillationDistance = 'cosine'): Tensor {
  if (teacher.shape.join() !== student.shape.join()) {
    throw new RangeError(`distillation: teacher [${teacher.shape}] and student [${student.shape}] shapes differ`);
  }
  const t = teacher.detach().flatten(1);
  const s = student.flatten(1);
  if (distance === 'cosine') return torch.F.cosineSimilarity(t, s, 1).rsub(1).mean();
  if (distance === 'l2') return torch.F.mseLoss(s, t);
  throw new RangeError(`distillation: distance must be 'cosine' or 'l2', got '${distance as string}'`);
}

/**
 * Parameter-free CBAM-style attention of a feature map [B, C, H, W]: the channel map σ(avg_hw + max_hw) [B, C]
 * and the spatial map σ(avg_c + max_c) [B, H, W] — CBAM's pooled descriptors without its learned layers, so the
 * teacher and student maps are comparable without extra parameters.
 */
export function cbamMaps(features: Tensor): { channel: Tensor; spatial: Tensor } {
  if (features.ndim !== 4) throw new RangeError(`cbamMaps: expected [B, C, H, W], got [${features.shape}]`);
  const channel = features
    .mean([2, 3])
    .add(features.amax([2, 3]))
    .sigmoid();
  const spatial = features.mean(1).add(features.amax(1)).sigmoid();
  return { channel, spatial };
}

/** The distillation loss of one branch: a sum of per-term batch means (two terms, or one for 'features'). */
export function distillationLoss(teacher: BranchTaps, student: BranchTaps, options: DistillationOptions = {}): Tensor {
  const { distance = DISTILLATION_DEFAULTS.distance, target = DISTILLATION_DEFAULTS.target } = options;
  switch (target) {
    case 'attention':
      return mapDistance(teacher.A, student.A, distance).add(mapDistance(teacher.V, student.V, distance));
    case 'features':
      return mapDistance(teacher.map, student.map, distance);
    case 'cbam': {
      const t = cbamMaps(teacher.map.detach());
      const s = cbamMaps(student.map);
      return mapDistance(t.channel, s.channel, distance).add(mapDistance(t.spatial, s.spatial, distance));
    }
    default:
      throw new RangeError(`distillation: target must be 'attention', 'features' or 'cbam', got '${target as string}'`);
  }
}
