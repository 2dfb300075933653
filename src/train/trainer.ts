// The two-stage training loop (SPEC §5, §7). Steps are counted across both stages (stage 1: 1…S1, stage 2:
// S1+1…S1+S2), so one counter names every checkpoint and log record. Each step runs inside `torch.tidy`
// (memory stays flat). A checkpoint holds everything the next step depends on — weights and buffers (BatchNorm
// and AdaFace statistics), optimiser buffers, the libtorch RNG, the loader's and the degrader's positions — so
// a run killed at any point and resumed reproduces the uninterrupted run's losses exactly. A NaN/Inf loss
// stops the run before the optimiser touches the weights; the last checkpoint on disk stays the last good one.
// Data-parallel (parts.dataParallel): every rank runs this loop on its shard; losses and gradients are averaged
// across ranks before the finite check and the step, so all ranks agree; rank 0 alone writes logs and
// checkpoints, which hold every rank's random positions (resume needs the same world size). Parameters sliced
// across ranks (`Shards`: Partial FC's class centres) are not averaged nor broadcast, and go whole into checkpoints.
import { unitToNormalized } from '../common/image-convention.js';
import { BatchNorm1d, BatchNorm2d } from '../nn/batchnorm.js';
import { ModuleDict } from '../nn/containers.js';
import type { Module } from '../nn/module.js';
import type { Tensor } from '../torch/index.js';
import * as torch from '../torch/index.js';
import { listCheckpoints, readCheckpoint, writeCheckpoint } from './checkpoint.js';
import type { BatchSource, EmbeddingTeacher, FusionNetwork, MarginLoss, MultiBranchNetwork, TwinDegrader } from './contracts.js';
import type { DataParallel } from './data-parallel.js';
import { MetricsLog } from './metrics-log.js';
import { ProgressBar, type ProgressMode } from './progress.js';
import { type Stage1Weights, stage1Losses, stage2Loss } from './stage-losses.js';

export type Stage = 1 | 2;

/** An optimiser for one stage, wrapped so the loop needs nothing else from it. */
export interface StageOptimizer {
  /** The learning rate the next step uses. */
  lr(): number;
  /** Applies the gradients (after any clipping the config asks for) and advances the schedule. */
  step(): void;
  zeroGrad(): void;
  /** The parameters, in the order that the state's tensor names number them (`state.<i>.momentum_buffer`). */
  params(): Tensor[];
  /** Buffers (momentum…) and scalar state, for checkpoints. */
  state(): { tensors: Map<string, Tensor>; json: unknown };
  restore(saved: { tensors: Map<string, Tensor>; json: unknown }): void;
}

/**
 * Parameters of which each rank holds its own slice (Partial FC's class centres, class-parallel.ts): they are
 * neither averaged across ranks nor broadcast from rank 0, and checkpoints hold them (and their optimiser
 * state) whole, so a checkpoint has the keys and shapes of a run without slices.
 */
export interface Shards {
  readonly owned: ReadonlySet<Tensor>;
  /** The whole tensor of which `slice` (the parameter or a state tensor of it) is this rank's part; a collective. */
  gather(slice: Tensor, param: Tensor): Tensor;
  /** This rank's part of `whole`, a saved tensor of `param` (the parameter or a state tensor of it). */
  slice(whole: Tensor, param: Tensor): Tensor;
}

export interface TrainerParts {
  network: MultiBranchNetwork;
  frHead: MarginLoss;
  fusion: FusionNetwork;
  fusedHead: MarginLoss;
  source: BatchSource;
  degrader: TwinDegrader;
  /** Frozen teacher of the embedding distillation (weights.lambdaTeacher > 0). */
  teacher?: EmbeddingTeacher | null;
  /** Builds the optimiser of a stage over the given modules' trainable parameters. */
  makeOptimizer(stage: Stage, modules: Module[]): StageOptimizer;
  /** This process's rank in data-parallel training (null: one process). */
  dataParallel?: DataParallel | null;
  /** Parameters sliced across ranks (Partial FC); null: every rank holds every parameter whole. */
  shards?: Shards | null;
  /** Pair-verification validation of the current weights (the loop sets eval mode around it). */
  validate?: (stage: Stage) => Promise<Record<string, number>>;
}

export interface TrainerOptions {
  runDir: string;
  stage1: { steps: number; batchSize: number };
  stage2: { steps: number; batchSize: number; freezeStage1: boolean };
  weights: Stage1Weights;
  /** Save every N steps (0: only at the end of each stage); keep the newest `keep`. */
  checkpoint: { every: number; keep: number };
  /** Validate every N steps (0: only at the end of each stage). */
  validation: { every: number };
  /** A metrics record every N steps; the progress display. */
  log: { every: number; progress: ProgressMode; lineEverySeconds: number };
  /** BatchNorm layers kept in eval mode (running statistics) while their stage trains. */
  frozenBatchNorm?: boolean;
  /** Continue from the newest checkpoint in runDir (a fresh run when there is none). */
  resume: boolean;
  /** Stop (after checkpointing) once this global step is done — for tests and time-boxed runs. */
  stopAfter?: number;
  stream?: NodeJS.WriteStream;
}

