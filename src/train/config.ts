// The training config file (`catface train --config run.json`): every choice of SPEC §2–§7 is a field here
// with the SPEC's value as default. `parseTrainConfig` validates a parsed JSON value and names the bad field.
// Defaults of what a module builds (network, fusion, margin head, distillation, loader, degradations) are that
// module's own constants, shown here, never restated.
import { readInputFile } from '../data/files.js';
import { LOADER_DEFAULTS } from '../data/loader/loader.js';
import { SAMPLER_DEFAULTS } from '../data/loader/sampler.js';
import { DEFAULT_ATTRIBUTES } from '../data/readers/attributes.js';
import { defaultAdaFaceConfig } from '../degrade/adaface.js';
import { defaultDegraderConfig, type ResolvedDegraderConfig, resolveDegraderConfig } from '../degrade/degrader.js';
import { PHOTO_CAPTURE_DEFAULTS } from '../degrade/photo-capture.js';
import { defaultTurbulenceConfig } from '../degrade/turbulence.js';
import { defaultUnconstrainedConfig } from '../degrade/unconstrained.js';
import { DISTILLATION_DEFAULTS, type DistillationDistance, type DistillationTarget } from '../losses/distillation.js';
import { MARGIN_HEAD_DEFAULTS, type MarginKind } from '../losses/margin-head.js';
import { FUSION_DEFAULTS, type FusionKind, fusionKinds } from '../models/fusion-base.js';
import { IRESNET_LAYERS, type IResNetName } from '../models/iresnet.js';
import { MULTI_BRANCH_DEFAULTS, type MultiBranchBackbone } from '../models/multi-branch.js';
import { DEFAULT_BUCKET_MB } from './data-parallel.js';
import type { ProgressMode } from './progress.js';
import {
  boolean,
  ConfigError,
  describeSchema,
  type Infer,
  int,
  nullable,
  number,
  numbers,
  object,
  parseConfig,
  type Schema,
  sectionOf,
  string,
  strings,
} from './schema.js';

const optimSchema = (doc: string) =>
  object(doc, {
    lr: number('initial learning rate (SPEC §7: 0.1)', { default: 0.1, above: 0, max: 100 }),
    momentum: number('SGD momentum', { default: 0.9, min: 0, max: 1 }),
    weightDecay: number('weight decay on conv/linear weights; none on 1-D parameters (BatchNorm, biases, PReLU)', {
      default: 5e-4,
      min: 0,
      max: 1,
    }),
    milestones: numbers('steps (counted within the stage) at which the learning rate is multiplied by gamma', {
      default: [],
      integer: true,
      min: 1,
      ascending: true,
    }),
    gamma: number('learning-rate factor at each milestone', { default: 0.1, above: 0, max: 100 }),
    warmupSteps: int('linear learning-rate warm-up from lr/warmupSteps to lr over this many steps (0: none)', {
      default: 0,
      min: 0,
      max: 1e9,
    }),
    clipGradNorm: nullable(number('clip the global gradient L2 norm to this value (null: no clipping)', { above: 0, max: 1e9 }), {
      default: null,
    }),
  });

