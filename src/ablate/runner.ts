// `catface ablate`: the study's runs in child processes (at most `jobs` at once, each after the runs it starts
// from), then one report. Layout under `out`: data/ (synthetic train and test identities, made once),
// runs/<config hash>/ (each run: run.json, checkpoints, model, unit.json, log.txt, result.json), and
// reports/<study>/ (index.html, figures, summary.json). A run with a result is never redone; a killed run
// continues from its newest checkpoint; so `--resume` after any interruption ends with the same numbers.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateSynthDataset } from '../data/synth/synth-dataset.js';
import { writeReport } from '../eval/report.js';
import { writeFileDurably } from '../io/durable.js';
import { planStudy, type Unit } from './plan.js';
import type { Study } from './studies.js';
import { type StudySummary, studySections, summarizeStudy } from './study-report.js';
import { BUSY_EXIT, isUnitDone, readUnitResult, runHolder, UNIT_FILE, type UnitResult } from './unit.js';

export interface SynthData {
  identities: number;
  images: number;
  testIdentities: number;
  testImages: number;
  seed: number;
}

export interface AblateOptions {
  study: Study;
  /** The base config as read from its file, and the file's name (for messages). */
  base: Record<string, unknown>;
  source: string;
  seeds: number[];
  out: string;
  resume: boolean;
  jobs: number;
  threads: number;
  /** A held-out folder of aligned faces (identity folders); absent: synthetic identities made under out/data. */
  testDir: string | null;
  synth: SynthData;
  evalSeed: number;
  /** Write the report from the runs finished so far; train nothing. */
  reportOnly?: boolean;
  log: (line: string) => void;
}

export interface AblateResult {
  summary: StudySummary;
  html: string;
  failed: string[];
  trained: number;
}

const UNIT_MAIN = fileURLToPath(new URL('./unit-main.js', import.meta.url));
const DATA_FILE = 'data.json';
const BUSY_RETRY_MS = 15_000;

/** Synthetic training and test identities under out/data, made once per parameters. */
async function synthData(
  out: string,
  size: number,
  synth: SynthData,
  log: (line: string) => void,
): Promise<{ train: string; test: string }> {
  const dir = join(out, 'data');
  const train = join(dir, 'train');
  const test = join(dir, 'test');
  const wanted = JSON.stringify({ ...synth, size });
  const record = join(dir, DATA_FILE);
  if (existsSync(record)) {
    const have = readFileSync(record, 'utf8').trim();
    if (have === wanted) return { train, test };
    throw new Error(`${dir}: holds synthetic data made with ${have}, not ${wanted}; use another --out or the same data flags`);
  }
  log(`synthesising ${synth.identities} training and ${synth.testIdentities} test identities (${size} px) into ${dir}…`);
  await generateSynthDataset(train, { identities: synth.identities, imagesPerIdentity: synth.images, seed: synth.seed, size });
  // another seed gives other people: the test identities are unseen
  await generateSynthDataset(test, {
    identities: synth.testIdentities,
    imagesPerIdentity: synth.testImages,
    seed: synth.seed + 1000,
    size,
  });
  mkdirSync(dir, { recursive: true });
  writeFileDurably(record, `${wanted}\n`);
  return { train, test };
}

/** Runs one unit in a child process, its output appended to <dir>/log.txt; resolves with its exit code. */
function runChild(unit: Unit): Promise<number> {
  mkdirSync(unit.dir, { recursive: true });
  const file = join(unit.dir, UNIT_FILE);
  writeFileDurably(file, `${JSON.stringify(unit, null, 1)}\n`);
  const log = openSync(join(unit.dir, 'log.txt'), 'a');
  try {
    const child = spawn(process.execPath, [UNIT_MAIN, file], { stdio: ['ignore', log, log, 'ipc'] });
    return new Promise((done) => {
      child.on('error', () => done(1));
      child.on('exit', (code, signal) => done(code ?? (signal ? 128 : 1)));
    });
  } finally {
    closeSync(log);
  }
}

/** Units in an order that respects `after`, run at most `jobs` at once; a failed unit fails those after it. */
async function runUnits(units: Unit[], jobs: number, log: (line: string) => void): Promise<{ failed: string[]; ran: number }> {
  const state = new Map<string, 'waiting' | 'held' | 'running' | 'done' | 'failed'>(
    units.map((u) => [u.id, isUnitDone(u) ? 'done' : 'waiting']),
  );
  const failed: string[] = [];
  const todo = units.filter((u) => state.get(u.id) === 'waiting').length;
  let ran = 0;
  await new Promise<void>((finish) => {
    const pump = () => {
      for (const unit of units) {
        if (state.get(unit.id) !== 'waiting') continue;
        if (unit.after.some((id) => state.get(id) === 'failed')) {
          state.set(unit.id, 'failed');
          failed.push(`${unit.label} (${unit.dir}): not run, a run it starts from failed`);
          continue;
        }
        if ([...state.values()].filter((s) => s === 'running').length >= jobs) break;
        if (!unit.after.every((id) => state.get(id) === 'done')) continue;
        const holder = runHolder(unit.dir);
        if (holder !== null) {
          // another runner (a study sharing this run) is doing it: look again later
          state.set(unit.id, 'held');
          log(`    ${unit.label}: process ${holder} is doing this run (another study shares it); waiting`);
          setTimeout(() => {
            state.set(unit.id, isUnitDone(unit) ? 'done' : 'waiting');
            pump();
          }, BUSY_RETRY_MS);
          continue;
        }
        state.set(unit.id, 'running');
        ran++;
        log(`[${ran}/${todo}] ${unit.label}: ${unit.dir}`);
        const started = performance.now();
        runChild(unit).then((code) => {
          const seconds = ((performance.now() - started) / 1000).toFixed(0);
          if (code === BUSY_EXIT) {
            ran--;
            state.set(unit.id, 'held');
            setTimeout(() => {
              state.set(unit.id, 'waiting');
              pump();
            }, BUSY_RETRY_MS);
            return;
          }
          if (code === 0 && isUnitDone(unit)) {
            state.set(unit.id, 'done');
            log(`    ${unit.label} done in ${seconds} s`);
          } else {
            state.set(unit.id, 'failed');
            failed.push(`${unit.label} (${unit.dir}): exit code ${code}; see ${join(unit.dir, 'log.txt')}`);
            log(`    ${unit.label} FAILED (exit ${code}) after ${seconds} s; see ${join(unit.dir, 'log.txt')}`);
          }
          pump();
        });
      }
      if (![...state.values()].some((s) => s === 'waiting' || s === 'held' || s === 'running')) finish();
    };
    pump();
  });
  return { failed, ran };
}

