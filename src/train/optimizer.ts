// The optimiser and learning-rate schedule of a stage (SPEC §7): SGD with momentum, weight decay on conv/linear
// weights only (none on 1-D parameters: biases, normalisation layers, PReLU slopes), lr × gamma at each milestone
// after an optional linear warm-up (src/nn schedules, stepped per step, saved in checkpoints), optional global gradient-norm clipping. Wrapped as the loop's StageOptimizer.

import { clipGradNorm } from '../nn/clip.js';
import type { Module } from '../nn/module.js';
import { decayGroups, flattenOptimizerState, SGD, type SGDOptions, unflattenOptimizerState } from '../nn/optim/index.js';
import { ChainedScheduler, LinearLR, type LRScheduler, MultiStepLR, type SchedulerState } from '../nn/schedulers.js';
import type { Tensor } from '../torch/index.js';
import type { OptimConfig } from './config.js';
import type { StageOptimizer } from './trainer.js';

/** `clip`: the gradient-norm clipping (default clipGradNorm; Partial FC's takes the norm across ranks' slices). */
export function makeStageOptimizer(
  config: OptimConfig,
  modules: Module[],
  clip: (params: Tensor[], maxNorm: number) => number = clipGradNorm,
): StageOptimizer {
  const named = modules.flatMap((m) => m.namedParameters());
  const sgd = new SGD(decayGroups<SGDOptions>(named, config.weightDecay), { lr: config.lr, momentum: config.momentum });
  const params = named.map(([, p]) => p).filter((p) => p.requiresGrad);
  const schedules: LRScheduler[] = [];
  if (config.warmupSteps > 0) schedules.push(new LinearLR(sgd, 1 / config.warmupSteps, 1, config.warmupSteps));
  schedules.push(new MultiStepLR(sgd, config.milestones, config.gamma));
  const schedule = new ChainedScheduler(schedules);
  return {
    lr: () => sgd.paramGroups[0].lr,
    step() {
      if (config.clipGradNorm !== null) clip(params, config.clipGradNorm);
      sgd.step();
      schedule.step();
    },
    zeroGrad: () => sgd.zeroGrad(),
    params: () => sgd.paramGroups.flatMap((g) => g.params),
    state() {
      const { tensors, json } = flattenOptimizerState(sgd.stateDict());
      return { tensors, json: { optimizer: json, schedule: schedule.stateDict() } };
    },
    restore(saved) {
      const json = saved.json as { optimizer: unknown; schedule: SchedulerState };
      sgd.loadStateDict(unflattenOptimizerState<SGDOptions>(json.optimizer, saved.tensors, 'checkpoint optimizer state'));
      schedule.loadStateDict(json.schedule);
    },
  };
}
