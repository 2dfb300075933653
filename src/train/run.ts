// A whole training run from a config: data, degrader, modules, optimisers, schedule, validation; then the
// two-stage loop (trainer.ts) and the export of the model directory to <outDir>/model. With a process group
// (data-parallel), rank 0 claims the run directory, runs the pre-flight and writes the model while the other
// ranks wait; each rank reads its shard of the data and degrades it with its own stream.
import { join } from 'node:path';
import { mixSeed } from '../common/prng.js';
import type { DetectorChoice } from '../data/align/detect.js';
import type { FaceDataset } from '../data/dataset.js';
import { Loader } from '../data/loader/loader.js';
import { readImageFolder } from '../data/readers/image-folder.js';
import { readRecordIO } from '../data/readers/recordio.js';
import { Degrader } from '../degrade/degrader.js';
import type { ProcessGroup } from '../distributed/index.js';
import { assertSeparate } from '../io/separate-paths.js';
import { MarginHead } from '../losses/margin-head.js';
import type { ClassParallelCollectives } from '../losses/partial-fc.js';
import { DlibMultiBranchNet } from '../models/dlib-multi-branch.js';
import type { DlibResNet } from '../models/dlib-resnet.js';
import type { Fusion } from '../models/fusion-base.js';
import { saveModelDir } from '../models/model-dir.js';
import { BatchNorm1d, BatchNorm2d } from '../nn/batchnorm.js';
import type { Module } from '../nn/module.js';
import type { Tensor } from '../torch/index.js';
import * as torch from '../torch/index.js';
import { buildModules, type TrainModules } from './build.js';
import { ClassParallelHead, headShards, singleProcess } from './class-parallel.js';
import { degraderConfig, type TrainConfig } from './config.js';
import type { BatchSource, EmbeddingTeacher } from './contracts.js';
import { DataParallel } from './data-parallel.js';
import { makeStageOptimizer } from './optimizer.js';
import { PreflightError, preflight } from './preflight.js';
import { claimRunDir } from './run-identity.js';
import { ConfigError } from './schema.js';
import type { Stage1Weights } from './stage-losses.js';
import { type Stage, type TrainResult, train } from './trainer.js';
import { buildTrunkCache, CachedTrunkSource, loadTrunkCache } from './trunk-cache.js';
import { makePairValidator } from './validation.js';

export interface RunOptions {
  resume?: boolean;
  /** Start over in a directory holding an earlier run, or resume with a config that differs from its own. */
  force?: boolean;
  stopAfter?: number;
  stream?: NodeJS.WriteStream;
  /** Data-parallel training: this rank's group (every rank runs runTraining with the same config). */
  group?: ProcessGroup | null;
  /** The face detector of data.trunkCache.landmarks 'detected' (the CLI's: the photo pipeline's default; none: Human's). */
  detector?: DetectorChoice;
}

export interface RunResult extends TrainResult {
  /** The exported model directory (null when the run stopped before its last step). */
  modelDir: string | null;
  modules: TrainModules;
}

/** The frozen dlib network as the embedding teacher: normalised images back to 0–255, unit descriptors. */
export function dlibTeacher(dlib: DlibResNet): EmbeddingTeacher {
  return {
    embed: (images: Tensor) =>
      torch.tidy(() => {
        const f = dlib.forward(images.add(1).mul(127.5));
        return f.div(f.norm(2, 1, true));
      }),
  };
}

/**
 * Reads the training set named by data.train: a RecordIO .rec (with its .idx) or an image folder. Bad rows are
 * skipped into the dataset's report, which the pre-flight turns into one list of problems.
 */
export function readTrainingSet(config: TrainConfig) {
  const path = config.data.train;
  return path.endsWith('.rec')
    ? readRecordIO(path, { onError: 'skip' })
    : readImageFolder(path, { attributes: config.data.attributes, onError: 'skip' });
}

