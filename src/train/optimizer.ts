// The optimiser and learning-rate schedule of a stage (SPEC §7): SGD with momentum, weight decay on conv/linear
// weights only (none on 1-D parameters: biases, normalisation layers, PReLU slopes), lr × gamma at each milestone
// after an optional linear warm-up, optional global gradient-norm clipping. Wrapped as the loop's StageOptimizer.

import { clipGradNorm } from '../nn/clip.js';
import type { Module } from '../nn/module.js';
import { decayGroups, flattenOptimizerState, SGD, type SGDOptions, unflattenOptimizerState } from '../nn/optim/index.js';
import type { OptimConfig } from './config.js';
import type { StageOptimizer } from './trainer.js';

/** The learning rate at `step` (0-based, within the stage). */
export function stageLearningRate(config: OptimConfig, step: number): number {
  const passed = config.milestones.filter((m) => step >= m).length;
  const warm = config.warmupSteps > 0 && step < config.warmupSteps ? (step + 1) / config.warmupSteps : 1;
  return config.lr * config.gamma ** passed * warm;
}

export function makeStageOptimizer(config: OptimConfig, modules: Module[]): StageOptimizer {
  const named = modules.flatMap((m) => m.namedParameters());
  const sgd = new SGD(decayGroups<SGDOptions>(named, config.weightDecay), { lr: config.lr, momentum: config.momentum });
  const params = named.map(([, p]) => p).filter((p) => p.requiresGrad);
  return {
    step(lr) {
      for (const group of sgd.paramGroups) group.lr = lr;
      if (config.clipGradNorm !== null) clipGradNorm(params, config.clipGradNorm);
      sgd.step();
    },
    zeroGrad: () => sgd.zeroGrad(),
    state: () => flattenOptimizerState(sgd.stateDict()),
    restore: (saved) => sgd.loadStateDict(unflattenOptimizerState<SGDOptions>(saved.json, saved.tensors, 'checkpoint optimizer state')),
  };
}