/** What each rank needs of its own to resume: libtorch's generator and the degrader's stream. */
type RankState = { rng: string; degrader: unknown };

export type StepRecord = {
  kind: 'train';
  stage: Stage;
  step: number;
  lr: number;
  loss: number;
  fr?: number;
  sb?: number;
  dist?: number;
  teacher?: number;
  teacherHq?: number;
  bank?: number;
  imagesPerSecond: number;
};

export class TrainingDivergedError extends Error {
  constructor(
    message: string,
    readonly step: number,
    readonly lastCheckpoint: number | null,
  ) {
    super(message);
    this.name = 'TrainingDivergedError';
  }
}

export interface TrainResult {
  /** The last global step done. */
  step: number;
  /** The step training resumed from (0 for a fresh run). */
  resumedFrom: number;
  /** The stage-1 and stage-2 losses of this process's steps, in order. */
  losses: number[];
}

/**
 * Every trained module under one namespace: its state dict is a checkpoint's weights ('network.trunk…',
 * 'fusedHead.kernel'…) and its loadStateDict restores them all, strictly.
 */
function allModules(parts: TrainerParts): ModuleDict {
  return new ModuleDict({ network: parts.network, frHead: parts.frHead, fusion: parts.fusion, fusedHead: parts.fusedHead });
}

/** Modules that a stage trains. */
function stageModules(parts: TrainerParts, stage: Stage, freezeStage1: boolean): Module[] {
  if (stage === 1) return [parts.network, parts.frHead];
  return freezeStage1 ? [parts.fusion, parts.fusedHead] : [parts.network, parts.fusion, parts.fusedHead];
}

/** Sets train/eval modes and requiresGrad for a stage (stage 2 frozen: the stage-1 network in eval, no grads). */
function enterStage(parts: TrainerParts, stage: Stage, freezeStage1: boolean): void {
  const frozen = stage === 2 && freezeStage1;
  parts.network.train(!frozen);
  parts.frHead.train(stage === 1);
  parts.fusion.train(stage === 2);
  parts.fusedHead.train(stage === 2);
  if (frozen) parts.network.requiresGrad_(false);
}

/** The parameter that an optimiser state tensor's name (`state.<i>.<field>`) belongs to. */
function optimizerParam(params: Tensor[], name: string): Tensor | undefined {
  const index = /^state\.(\d+)\./.exec(name);
  return index ? params[Number(index[1])] : undefined;
}

/** `tensors` with `change` applied to the entries whose parameter (`paramOf` the name) is in `sliced`. */
function mapSliced(
  tensors: Map<string, Tensor>,
  paramOf: (name: string) => Tensor | undefined,
  sliced: ReadonlySet<Tensor>,
  change: (t: Tensor, param: Tensor) => Tensor,
): Map<string, Tensor> {
  return new Map(
    [...tensors].map(([name, t]) => {
      const param = paramOf(name);
      return [name, param && sliced.has(param) ? change(t, param) : t];
    }),
  );
}

function describeLosses(losses: Record<string, number>): string {
  return Object.entries(losses)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
}