/** Runs the pre-flight, printing its warnings; throws one PreflightError listing every problem. */
async function checkBeforeTraining(dataset: FaceDataset, config: TrainConfig, stream: NodeJS.WriteStream): Promise<void> {
  const live = stream.isTTY && config.log.progress !== 'off';
  const result = await preflight(dataset, config, (done, total) => {
    if (live && (done % 64 === 0 || done === total)) stream.write(`\rpre-flight: decoded ${done}/${total} images`);
  });
  if (live && result.checked > 0) stream.write('\n');
  for (const warning of result.warnings) stream.write(`warning: ${warning}\n`);
  if (result.problems.length > 0)
    throw new PreflightError(
      `pre-flight found ${result.problems.length} problem(s) in ${config.data.train}; nothing was trained:\n  ${result.problems.join('\n  ')}`,
    );
}

/**
 * The dataset with margin-loss labels: identities with at least `minImages` images are renumbered 0…K−1, the
 * others get −1 (no margin loss, every other term still applies). Returns K, the margin heads' class count.
 */
export function withMarginLabels(dataset: FaceDataset, minImages: number): { dataset: FaceDataset; classes: number } {
  if (minImages <= 1) return { dataset, classes: dataset.classes.length };
  const counts = new Map<number, number>();
  for (const s of dataset.samples) counts.set(s.label, (counts.get(s.label) ?? 0) + 1);
  const renumbered = new Map<number, number>();
  for (const [label, n] of [...counts].sort((a, b) => a[0] - b[0])) if (n >= minImages) renumbered.set(label, renumbered.size);
  if (renumbered.size < 2) throw new Error(`loss.marginMinImages ${minImages}: fewer than two identities have that many images`);
  const samples = dataset.samples.map((s) => ({ ...s, label: renumbered.get(s.label) ?? -1 }));
  return { dataset: { ...dataset, samples }, classes: renumbered.size };
}

/**
 * Builds the missing part of data.trunkCache (the frozen trunk start and teacher of `modules`) and reads it. The
 * cached stem and trunk blocks must be frozen: they have no BatchNorm on the dlib backbone, so their features are fixed.
 */
async function prepareTrunkCache(
  config: TrainConfig,
  dataset: FaceDataset,
  modules: TrainModules,
  stream: NodeJS.WriteStream,
  detector: DetectorChoice | undefined,
) {
  const settings = config.data.trunkCache as NonNullable<TrainConfig['data']['trunkCache']>;
  const network = modules.model.network;
  if (!(network instanceof DlibMultiBranchNet)) throw new ConfigError('data.trunkCache', "needs model.backbone 'dlib'", config.outDir);
  const cached = (name: string) => {
    const block = /^trunk\.(\d+)\./.exec(name);
    return (settings.blocks >= 0 && name.startsWith('stem.')) || (block !== null && Number(block[1]) < settings.blocks);
  };
  const moving = network.namedParameters().filter(([name, p]) => cached(name) && p.requiresGrad);
  if (moving.length > 0)
    throw new ConfigError(
      'data.trunkCache.blocks',
      `needs the stem and trunk blocks 0…${settings.blocks - 1} frozen (model.frozen); ${moving[0][0]} is trained`,
      config.outDir,
    );
  if (!modules.teacher) throw new ConfigError('data.trunkCache', 'needs the frozen teacher (loss.lambdaTeacher > 0)', config.outDir);
  const started = performance.now();
  await buildTrunkCache(dataset, settings, {
    trunk: (images) => network.trunk(images, settings.blocks),
    teacher: dlibTeacher(modules.teacher),
    seed: config.seed,
    imageSize: config.data.imageSize,
    detector,
    log: (line) => stream.write(`${line}\n`),
  });
  const cache = loadTrunkCache(settings.dir, dataset);
  stream.write(
    `trunk cache ready: ${dataset.samples.length} photos × (1 + ${settings.variants}) chips, ${((performance.now() - started) / 1000).toFixed(0)} s\n`,
  );
  return cache;
}

