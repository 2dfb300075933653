// What the training loop needs from the network, the data loader and the degrader, as structural types: the
// loop works with any implementation of these (tests plug in small ones), and the real ones come from
// src/models, src/data and src/degrade (see build.ts).
import type { MultiBranchOutput } from '../models/multi-branch.js';
import type { Module } from '../nn/module.js';
import type { Tensor } from '../torch/index.js';

/** The stage-1 multi-branch network (SPEC §2): embedding, norm, attribute logits and both branches' taps. */
export interface MultiBranchNetwork extends Module {
  forward(images: Tensor): MultiBranchOutput;
  /** The branch taps alone, skipping the heads (what stage 2 fuses); networks without it run `forward`. */
  forwardBranches?(images: Tensor): Pick<MultiBranchOutput, 'fr' | 'sb'>;
  /** The rest of the trunk, branches and heads on the features of its first `fromBlock` blocks (a trunk cache). */
  forwardFromTrunk?(features: Tensor, fromBlock: number): MultiBranchOutput;
  /** The trunk blocks from `fromBlock` on. */
  trunkFrom?(features: Tensor, fromBlock: number): Tensor;
  /** The branch taps alone on the whole trunk's output. */
  branches?(trunk: Tensor): Pick<MultiBranchOutput, 'fr' | 'sb'>;
}

/** A stage-2 fusion with its fused head: branch maps → unit embedding and norm. */
export interface FusionNetwork extends Module {
  forward(fr: Tensor, sb: Tensor): { embedding: Tensor; norm: Tensor };
}

/** A margin head (AdaFace/ArcFace/CosFace): cross-entropy of margin logits; its running stats are buffers. */
export interface MarginLoss extends Module {
  forward(embedding: Tensor, norm: Tensor, labels: Tensor): Tensor;
  /** The head takes rows labelled −1 and skips them itself (a class-parallel head: every rank sends all its rows). */
  readonly skipsUnlabelled?: boolean;
}

/** A frozen network whose unit embedding of normalised HQ images [B, 3, H, W] (in [−1, 1]) the student's LQ embedding learns. */
export interface EmbeddingTeacher {
  embed(images: Tensor): Tensor;
}

/** One training batch of aligned HQ images. */
export interface TrainBatch {
  /** [B, 3, H, W] float32 in [0, 1] (x/255); the loop normalises them for the network. */
  images: Tensor;
  /** [B] int64 identity labels. */
  labels: Tensor;
  /** [B, K] float32 0/1 attributes. */
  attributes: Tensor;
  /**
   * Set by a trunk-cache source (trunk-cache.ts): then `images` and `lq` are the features of the frozen first
   * `fromBlock` trunk blocks for the HQ photo and for its LQ twin, `teacher` the frozen teacher's unit HQ
   * embedding [B, E], and the loop skips the degrader, those blocks and the teacher.
   */
  lq?: Tensor;
  fromBlock?: number;
  teacher?: Tensor;
  /** Each sample's row in the training set [B] (int64), from a trunk-cache source: its place in the teacher's bank. */
  rows?: Tensor;
}

/** An endless, seeded batch stream whose position can be saved and restored exactly (resume). */
export interface BatchSource {
  next(batchSize: number): Promise<TrainBatch>;
  state(): unknown;
  restore(state: unknown): void;
}

/**
 * Makes the LQ twin of a unit-range HQ batch (SPEC §6), possibly augmenting the HQ images too (AdaFace
 * augmentations); both come back in [0, 1] (src/degrade's Degrader as it is). Its random position is saved
 * and restored for resume.
 */
export interface TwinDegrader {
  degrade(images: Tensor): Promise<{ hq: Tensor; lq: Tensor }>;
  state(): unknown;
  restore(state: unknown): void;
}
