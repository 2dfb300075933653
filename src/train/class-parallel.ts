// Partial FC in `catface train` (loss.partialFc): each margin head's class centres are split across ranks by
// src/losses/partial-fc.ts. A ClassParallelHead is a margin loss whose state-dict names are the full head's
// (kernel, mu, sigma), its kernel this rank's slice. `headShards` lists the slices for the loop: they are left out
// of data-parallel gradient averaging and of the rank-0 broadcast (each rank owns its slice), gathered whole into
// checkpoints (rank 0 writes the keys and shapes of a run without Partial FC) and sliced back on resume; gradient
// clipping takes the global norm, the slices' squares summed over ranks.
import type { MarginHead } from '../losses/margin-head.js';
import { type ClassParallelCollectives, classSlice, PartialFC } from '../losses/partial-fc.js';
import { scaleToNorm } from '../nn/clip.js';
import { Module } from '../nn/module.js';
import type { Tensor } from '../torch/index.js';
import * as torch from '../torch/index.js';
import type { Shards } from './trainer.js';

/** One process's collectives: Partial FC on one rank is the full head (with negative sampling below rate 1). */
export const singleProcess: ClassParallelCollectives = {
  rank: 0,
  worldSize: 1,
  gatherRows: (t) => t.clone(),
  sumInPlace: () => {},
  maxInPlace: () => {},
};

export class ClassParallelHead extends Module {
  /** Takes rows labelled −1 and skips them itself, over the gathered batch (every rank must send the same row count). */
  readonly skipsUnlabelled = true;
  readonly classes: number;
  readonly start: number;
  readonly count: number;
  /** This rank's class centres [E, count] (the whole head's columns start…start+count−1). */
  readonly kernel: Tensor;
  private readonly pfc: PartialFC;

  /** This rank's slice of `full` (every rank built the same one from the run's seed); `full` stays the caller's. */
  constructor(full: MarginHead, comm: ClassParallelCollectives, sampleRate: number) {
    super();
    const { kind, embeddingSize, scale, margin, h, momentum, eps } = full;
    const statistics = full.normStatistics();
    // PartialFC draws a kernel of its own; the run's random stream must not see that draw
    const rng = torch.getRngState();
    this.pfc = new PartialFC(
      {
        classes: full.classes,
        kind,
        embeddingSize,
        scale,
        margin,
        h,
        momentum,
        eps,
        ...(statistics ? { initialMean: statistics.mean, initialStd: statistics.std } : {}),
        sampleRate,
      },
      comm,
    );
    torch.setRngState(rng);
    this.classes = full.classes;
    this.start = this.pfc.start;
    this.count = this.pfc.count;
    const head = this.pfc.head;
    torch.noGrad(() => head.kernel.copy_(full.kernel.narrow(1, this.start, this.count)));
    this.kernel = this.param('kernel', head.kernel);
    if (head.mu && head.sigma) {
      this.buffer('mu', head.mu);
      this.buffer('sigma', head.sigma);
    }
  }

  /** The global batch's margin loss; its gradient reaching `embedding` is W × the loss's (DDP's average divides by W). */
  forward(embedding: Tensor, norm: Tensor, labels: Tensor): Tensor {
    this.pfc.train(this.training);
    const { loss, surrogate } = this.pfc.forward(embedding, norm, labels);
    // the value of `loss`, the gradient of `surrogate`
    return surrogate.sub(surrogate.detach()).add(loss);
  }
}

/** The slices of `heads` for the training loop (Shards); `comm` gathers them and sums the squares for clipping. */
export function headShards(heads: ClassParallelHead[], comm: ClassParallelCollectives): Shards & { clipGradNorm: ClipGradNorm } {
  const byKernel = new Map(heads.map((head) => [head.kernel, head]));
  const owned: ReadonlySet<Tensor> = new Set(byKernel.keys());
  const headOf = (param: Tensor) => {
    const head = byKernel.get(param);
    if (!head) throw new Error('headShards: not the kernel of a class-parallel head');
    return head;
  };
  return {
    owned,
    gather(slice, param) {
      const { classes } = headOf(param);
      const w = comm.worldSize;
      return torch.tidy(() => {
        // slices differ in width when classes % W ≠ 0, and allGather needs one shape: each goes padded to the widest
        const widest = classSlice(classes, 0, w).count;
        const rows = slice.t();
        const padded = rows.shape[0] < widest ? torch.cat([rows, torch.zeros([widest - rows.shape[0], rows.shape[1]])]) : rows;
        const all = comm.gatherRows(padded.contiguous());
        const parts = Array.from({ length: w }, (_, r) => all.narrow(0, r * widest, classSlice(classes, r, w).count));
        return torch.cat(parts).t().contiguous();
      });
    },
    slice(whole, param) {
      const { start, count } = headOf(param);
      return whole.narrow(1, start, count);
    },
    clipGradNorm(params, maxNorm) {
      return torch.tidy(() =>
        torch.noGrad(() => {
          const grads = params.filter((p) => p.grad !== null);
          const squares = (list: Tensor[]) =>
            list.length > 0
              ? torch
                  .stack(list.map((p) => (p.grad as Tensor).norm(2)))
                  .square()
                  .sum()
                  .reshape([1])
              : torch.zeros([1]);
          // every rank sums, even one whose stage trains no slice, so the collectives pair up
          const sliced = squares(grads.filter((p) => owned.has(p)));
          comm.sumInPlace(sliced);
          const total = squares(grads.filter((p) => !owned.has(p)))
            .add(sliced)
            .sqrt();
          scaleToNorm(
            grads.map((p) => p.grad as Tensor),
            total,
            maxNorm,
          );
          return total.item() as number;
        }),
      );
    },
  };
}

/** Scales the gradients of `params` so that their global norm is at most `maxNorm`; returns the norm before. */
export type ClipGradNorm = (params: Tensor[], maxNorm: number) => number;