/** The loop's loss weights from the config's loss section. */
export function lossWeights(config: TrainConfig): Stage1Weights {
  return {
    lambdaFR: config.loss.lambdaFR,
    lambdaSB: config.loss.lambdaSB,
    lambdaDist: config.loss.lambdaDist,
    lambdaTeacher: config.loss.lambdaTeacher,
    lambdaTeacherHQ: config.loss.lambdaTeacherHQ,
    lambdaFused: config.loss.lambdaFused,
    attributeWeights: config.loss.attributeWeights ? torch.keep(torch.tensor(config.loss.attributeWeights)) : null,
    distill: { distance: config.loss.distillDistance, target: config.loss.distillTarget },
  };
}

/**
 * Partial FC (loss.partialFc): replaces both margin heads of `modules` by this rank's slices of them (the whole
 * heads, drawn the same on every rank, are freed) and returns the slices for the loop.
 */
function sliceHeads(modules: TrainModules, comm: ClassParallelCollectives, sampleRate: number) {
  const heads = [modules.frHead, modules.fusedHead].map((full) => {
    if (!(full instanceof MarginHead)) throw new Error('sliceHeads: the heads are sliced already');
    const slice = new ClassParallelHead(full, comm, sampleRate);
    full.dispose();
    return slice;
  });
  [modules.frHead, modules.fusedHead] = heads;
  return headShards(heads, comm);
}

/** SyncBatchNorm: every BatchNorm of `model` normalises by the global batch's statistics (summed across ranks). */
function synchroniseBatchNorm(model: Module, group: ProcessGroup): void {
  const sum = (t: Tensor) => group.sumOverRanks(t);
  for (const m of model.modules()) if (m instanceof BatchNorm1d || m instanceof BatchNorm2d) m.sumAcrossBatch = sum;
}

