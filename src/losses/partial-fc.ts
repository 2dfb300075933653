// Partial FC (insightface's model-parallel margin head): the class centres are split across ranks, each rank
// holding a contiguous slice, so a head of 100 k+ identities needs 1/W of the memory and compute per rank.
// Every rank scores the whole gathered batch against its own centres; the softmax is completed with two
// all-reduces (row max, row sum of exponentials) and one for the target logits, so the loss and every gradient
// equal the full head's. Optional negative sampling keeps, per step, the slice's classes present in the batch
// plus random others up to `sampleRate` of the slice.
import { Module } from '../nn/module.js';
import type { Tensor } from '../torch/index.js';
import * as torch from '../torch/index.js';
import { MarginHead, type MarginHeadConfig } from './margin-head.js';

/** The collectives Partial FC needs, synchronous (they run inside the forward pass). */
export interface ClassParallelCollectives {
  rank: number;
  worldSize: number;
  /** Every rank's `t` [B, …] (the same B on each) concatenated in rank order: [W·B, …]. */
  gatherRows(t: Tensor): Tensor;
  sumInPlace(t: Tensor): void;
  maxInPlace(t: Tensor): void;
}

export interface PartialFCConfig extends MarginHeadConfig {
  /** Fraction of the slice's classes scored per step (1: all; below 1: the batch's classes + random negatives). */
  sampleRate?: number;
}

/** The slice of `classes` that `rank` of `worldSize` holds (insightface's split: the first ranks take the remainder). */
export function classSlice(classes: number, rank: number, worldSize: number): { start: number; count: number } {
  const base = Math.floor(classes / worldSize);
  const extra = classes % worldSize;
  return { start: base * rank + Math.min(rank, extra), count: base + (rank < extra ? 1 : 0) };
}

export class PartialFC extends Module {
  /** The slice's margin head: its kernel is [E, count], its AdaFace statistics those of the global batch. */
  readonly head: MarginHead;
  readonly start: number;
  readonly count: number;
  readonly sampleRate: number;

  constructor(
    config: PartialFCConfig,
    private readonly comm: ClassParallelCollectives,
  ) {
    super();
    const { start, count } = classSlice(config.classes, comm.rank, comm.worldSize);
    if (count < 1) throw new RangeError(`PartialFC: ${config.classes} classes leave rank ${comm.rank} of ${comm.worldSize} none`);
    this.start = start;
    this.count = count;
    this.sampleRate = config.sampleRate ?? 1;
    if (!(this.sampleRate > 0 && this.sampleRate <= 1))
      throw new RangeError(`PartialFC: sampleRate must be in (0, 1], got ${this.sampleRate}`);
    this.head = this.module('head', new MarginHead({ ...config, classes: count }));
  }

  /**
   * The global batch's margin loss (a detached scalar) and a surrogate scalar of this rank's `embedding` [B, E]
   * and centres: its gradient is W × the loss's for the embedding (what data-parallel averaging over W ranks
   * expects) and the loss's for the slice's centres (the global one: do not average it across ranks). Rows
   * labelled −1 are skipped (no loss, no gradient); with fewer than two labelled rows in the global batch the loss is 0.
   */
  forward(embedding: Tensor, norm: Tensor, labels: Tensor): { loss: Tensor; surrogate: Tensor } {
    const { comm } = this;
    const b = embedding.shape[0];
    const gathered = comm.gatherRows(embedding.detach().contiguous()).requiresGrad_(true);
    const gatheredLabels = comm.gatherRows(labels.contiguous());
    // rows labelled −1 (no identity) take no margin loss: every rank drops the same rows of the gathered batch
    const keep = (torch.callOp('aten::nonzero', [gatheredLabels.ge(0)]) as Tensor).view([-1]);
    const n = keep.shape[0];
    if (n < 2) return { loss: torch.zeros([]), surrogate: embedding.sum().mul(0) };
    const every = n === gatheredLabels.shape[0];
    const rows = (t: Tensor) => (every ? t : t.indexSelect(0, keep));
    const total = rows(gathered);
    const allNorm = rows(comm.gatherRows(norm.detach().reshape([b]).contiguous()));
    const allLabels = rows(gatheredLabels);
    const { columns, local } = this.sample(allLabels.sub(this.start));
    const inSlice = local.ge(0);
    const index = torch.where(inSlice, local, 0).unsqueeze(1);
    const eps = this.head.eps;
    // the centres' gradient is taken on a detached alias and handed to the surrogate, so that what scales the
    // loss after this head (a loss weight) scales it too
    const centres = this.head.kernel.detach().requiresGrad_(true);
    const kernel = columns ? centres.indexSelect(1, columns) : centres;
    const cosine = total.matmul(torch.F.normalize(kernel, 2, 0)).clamp(-1 + eps, 1 - eps);
    const cosTarget = cosine.gather(1, index);
    const target = torch.where(inSlice.unsqueeze(1), this.head.marginTarget(cosTarget, allNorm), cosTarget);
    const logits = cosine.scatter(1, index, target).mul(this.head.scale);
    // softmax cross-entropy over the classes of every rank
    const fixed = logits.detach();
    const max = fixed.amax(1);
    comm.maxInPlace(max);
    const exp = fixed.sub(max.unsqueeze(1)).exp();
    const sum = exp.sum(1);
    comm.sumInPlace(sum);
    const targetLogit = torch.where(inSlice, fixed.gather(1, index).squeeze(1), 0);
    comm.sumInPlace(targetLogit);
    const loss = sum.log().add(max).sub(targetLogit).mean();
    const oneHot = torch.zerosLike(fixed).scatter(1, index, inSlice.unsqueeze(1).float());
    logits.backward(exp.div(sum.unsqueeze(1)).sub(oneHot).div(n));
    const grad = (gathered.grad as Tensor).contiguous();
    comm.sumInPlace(grad);
    const mine = grad.narrow(0, comm.rank * b, b).mul(comm.worldSize);
    const centresGrad = centres.grad as Tensor;
    return { loss, surrogate: embedding.mul(mine).sum().add(this.head.kernel.mul(centresGrad).sum()) };
  }

  /**
   * The slice's columns scored this step (null: all) and each row's label as a column index (−1: another rank's
   * class, or with sampling… never: a label of this slice is always kept).
   */
  private sample(local: Tensor): { columns: Tensor | null; local: Tensor } {
    const outside = local.lt(0).logicalOr(local.ge(this.count));
    if (this.sampleRate >= 1) return { columns: null, local: torch.where(outside, -1, local) };
    const labels = Array.from(local.dataSync() as BigInt64Array, Number);
    const positives = new Set(labels.filter((l) => l >= 0 && l < this.count));
    const wanted = Math.max(positives.size, Math.ceil(this.sampleRate * this.count));
    const kept = [...positives];
    for (const c of Array.from(torch.randperm(this.count).dataSync() as BigInt64Array, Number)) {
      if (kept.length >= wanted) break;
      if (!positives.has(c)) kept.push(c);
    }
    kept.sort((x, y) => x - y);
    const position = new Map(kept.map((c, i) => [c, i]));
    return {
      columns: torch.tensor(kept, { dtype: 'int64' }),
      local: torch.tensor(
        labels.map((l) => position.get(l) ?? -1),
        { dtype: 'int64' },
      ),
    };
  }
}