/** Runs (or resumes) both stages as configured. */
export async function train(parts: TrainerParts, options: TrainerOptions): Promise<TrainResult> {
  const s1 = options.stage1.steps;
  const total = s1 + options.stage2.steps;
  const dp = parts.dataParallel ?? null;
  const worldSize = dp?.worldSize ?? 1;
  const lead = dp === null || dp.rank === 0;
  const log = lead ? new MetricsLog(`${options.runDir}/metrics.jsonl`) : null;
  let step = 0;
  let optimizer: StageOptimizer | null = null;
  let stage: Stage | null = null;
  const freeze = options.stage2.freezeStage1;
  const modules = allModules(parts);
  const shards = parts.shards ?? null;
  const owned: ReadonlySet<Tensor> = shards?.owned ?? new Set();
  /** What the stage trains whose gradients are averaged across ranks: all of it but the slices each rank owns. */
  let averaged: Tensor[] = [];
  const freezeBatchNorm = () => {
    if (!options.frozenBatchNorm) return;
    for (const m of modules.modules()) if (m instanceof BatchNorm1d || m instanceof BatchNorm2d) m.eval();
  };

  const begin = (next: Stage) => {
    stage = next;
    enterStage(parts, next, freeze);
    freezeBatchNorm();
    const each = stageModules(parts, next, freeze);
    optimizer = parts.makeOptimizer(next, each);
    const trained = each.flatMap((m) => m.parameters()).filter((p) => p.requiresGrad);
    averaged = trained.filter((p) => !owned.has(p));
  };

  /** `tensors` with each entry of a sliced parameter (`paramOf` its name) gathered whole; a collective. */
  const whole = (tensors: Map<string, Tensor>, paramOf: (name: string) => Tensor | undefined) =>
    shards ? mapSliced(tensors, paramOf, owned, (t, p) => shards.gather(t, p)) : tensors;
  /** `saved` (whole tensors) with each entry of a sliced parameter cut to this rank's slice. */
  const sliced = (saved: Map<string, Tensor>, paramOf: (name: string) => Tensor | undefined) =>
    shards ? mapSliced(saved, paramOf, owned, (t, p) => shards.slice(t, p)) : saved;

  if (options.resume && listCheckpoints(options.runDir).length > 0) {
    torch.tidy(() => {
      const saved = readCheckpoint(options.runDir) as NonNullable<ReturnType<typeof readCheckpoint>>;
      const where = `checkpoint step ${saved.step} of ${options.runDir}`;
      const live = modules.stateDict();
      modules.loadStateDict(
        sliced(saved.tensors.model, (name) => live.get(name)),
        { source: where },
      );
      step = saved.step;
      const state = saved.state as {
        stage: Stage;
        rng: string;
        source: unknown;
        degrader: unknown;
        optimizer: unknown;
        worldSize?: number;
        ranks?: RankState[];
      };
      if ((state.worldSize ?? 1) !== worldSize)
        throw new Error(
          `${where} was written by ${state.worldSize ?? 1} rank(s); resume it with the same world size (now ${worldSize}) so every rank continues its own shard`,
        );
      const mine = state.ranks?.[dp?.rank ?? 0] ?? { rng: state.rng, degrader: state.degrader };
      if (step < total) {
        begin(step < s1 ? 1 : 2);
        // a checkpoint taken at the last stage-1 step has stage-1 optimiser state; stage 2 starts fresh
        const opt = optimizer as StageOptimizer | null;
        if (state.stage === stage && opt) {
          const params = opt.params();
          opt.restore({ tensors: sliced(saved.tensors.optimizer, (name) => optimizerParam(params, name)), json: state.optimizer });
        }
      }
      torch.setRngState(new Uint8Array(Buffer.from(mine.rng, 'base64')));
      parts.source.restore(state.source);
      parts.degrader.restore(mine.degrader);
    });
    log?.truncateAfter(step);
  }
  if (dp) await dp.broadcastState(modules, owned);
  const resumedFrom = step;
  const losses: number[] = [];
  let lastCheckpoint: number | null = listCheckpoints(options.runDir).at(-1) ?? null;

  const save = async () => {
    const mine: RankState = { rng: Buffer.from(torch.getRngState()).toString('base64'), degrader: parts.degrader.state() };
    const ranks = dp ? ((await dp.gatherJson(mine)) as RankState[]) : null;
    lastCheckpoint = step;
    torch.tidy(() => {
      const opt = optimizer as StageOptimizer | null;
      const optState = opt ? opt.state() : { tensors: new Map<string, Tensor>(), json: null };
      const live = modules.stateDict();
      // every rank takes part in gathering the slices; rank 0 writes them
      const model = whole(live, (name) => live.get(name));
      const params = opt?.params() ?? [];
      const optTensors = whole(optState.tensors, (name) => optimizerParam(params, name));
      if (!lead) return;
      writeCheckpoint(
        options.runDir,
        {
          step,
          tensors: { model, optimizer: optTensors },
          state: {
            stage,
            rng: mine.rng,
            source: parts.source.state(),
            degrader: mine.degrader,
            optimizer: optState.json,
            ...(ranks ? { worldSize, ranks } : {}),
          },
        },
        options.checkpoint.keep,
      );
    });
  };

  const validate = async (bar: ProgressBar) => {
    if (!parts.validate || stage === null) return;
    const current = stage as Stage;
    const each = modules.children();
    const modes = each.map((m) => m.training);
    modules.eval();
    const metrics = await parts.validate(current);
    each.forEach((m, i) => {
      m.train(modes[i]);
    });
    freezeBatchNorm();
    log?.append({ kind: 'validation', stage: current, step, ...metrics });
    bar.note(`validation at step ${step}: ${describeLosses(metrics)}`);
  };

  for (const thisStage of [1, 2] as const) {
    const first = thisStage === 1 ? 0 : s1;
    const last = thisStage === 1 ? s1 : total;
    if (step >= last) continue;
    if (stage !== thisStage) begin(thisStage);
    const { batchSize } = thisStage === 1 ? options.stage1 : options.stage2;
    const bar = new ProgressBar({
      total: last - first,
      label: `stage ${thisStage}`,
      mode: lead ? options.log.progress : 'off',
      stream: options.stream,
      lineEverySeconds: options.log.lineEverySeconds,
      startStep: step - first,
    });
    while (step < last) {
      const started = performance.now();
      const batch = await parts.source.next(batchSize);
      // a trunk-cache batch carries its LQ twin's features; image batches get theirs from the degrader
      const fromTrunk = batch.fromBlock !== undefined;
      const { hq, lq } = fromTrunk ? { hq: batch.images, lq: batch.lq as Tensor } : await parts.degrader.degrade(batch.images);
      const opt = optimizer as unknown as StageOptimizer;
      const lr = opt.lr();
      let values: Record<string, number>;
      try {
        values = torch.tidy(() => {
          // image twins are in [0, 1] (the loader's and the Degrader's range); the network takes [−1, 1]
          const twins = fromTrunk
            ? {
                hq,
                lq,
                fromTrunk: batch.fromBlock,
                ...(batch.teacher ? { teacher: batch.teacher } : {}),
                ...(batch.rows ? { rows: batch.rows } : {}),
              }
            : { hq: unitToNormalized(hq), lq: unitToNormalized(lq) };
          let terms: Record<string, Tensor>;
          if (thisStage === 1) {
            const l = stage1Losses(
              parts.network,
              parts.frHead,
              { ...twins, labels: batch.labels, attributes: batch.attributes },
              options.weights,
              parts.teacher ?? null,
            );
            const withTeacher = parts.teacher || fromTrunk;
            terms = {
              loss: l.total,
              fr: l.fr,
              sb: l.sb,
              dist: l.dist,
              ...(withTeacher ? { teacher: l.teacher, teacherHq: l.teacherHq } : {}),
              ...(options.weights.teacherBank ? { bank: l.bank } : {}),
            };
          } else {
            terms = {
              loss: stage2Loss(
                parts.network,
                parts.fusion,
                parts.fusedHead,
                { ...twins, labels: batch.labels },
                freeze,
                parts.teacher || fromTrunk
                  ? {
                      network: parts.teacher ?? null,
                      weight: options.weights.lambdaTeacher ?? 0,
                      weightHq: options.weights.lambdaTeacherHQ ?? 0,
                    }
                  : null,
                options.weights.lambdaFused ?? 1,
              ),
            };
          }
          let numbers = Object.fromEntries(Object.entries(terms).map(([k, t]) => [k, t.item()]));
          if (dp) numbers = dp.averageNumbers(numbers); // the global batch's losses: every rank takes the same branch
          if (!Object.values(numbers).every(Number.isFinite)) return numbers; // checked below, before any update
          opt.zeroGrad();
          if (dp) dp.backward(terms.loss, averaged);
          else terms.loss.backward();
          opt.step();
          return numbers;
        });
      } finally {
        torch.dispose([batch, hq, lq]);
      }
      if (!Object.values(values).every(Number.isFinite)) {
        bar.finish();
        const kept =
          lastCheckpoint === null
            ? 'no checkpoint was written yet'
            : `the last good checkpoint is step ${lastCheckpoint} in ${options.runDir}/checkpoints`;
        throw new TrainingDivergedError(
          `training diverged at stage ${thisStage} step ${step + 1}: non-finite loss (${describeLosses(values)}); stopped before updating the weights — ` +
            `${kept}. Lower stage${thisStage}.optim.lr, add warmupSteps or set clipGradNorm, then resume with --resume.`,
          step + 1,
          lastCheckpoint,
        );
      }
      step += 1;
      losses.push(values.loss);
      const seconds = (performance.now() - started) / 1000;
      const images = 2 * batchSize * worldSize;
      bar.update(step - first, values, images);
      if (step % options.log.every === 0 || step === last) {
        const record: StepRecord = {
          kind: 'train',
          stage: thisStage,
          step,
          lr,
          loss: values.loss,
          ...values,
          imagesPerSecond: images / seconds,
        };
        log?.append(record);
      }
      const stageEnd = step === last;
      const stopping = options.stopAfter !== undefined && step >= options.stopAfter;
      if ((options.checkpoint.every > 0 && step % options.checkpoint.every === 0) || stageEnd || stopping) await save();
      if ((options.validation.every > 0 && step % options.validation.every === 0) || stageEnd) await validate(bar);
      if (stopping) {
        bar.finish();
        return { step, resumedFrom, losses };
      }
    }
    bar.finish();
  }
  return { step, resumedFrom, losses };
}