export async function runTraining(config: TrainConfig, options: RunOptions = {}): Promise<RunResult> {
  const inputs = [
    { role: 'data.train', path: config.data.train },
    ...(config.validation.pairs ? [{ role: 'validation.pairs', path: config.validation.pairs }] : []),
    ...(config.model.init ? [{ role: 'model.init', path: config.model.init }] : []),
    ...(config.model.pretrained && config.model.pretrained !== 'faceapi'
      ? [{ role: 'model.pretrained', path: config.model.pretrained }]
      : []),
  ];
  // the run writes only its own entries into outDir (run-identity.ts), so data kept inside it is safe
  assertSeparate([{ role: 'outDir', path: config.outDir }], inputs, true);
  const group = options.group ?? null;
  const rank = group?.rank ?? 0;
  const lead = rank === 0;
  const startRun = lead ? claimRunDir(config, { resume: options.resume ?? false, force: options.force ?? false }) : null;
  if (config.threads > 0) torch.setNumThreads(config.threads);
  torch.manualSeed(config.seed);
  const read = readTrainingSet(config);
  if (startRun) {
    await checkBeforeTraining(read, config, options.stream ?? process.stderr);
    startRun();
  }
  // the other ranks start once rank 0 has checked the data and claimed the run directory
  if (group) await group.barrier();
  const missing = config.data.attributes.filter((name) => !read.attributeNames.includes(name));
  if (missing.length > 0) {
    throw new Error(
      `${config.data.train}: the training set has no attribute ${missing.join(', ')} (it has: ${read.attributeNames.join(', ') || 'none'}); ` +
        'the SB branch needs them (attributes.csv beside the identity folders; set data.attributes)',
    );
  }
  const { dataset, classes } = withMarginLabels(read, config.loss.marginMinImages);
  if (group && config.data.trunkCache)
    throw new ConfigError('data.trunkCache', 'is for one process: its batches are not sharded across ranks', config.outDir);
  if (config.loss.partialFc && classes < (group?.size ?? 1))
    throw new ConfigError('loss.partialFc', `slices ${classes} classes across ${group?.size} ranks: every rank needs one`, config.outDir);
  const modules = buildModules(config, classes);
  const trunkCache = config.data.trunkCache
    ? await prepareTrunkCache(config, dataset, modules, options.stream ?? process.stderr, options.detector)
    : null;
  // the bank's identities are the margin labels: −1 marks a person with no other training photo
  const teacherBank =
    trunkCache && config.loss.lambdaTeacherBank > 0
      ? {
          embeddings: trunkCache.teacher,
          identities: torch.tensor(
            dataset.samples.map((s) => s.label),
            { dtype: 'int64' },
          ),
          weight: config.loss.lambdaTeacherBank,
          temperature: config.loss.teacherBankTemperature,
        }
      : undefined;
  const sampling = { seed: config.seed, mode: config.data.sampling, imagesPerIdentity: config.data.imagesPerIdentity };
  const blocks = config.data.trunkCache?.blocks ?? 0;
  const loader = trunkCache
    ? null
    : new Loader(dataset, {
        imageSize: config.data.imageSize,
        workers: config.data.workers,
        ...sampling,
        shard: group ? { rank, worldSize: group.size } : undefined,
      });
  const source: BatchSource = trunkCache ? new CachedTrunkSource(trunkCache, dataset, { ...sampling, blocks }) : (loader as Loader);
  const degraderSettings = degraderConfig(config);
  // rank 0 keeps the one-process stream; the others draw their own
  const degrader = new Degrader(rank === 0 ? degraderSettings : { ...degraderSettings, seed: mixSeed(degraderSettings.seed, rank) });
  const dataParallel = group
    ? new DataParallel(group, { bucketBytes: config.distributed.bucketMB * 2 ** 20, overlap: config.distributed.overlap })
    : null;
  const shards = config.loss.partialFc ? sliceHeads(modules, dataParallel ?? singleProcess, config.loss.partialFc.sampleRate) : null;
  if (dataParallel) {
    for (const head of [modules.frHead, modules.fusedHead]) if (head instanceof MarginHead) head.sumAcrossBatch = dataParallel.sumInPlace;
  }
  if (group && group.size > 1 && config.distributed.batchNorm === 'sync') synchroniseBatchNorm(modules.model, group);
  const validator =
    lead && config.validation.pairs
      ? await makePairValidator(config.validation.pairs, config.data.imageSize, config.validation.folds)
      : null;
  try {
    const result = await train(
      {
        network: modules.model.network,
        frHead: modules.frHead,
        fusion: modules.model.fusion as Fusion,
        fusedHead: modules.fusedHead,
        source,
        degrader,
        teacher: modules.teacher && !trunkCache ? dlibTeacher(modules.teacher) : null,
        dataParallel,
        shards,
        makeOptimizer: (stage, trained) =>
          makeStageOptimizer(stage === 1 ? config.stage1.optim : config.stage2.optim, trained, shards?.clipGradNorm),
        validate: validator ? (stage: Stage) => validator.run(modules.model, stage) : undefined,
      },
      {
        runDir: config.outDir,
        stage1: config.stage1,
        stage2: config.stage2,
        weights: { ...lossWeights(config), ...(teacherBank ? { teacherBank } : {}) },
        checkpoint: config.checkpoint,
        validation: config.validation,
        log: config.log,
        frozenBatchNorm: config.distributed.batchNorm === 'frozen',
        resume: options.resume ?? false,
        stopAfter: options.stopAfter,
        stream: options.stream,
      },
    );
    const finished = result.step >= config.stage1.steps + config.stage2.steps;
    let modelDir: string | null = null;
    if (finished && lead) {
      modelDir = join(config.outDir, 'model');
      const withFusion = config.stage2.steps > 0;
      saveModelDir(modelDir, withFusion ? modules.model : modules.model.withoutFusion(), {
        alignment: { template: config.model.backbone === 'dlib' ? 'dlib' : 'arcface', size: config.data.imageSize },
        attributes: [...config.data.attributes],
        defaultEmbedding: withFusion ? 'fused' : 'fr',
        verifyThreshold: validator?.threshold ?? null,
        provenance: { steps: result.step, classes, identities: dataset.classes.length, trainedAt: new Date().toISOString() },
      });
    }
    // the teacher is freed below: the caller gets the modules it owns
    const { teacher: _, ...owned } = modules;
    return { ...result, modelDir, modules: owned };
  } finally {
    await loader?.close();
    trunkCache?.dispose();
    teacherBank?.identities.dispose();
    degrader.dispose();
    modules.teacher?.dispose();
    validator?.dispose();
    dataParallel?.dispose();
  }
}
