// A whole training run from a config: data, degrader, modules, optimisers, schedule, validation; then the
// two-stage loop (trainer.ts) and the export of the model directory to <outDir>/model.
import { join } from 'node:path';
import { Loader } from '../data/loader/loader.js';
import { readImageFolder } from '../data/readers/image-folder.js';
import { readRecordIO } from '../data/readers/recordio.js';
import { Degrader } from '../degrade/degrader.js';
import type { Fusion } from '../models/fusion-base.js';
import { saveModelDir } from '../models/model-dir.js';
import * as torch from '../torch/index.js';
import { buildModules, type TrainModules } from './build.js';
import { degraderConfig, type TrainConfig } from './config.js';
import { makeStageOptimizer } from './optimizer.js';
import { type Stage, type TrainResult, train } from './trainer.js';
import { makePairValidator } from './validation.js';

export interface RunOptions {
  resume?: boolean;
  stopAfter?: number;
  stream?: NodeJS.WriteStream;
}

export interface RunResult extends TrainResult {
  /** The exported model directory (null when the run stopped before its last step). */
  modelDir: string | null;
  modules: TrainModules;
}

/** Reads the training set named by data.train: a RecordIO .rec (with its .idx) or an image folder. */
export function readTrainingSet(config: TrainConfig) {
  const path = config.data.train;
  return path.endsWith('.rec') ? readRecordIO(path) : readImageFolder(path, { attributes: config.data.attributes });
}

export async function runTraining(config: TrainConfig, options: RunOptions = {}): Promise<RunResult> {
  if (config.threads > 0) torch.setNumThreads(config.threads);
  torch.manualSeed(config.seed);
  const dataset = readTrainingSet(config);
  const missing = config.data.attributes.filter((name) => !dataset.attributeNames.includes(name));
  if (missing.length > 0) {
    throw new Error(
      `${config.data.train}: the training set has no attribute ${missing.join(', ')} (it has: ${dataset.attributeNames.join(', ') || 'none'}); ` +
        'the SB branch needs them (attributes.csv beside the identity folders; set data.attributes)',
    );
  }
  const loader = new Loader(dataset, {
    imageSize: config.data.imageSize,
    workers: config.data.workers,
    seed: config.seed,
    mode: config.data.sampling,
    imagesPerIdentity: config.data.imagesPerIdentity,
  });
  const degrader = new Degrader(degraderConfig(config));
  const modules = buildModules(config, dataset.classes.length);
  const validator = config.validation.pairs
    ? await makePairValidator(config.validation.pairs, config.data.imageSize, config.validation.folds)
    : null;
  try {
    const result = await train(
      {
        network: modules.model.network,
        frHead: modules.frHead,
        fusion: modules.model.fusion as Fusion,
        fusedHead: modules.fusedHead,
        source: loader,
        degrader,
        makeOptimizer: (stage, trained) => makeStageOptimizer(stage === 1 ? config.stage1.optim : config.stage2.optim, trained),
        validate: validator ? (stage: Stage) => validator.run(modules.model, stage) : undefined,
      },
      {
        runDir: config.outDir,
        stage1: config.stage1,
        stage2: config.stage2,
        weights: {
          lambdaFR: config.loss.lambdaFR,
          lambdaSB: config.loss.lambdaSB,
          lambdaDist: config.loss.lambdaDist,
          attributeWeights: config.loss.attributeWeights ? torch.keep(torch.tensor(config.loss.attributeWeights)) : null,
          distill: { distance: config.loss.distillDistance, target: config.loss.distillTarget },
        },
        checkpoint: config.checkpoint,
        validation: config.validation,
        log: config.log,
        resume: options.resume ?? false,
        stopAfter: options.stopAfter,
        stream: options.stream,
      },
    );
    const finished = result.step >= config.stage1.steps + config.stage2.steps;
    let modelDir: string | null = null;
    if (finished) {
      modelDir = join(config.outDir, 'model');
      const withFusion = config.stage2.steps > 0;
      saveModelDir(modelDir, withFusion ? modules.model : modules.model.withoutFusion(), {
        attributes: [...config.data.attributes],
        defaultEmbedding: withFusion ? 'fused' : 'fr',
        verifyThreshold: validator?.threshold ?? null,
        provenance: { steps: result.step, classes: dataset.classes.length, trainedAt: new Date().toISOString() },
      });
    }
    return { ...result, modelDir, modules };
  } finally {
    await loader.close();
    degrader.dispose();
    validator?.dispose();
  }
}