export const trainConfigSchema = {
  seed: int('seed of every random generator (weights, loader order, degradations, dropout)', {
    default: 0,
    min: 0,
    max: Number.MAX_SAFE_INTEGER,
  }),
  threads: int('libtorch intra-op threads (0: leave as is, i.e. $CATFACE_THREADS or all cores)', { default: 0, min: 0, max: 256 }),
  outDir: string('run directory: checkpoints/, metrics.jsonl, model/ (the exported model)'),
  data: object('training data', {
    train: string('training set: a folder of identity folders (optionally with attributes.csv), or a .rec/.idx pair'),
    attributes: strings('attribute columns the SB branch predicts (SPEC §2)', { default: [...DEFAULT_ATTRIBUTES], minLength: 1 }),
    imageSize: int('side of the aligned square input in pixels (SPEC §1: 112)', {
      default: MULTI_BRANCH_DEFAULTS.inputSize,
      min: 16,
      max: 1024,
    }),
    workers: int('decode worker threads of the loader (0: decode on the main thread)', {
      default: LOADER_DEFAULTS.workers,
      min: 0,
      max: 64,
    }),
    sampling: string<'shuffled' | 'balanced'>('batch sampling: shuffled epochs, or balanced (imagesPerIdentity images of each identity)', {
      default: SAMPLER_DEFAULTS.mode,
      choices: ['shuffled', 'balanced'],
    }),
    imagesPerIdentity: int('images per identity in balanced sampling', { default: SAMPLER_DEFAULTS.imagesPerIdentity, min: 1, max: 1000 }),
    trunkCache: nullable(
      object(
        "train on cached features of the trunk's frozen start, the stem and the first `blocks` trunk blocks (needs model.frozen to cover them; src/train/trunk-cache.ts): each photo's HQ chip and `variants` LQ twins (a randomised whole-photo capture of the original photo, warped to its chip as `landmarks` says) go through them once; the degrade section is then unused (null: run the trunk every step on Degrader twins)",
        {
          dir: string('cache folder (built on the first run, reused after; settings.json must match)'),
          photos: string('root of the original photos the chips were aligned from (e.g. ../shared/data/lfw)'),
          faces: string("the chips' alignment manifest (catface align's manifest.json)"),
          blocks: int(
            'trunk blocks after the stem whose output is cached (dlib: 0-10; 7 = the 32 and 64 stages); the stem and these must be in model.frozen. -1: the chips themselves (normalised, fp16: ~2x the size of a stem cache), so the stem trains too',
            { default: 10, min: -1, max: 10 },
          ),
          variants: int('LQ twins per photo', { default: 4, min: 1, max: 64 }),
          capture: sectionOf(
            'randomised capture of the LQ twins (PhotoCaptureConfig, src/degrade/photo-capture.ts)',
            PHOTO_CAPTURE_DEFAULTS,
          ),
          landmarks: string<'clean' | 'detected'>(
            "which landmarks warp each LQ capture to its chip: the clean photo's, or those the photo pipeline's detector finds on the capture (as validation and a camera do; the clean ones where it finds none overlapping the clean face)",
            { default: 'clean', choices: ['clean', 'detected'] },
          ),
          mirrored: boolean(
            'cache every chip flipped left-right too (twice the size), and train on each sample in a random orientation: the horizontal-flip augmentation',
            { default: false },
          ),
        },
      ),
      { default: null },
    ),
  }),
  validation: object('pair-verification validation during training', {
    pairs: nullable(string('pair list file or insightface .bin (null: no validation)'), { default: null }),
    every: int('validate every N steps (0: only at the end of each stage)', { default: 0, min: 0, max: 1e9 }),
    folds: int('folds of the 10-fold protocol', { default: 10, min: 2, max: 100 }),
  }),
  model: object('the network (SPEC §2, §5)', {
    backbone: string<MultiBranchBackbone>("trunk and branches: insightface's IR-ResNet, or dlib's ResNet-34 (150 chips, 128-d embedding)", {
      default: MULTI_BRANCH_DEFAULTS.backbone,
      choices: ['iresnet', 'dlib'],
    }),
    depth: string<IResNetName>('IR-ResNet depth of the trunk and branches', {
      default: MULTI_BRANCH_DEFAULTS.depth,
      choices: Object.keys(IRESNET_LAYERS) as IResNetName[],
    }),
    widths: numbers('channels of the stem/stage 1..4 (SPEC: 64,128,256,512)', {
      default: [...MULTI_BRANCH_DEFAULTS.widths],
      length: 4,
      integer: true,
      min: 1,
    }),
    embeddingSize: int('embedding dimension', { default: MULTI_BRANCH_DEFAULTS.embeddingSize, min: 2, max: 8192 }),
    dropout: number('dropout of the embedding heads', { default: MULTI_BRANCH_DEFAULTS.dropout, min: 0, max: 0.99 }),
    attentionReduction: int('self-attention query/key size d = C / attentionReduction (SPEC §3: 8)', {
      default: MULTI_BRANCH_DEFAULTS.attentionReduction,
      min: 1,
      max: 1024,
    }),
    shortcut: string<'conv' | 'subsample'>('shortcut of stride-2 blocks keeping their width: conv (insightface) or subsample (AdaFace)', {
      default: MULTI_BRANCH_DEFAULTS.shortcut,
      choices: ['conv', 'subsample'],
    }),
    fusion: string<FusionKind>('stage-2 fusion (ablations: SPEC §5 / paper Table II, VIII)', {
      default: FUSION_DEFAULTS.kind,
      choices: fusionKinds,
    }),
    heads: int('heads of the dual cross-attention', { default: FUSION_DEFAULTS.heads, min: 1, max: 256 }),
    groups: int('channel groups of CAF', { default: FUSION_DEFAULTS.groups, min: 1, max: 8192 }),
    expandRatio: int('MFFNL expansion ratio', { default: FUSION_DEFAULTS.expandRatio, min: 1, max: 64 }),
    frozen: strings('network parameter-name prefixes kept frozen in stage 1 (e.g. the early trunk: "stem", "trunk.0")', {
      default: [],
    }),
    init: nullable(
      string(
        'model directory (from `catface train`) whose network weights start this run: e.g. a stage-1-only model, with stage1.steps 0 to train only stage 2 on it (`catface ablate` shares stage 1 between fusion variants this way)',
      ),
      { default: null },
    ),
    pretrained: nullable(
      string(
        "safetensors file of AdaFace/insightface IR weights to start the trunk and branches from; 'faceapi' with the dlib backbone: face-api.js's npm weights",
      ),
      {
        default: null,
      },
    ),
  }),
  loss: object('losses (SPEC §4)', {
    head: string<MarginKind>('margin head of the FR and fused embeddings', {
      default: MARGIN_HEAD_DEFAULTS.kind,
      choices: ['adaface', 'arcface', 'cosface'],
    }),
    margin: nullable(
      number(
        `margin m (null: the head's default per kind, ${Object.entries(MARGIN_HEAD_DEFAULTS.margin)
          .map(([kind, m]) => `${m} ${kind}`)
          .join(', ')})`,
        { min: 0, max: 3.2 },
      ),
      { default: null },
    ),
    scale: number('logit scale s', { default: MARGIN_HEAD_DEFAULTS.scale, above: 0, max: 1024 }),
    h: number('AdaFace quality concentration h', { default: MARGIN_HEAD_DEFAULTS.h, above: 0, max: 100 }),
    lambdaFR: number('λ_FR', { default: 3, min: 0, max: 1e4 }),
    lambdaSB: number('λ_SB', { default: 1, min: 0, max: 1e4 }),
    lambdaDist: number('λ_dist', { default: 1, min: 0, max: 1e4 }),
    lambdaFused: number("weight of the fused head's margin loss in stage 2 (SPEC: 1; small when the teacher's distillation leads)", {
      default: 1,
      min: 0,
      max: 1e4,
    }),
    lambdaTeacher: number(
      "weight of the cosine distillation from the frozen pretrained network's HQ embedding to the LQ embedding (FR in stage 1, fused in stage 2); needs model.pretrained 'faceapi'",
      { default: 0, min: 0, max: 1e4 },
    ),
    lambdaTeacherHQ: number(
      "weight of the same distillation to the student's HQ embedding (keeps clean photos where the teacher has them); needs model.pretrained 'faceapi'",
      { default: 0, min: 0, max: 1e4 },
    ),
    lambdaTeacherBank: number(
      "weight of the contrastive distillation of the LQ embedding against the frozen teacher's embeddings of every training photo (src/losses/teacher-bank.ts; not in the paper); needs data.trunkCache, which holds them",
      { default: 0, min: 0, max: 1e4 },
    ),
    teacherBankTemperature: number('temperature of that contrastive term (cosines are divided by it)', {
      default: 0.05,
      above: 0,
      max: 10,
    }),
    marginMinImages: int('identities with fewer training images take no margin loss (their images still feed every other term)', {
      default: 1,
      min: 1,
      max: 1e6,
    }),
    partialFc: nullable(
      object(
        "Partial FC (insightface's model-parallel margin head, src/train/class-parallel.ts): in data-parallel training each rank holds a slice of both margin heads' class centres and the softmax is completed across ranks; checkpoints still hold the whole heads (null: every rank holds the whole heads)",
        {
          sampleRate: number(
            "fraction of each slice's classes scored per step: 1 scores all (the full head's loss and gradients); below 1, the batch's classes plus random negatives",
            { default: 1, above: 0, max: 1 },
          ),
        },
      ),
      { default: null },
    ),
    attributeWeights: nullable(numbers('λ_k per attribute (null: all 1)', { min: 0 }), { default: null }),
    distillDistance: string<DistillationDistance>('distillation distance', {
      default: DISTILLATION_DEFAULTS.distance,
      choices: ['cosine', 'l2'],
    }),
    distillTarget: string<DistillationTarget>('what is distilled', {
      default: DISTILLATION_DEFAULTS.target,
      choices: ['attention', 'features', 'cbam'],
    }),
  }),
  degrade: object("LQ twins (SPEC §6): the Degrader; every field and default is src/degrade's", {
    seed: nullable(int("seed of the degradations (null: the run's seed)", { min: 0, max: Number.MAX_SAFE_INTEGER }), { default: null }),
    turbulenceFraction: number('fraction of each batch degraded by turbulence (the rest by the unconstrained pipeline)', {
      default: defaultDegraderConfig.turbulenceFraction,
      min: 0,
      max: 1,
    }),
    turbulence: sectionOf('turbulence simulator (TurbulenceConfig, src/degrade/turbulence.ts)', defaultTurbulenceConfig),
    unconstrained: sectionOf(
      'unconstrained-imaging pipeline (UnconstrainedConfig, src/degrade/unconstrained.ts)',
      defaultUnconstrainedConfig,
    ),
    adaface: nullable(sectionOf('AdaFace augmentations of the HQ images (null: off)', defaultAdaFaceConfig), { default: null }),
  }),
  stage1: object('stage 1: the multi-branch network', {
    steps: int('optimiser steps (0: skip stage 1, e.g. when resuming from a stage-1 model)', { default: 1000, min: 0, max: 1e9 }),
    batchSize: int('HQ images per step (each with its LQ twin, so 2× through the network)', { default: 32, min: 2, max: 65536 }),
    optim: optimSchema('SGD of stage 1 (SPEC §7)'),
  }),
  stage2: object('stage 2: CATF + fused head', {
    steps: int('optimiser steps (0: no stage 2)', { default: 1000, min: 0, max: 1e9 }),
    batchSize: int('HQ images per step (with LQ twins)', { default: 32, min: 2, max: 65536 }),
    freezeStage1: boolean('keep the stage-1 network frozen (SPEC §5 default); false fine-tunes everything', { default: true }),
    optim: optimSchema('SGD of stage 2'),
  }),
  distributed: object('data-parallel training (catface train --nproc-per-node N, or torchrun-style RANK/WORLD_SIZE)', {
    bucketMB: number('gradients are averaged across ranks in buckets of this many MB (PyTorch DDP: 25)', {
      default: DEFAULT_BUCKET_MB,
      above: 0,
      max: 4096,
    }),
    overlap: boolean(
      "all-reduce each bucket during backward, as soon as its gradients are in (libtorch's DDP reducer); false: after backward",
      { default: true },
    ),
    batchNorm: string<'local' | 'sync' | 'frozen'>(
      "BatchNorm in training: local (statistics of each rank's own batch, as PyTorch DDP), sync (statistics of the global batch, summed across ranks in forward and backward: torch's SyncBatchNorm; as local on one process) or frozen (running statistics, eval mode; affine weights still train)",
      { default: 'local', choices: ['local', 'sync', 'frozen'] },
    ),
    timeoutSeconds: int('a collective (or the rendezvous) waiting longer than this fails, naming it and the rank', {
      default: 1800,
      min: 1,
      max: 86400,
    }),
  }),
  checkpoint: object('checkpoints', {
    every: int('save every N steps (0: only at the end of each stage)', { default: 500, min: 0, max: 1e9 }),
    keep: int('how many of the newest checkpoints to keep', { default: 3, min: 1, max: 1000 }),
  }),
  log: object('progress output', {
    progress: string<ProgressMode>('progress display: auto (a live line on a terminal, periodic lines otherwise)', {
      default: 'auto',
      choices: ['auto', 'tty', 'lines', 'off'],
    }),
    every: int('write a train record to metrics.jsonl every N steps', { default: 1, min: 1, max: 1e9 }),
    lineEverySeconds: number('seconds between progress lines when not on a terminal', { default: 10, min: 0, max: 86400 }),
  }),
} satisfies Schema;

