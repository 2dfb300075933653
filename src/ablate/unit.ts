// One run of a study, as a child process executes it: train (resuming from the newest checkpoint a killed
// run left, or starting over when it left none), then evaluate the model on the study's pairs and write
// `<dir>/result.json` durably — the mark that the run is finished. A run whose result was computed for the
// same config and pairs is not redone.
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileDurably } from '../io/durable.js';
import type { EmbeddingKind } from '../models/catface.js';
import { FaceModel } from '../serve/face-model.js';
import * as torch from '../torch/index.js';
import { listCheckpoints } from '../train/checkpoint.js';
import { parseTrainConfig, type TrainConfig } from '../train/config.js';
import { runTraining } from '../train/run.js';
import { configHash, RUN_FILE } from '../train/run-identity.js';
import type { Unit, UnitEvaluation } from './plan.js';
import { loadTestSet, type ProtocolName, scoreProtocols } from './test-protocols.js';

export const UNIT_FILE = 'unit.json';
const LOCK_FILE = 'lock';
/** The exit code of a unit whose run another live process is doing (two studies sharing a run, at once). */
export const BUSY_EXIT = 75;
export const RESULT_FILE = 'result.json';

/** One embedding on one protocol, as stored: per-pair scores and correctness (base64 of the typed arrays). */
export interface StoredScore {
  protocol: ProtocolName;
  accuracy: number;
  auc: number;
  tarAt1e2: number | null;
  tarAt1e3: number | null;
  scores: string;
  correct: string;
  nonFinite: number;
}

export interface UnitResult {
  configHash: string;
  evaluation: UnitEvaluation;
  /** 1 for a genuine pair, 0 for an impostor, in pair order (the same for every run of a study). */
  same: string;
  embeddings: Partial<Record<EmbeddingKind, StoredScore[]>>;
  trainSeconds: number;
  evalSeconds: number;
}

const toBase64 = (a: Float32Array | Uint8Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');

export function decodeScores(text: string): Float32Array {
  const bytes = Buffer.from(text, 'base64');
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}

export function decodeBits(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'base64'));
}

function sameEvaluation(a: UnitEvaluation, b: UnitEvaluation): boolean {
  return a.testDir === b.testDir && a.seed === b.seed && b.embeddings.every((k) => a.embeddings.includes(k));
}

/** The run's result when it is finished for this config and evaluation; null otherwise. */
export function readUnitResult(unit: Pick<Unit, 'dir' | 'config' | 'evaluation'>): UnitResult | null {
  const path = join(unit.dir, RESULT_FILE);
  if (!existsSync(path) || !unit.evaluation) return null;
  try {
    const result = JSON.parse(readFileSync(path, 'utf8')) as UnitResult;
    return result.configHash === configHash(unit.config) && sameEvaluation(result.evaluation, unit.evaluation) ? result : null;
  } catch {
    return null; // a result torn by hand is redone, never trusted
  }
}

/** True when the run's model is exported for this very config. */
export function isTrained(dir: string, config: TrainConfig): boolean {
  if (!existsSync(join(dir, 'model', 'model.json')) || !existsSync(join(dir, RUN_FILE))) return false;
  try {
    return (JSON.parse(readFileSync(join(dir, RUN_FILE), 'utf8')) as { configHash: string }).configHash === configHash(config);
  } catch {
    return false;
  }
}

/** Whether the unit has nothing left to do. */
export function isUnitDone(unit: Unit): boolean {
  return unit.evaluation ? readUnitResult(unit) !== null : isTrained(unit.dir, unit.config);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The pid of the live process working on the run in `dir`, or null (no lock, or one a killed process left). */
export function runHolder(dir: string): number | null {
  const path = join(dir, LOCK_FILE);
  if (!existsSync(path)) return null;
  const pid = Number(readFileSync(path, 'utf8'));
  return Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid) ? pid : null;
}

/** Takes the run's lock for this process (false when a live process holds it); released at exit. */
function lockRun(dir: string): boolean {
  const path = join(dir, LOCK_FILE);
  try {
    writeFileSync(path, String(process.pid), { flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || runHolder(dir) !== null) return false;
    writeFileSync(path, String(process.pid)); // left by a killed process
  }
  process.on('exit', () => rmSync(path, { force: true }));
  return true;
}

/** Trains and evaluates one unit (read from its unit.json); writes result.json when it has an evaluation. */
export async function runUnit(unitFile: string): Promise<void> {
  const raw = JSON.parse(readFileSync(unitFile, 'utf8')) as Unit;
  const config = parseTrainConfig(raw.config, unitFile);
  const unit: Unit = { ...raw, config };
  if (!lockRun(unit.dir)) process.exit(BUSY_EXIT);
  if (isUnitDone(unit)) return;
  if (config.threads > 0) torch.setNumThreads(config.threads);
  let t = performance.now();
  if (!isTrained(unit.dir, config)) {
    // a killed run continues from its newest checkpoint; one killed before any checkpoint starts over
    const resume = listCheckpoints(unit.dir).length > 0;
    const result = await runTraining(config, { resume, force: !resume });
    for (const m of Object.values(result.modules)) m.dispose();
    if (!result.modelDir) throw new Error(`${unit.dir}: training stopped before its last step`);
  }
  const trainSeconds = (performance.now() - t) / 1000;
  const evaluation = unit.evaluation;
  if (!evaluation) return;
  t = performance.now();
  const model = FaceModel.load(join(unit.dir, 'model'));
  try {
    const test = await loadTestSet(evaluation.testDir, model.imageSize, evaluation.seed, [], evaluation.cacheDir ?? null);
    const embeddings: UnitResult['embeddings'] = {};
    for (const kind of evaluation.embeddings) {
      embeddings[kind] = (await scoreProtocols(model, kind, test)).map((p) => ({
        protocol: p.protocol,
        accuracy: p.accuracy,
        auc: p.auc,
        tarAt1e2: p.tarAt1e2,
        tarAt1e3: p.tarAt1e3,
        scores: toBase64(p.scores),
        correct: toBase64(p.correct),
        nonFinite: p.nonFinite,
      }));
    }
    const result: UnitResult = {
      configHash: configHash(config),
      evaluation,
      same: toBase64(Uint8Array.from(test.pairs.same, (s) => (s ? 1 : 0))),
      embeddings,
      trainSeconds,
      evalSeconds: (performance.now() - t) / 1000,
    };
    writeFileDurably(join(unit.dir, RESULT_FILE), `${JSON.stringify(result)}\n`);
  } finally {
    model.dispose();
  }
}