export async function runAblation(options: AblateOptions): Promise<AblateResult> {
  const { study, log } = options;
  const out = resolve(options.out);
  const size = (options.base.data as { imageSize?: number } | undefined)?.imageSize;
  let base = options.base;
  let testDir = options.testDir ? resolve(options.testDir) : null;
  if (!testDir) {
    if (typeof size !== 'number') throw new Error(`${options.source}: data.imageSize is needed to synthesise the study's identities`);
    const data = await synthData(out, size, options.synth, log);
    base = { ...base, data: { ...(base.data as object), train: data.train } };
    testDir = data.test;
  }
  const plan = planStudy(study, {
    base,
    source: options.source,
    seeds: options.seeds,
    runsDir: join(out, 'runs'),
    testDir,
    evalSeed: options.evalSeed,
    threads: options.threads,
    cacheDir: join(out, 'data', 'test-cache'),
  });
  if (!options.resume && !options.reportOnly) {
    const started = plan.units.filter((u) => existsSync(u.dir));
    if (started.length > 0)
      throw new Error(
        `${out}: already holds ${started.length} of this study's runs (${started[0].dir}…); continue with --resume (finished runs are kept) or choose another --out`,
      );
  }
  const finished = plan.units.filter(isUnitDone).length;
  log(
    `study ${study.name}: ${study.variants.length} variants × ${options.seeds.length} seeds = ${plan.units.length} runs (${finished} already finished), ${options.jobs} at a time`,
  );
  const { failed, ran } = options.reportOnly ? { failed: [], ran: 0 } : await runUnits(plan.units, options.jobs, log);
  const results = new Map<string, UnitResult>();
  for (const unit of plan.units) {
    const result = readUnitResult(unit);
    if (result) results.set(unit.id, result);
  }
  const summary = summarizeStudy(study, options.seeds, plan.runs, results);
  const reportDir = join(out, 'reports', study.name);
  const first = plan.units.find((u) => u.evaluation)?.config;
  const scale = first
    ? `${first.data.imageSize} px, ${first.model.depth} widths ${first.model.widths.join('/')}, stage 1 ${study.sharedStage1 ? plan.units.find((u) => !u.evaluation)?.config.stage1.steps : first.stage1.steps} steps × batch ${first.stage1.batchSize} (lr ${first.stage1.optim.lr}), stage 2 ${first.stage2.steps} steps (lr ${first.stage2.optim.lr})`
    : '';
  const context = [
    `Base config ${options.source}; ${scale}. Training data: ${base.data && (base.data as { train?: string }).train}; every variant is evaluated on the same ${summary.pairs} pairs of ${testDir} (all genuine pairs and as many seeded impostor pairs; degraded twins by the training Degrader with seed ${options.evalSeed}; flip-fused embeddings, cosine scores).`,
    `Seeds ${options.seeds.join(', ')}: each seed changes the weights' initialisation, the batch order and the degradations of training (the data stay the same).${study.sharedStage1 ? ' Each seed trains stage 1 once; every variant trains its stage 2 from that network, frozen.' : ''}`,
    `Intervals: 95%, combining the spread over seeds (Student's t, S − 1 degrees of freedom) and the sampling of pairs (1000 paired bootstrap resamples, genuine and impostor pairs resampled separately), half-widths added in quadrature. With few seeds the t quantile is large (4.30 for 3 seeds): an effect must be large and consistent to be resolved.`,
    ...(failed.length > 0 ? [`Missing runs (failed): ${failed.join('; ')}.`] : []),
    ...(plan.runs.some((r) => !results.has(r.unit))
      ? [
          `Not finished when this report was written: ${plan.runs
            .filter((r) => !results.has(r.unit))
            .map((r) => `${r.variant} seed ${r.seed}`)
            .join(', ')}.`,
        ]
      : []),
  ].join('\n\n');
  const report = await writeReport(reportDir, {
    title: `catface ablation: ${study.name}`,
    subtitle: `${study.variants.length} variants × ${options.seeds.length} seeds, ${study.embedding === 'fused' ? 'fused' : 'FR'} embedding, reference '${study.reference}'`,
    sections: studySections(study, summary, plan.runs, results, context),
  });
  writeFileDurably(join(reportDir, 'summary.json'), `${JSON.stringify(summary, null, 1)}\n`);
  return { summary, html: report.html, failed, trained: ran };
}