export type TrainConfig = Infer<typeof trainConfigSchema>;
export type OptimConfig = TrainConfig['stage1']['optim'];

/** Validates a config object, fills defaults and checks the rules that span fields. */
export function parseTrainConfig(value: unknown, source = 'config'): TrainConfig {
  const config = parseConfig(trainConfigSchema, value, source);
  const c4 = config.model.widths[3];
  if (c4 % config.model.heads !== 0)
    throw new ConfigError('model.heads', `must divide the last width ${c4}, got ${config.model.heads}`, source);
  if ((2 * c4) % config.model.groups !== 0)
    throw new ConfigError('model.groups', `must divide 2×${c4} channels, got ${config.model.groups}`, source);
  try {
    resolveDegraderConfig(degraderConfig(config));
  } catch (err) {
    // src/degrade names the field inside its config ('unconstrained.blur.sigma: …', 'degrader.seed: …')
    const named = err instanceof Error && /^(?:degrader\.)?([\w.[\]]+): (.*)$/s.exec(err.message);
    if (named) throw new ConfigError(`degrade.${named[1]}`, named[2], source);
    throw err;
  }
  const weights = config.loss.attributeWeights;
  if (weights && weights.length !== config.data.attributes.length) {
    throw new ConfigError(
      'loss.attributeWeights',
      `needs one weight per attribute (${config.data.attributes.length}), got ${weights.length}`,
      source,
    );
  }
  for (const stage of ['stage1', 'stage2'] as const) {
    const { milestones } = config[stage].optim;
    const last = milestones[milestones.length - 1];
    if (last !== undefined && last > config[stage].steps) {
      throw new ConfigError(`${stage}.optim.milestones`, `milestone ${last} is beyond the stage's ${config[stage].steps} steps`, source);
    }
  }
  for (const key of ['lambdaTeacher', 'lambdaTeacherHQ'] as const)
    if (config.loss[key] > 0 && config.model.pretrained !== 'faceapi')
      throw new ConfigError(`loss.${key}`, "needs model.pretrained 'faceapi' (the frozen teacher is the pretrained network)", source);
  if (config.data.trunkCache && !(config.loss.lambdaTeacher > 0 || config.loss.lambdaTeacherHQ > 0))
    throw new ConfigError('data.trunkCache', 'caches the frozen teacher too: set loss.lambdaTeacher or loss.lambdaTeacherHQ', source);
  if (config.loss.lambdaTeacherBank > 0 && !config.data.trunkCache)
    throw new ConfigError('loss.lambdaTeacherBank', "needs data.trunkCache (the teacher's bank is its cached embeddings)", source);
  if (config.model.init !== null && config.model.pretrained !== null)
    throw new ConfigError('model.init', 'starts the network from a model directory; set model.pretrained to null (one start only)', source);
  if (config.model.pretrained === 'faceapi' && config.model.backbone !== 'dlib')
    throw new ConfigError('model.pretrained', "'faceapi' weights need model.backbone 'dlib'", source);
  return config;
}

/** The Degrader's config of a run: the degrade section, seeded by the run's seed unless it has its own. */
export function degraderConfig(config: TrainConfig): ResolvedDegraderConfig {
  const { seed, ...rest } = config.degrade;
  return { ...(rest as Omit<ResolvedDegraderConfig, 'seed'>), seed: seed ?? config.seed };
}

/** Reads and validates a JSON config file; relative paths in it stay relative to the working directory. */
export function loadTrainConfig(path: string): TrainConfig {
  return parseTrainConfig(readConfigJson(path), path);
}

/** The parsed JSON of a config file, not yet validated (for callers that fill fields in first); errors name the file. */
export function readConfigJson(path: string): Record<string, unknown> {
  const text = readInputFile(path).toString('utf8');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new Error(`${path}: not valid JSON (${(err as Error).message})`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new ConfigError('(top level)', 'expected an object', path);
  return value as Record<string, unknown>;
}

/** The field reference (`catface train --schema`). */
export function trainConfigReference(): string {
  return describeSchema(trainConfigSchema).join('\n');
}
