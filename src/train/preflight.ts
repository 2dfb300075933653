// Pre-flight before training: every image of the training set is decoded once (bounded concurrency, a progress
// line on a terminal, results cached by file size + mtime in <outDir>/.preflight-cache.json so a re-run only
// checks what changed), the reader's skipped rows are gathered, and settings that cannot work are named —
// all problems in one report before any step runs, instead of a bad image found an hour in.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describeLocator, type FaceDataset, readImageBytes } from '../data/dataset.js';
import { decodeImage } from '../data/decode.js';
import { DataError } from '../data/errors.js';
import { forEachBounded } from '../io/bounded.js';
import { writeFileDurably } from '../io/durable.js';
import type { TrainConfig } from './config.js';

export const PREFLIGHT_CACHE = '.preflight-cache.json';
/** Decodes in flight at once: sharp decodes on libuv's pool, so a few keep it busy without holding many images. */
const DECODES_IN_FLIGHT = 4;
/** Learning rates outside this range are legal but rarely what was meant. */
const SANE_LR = { min: 1e-5, max: 1 };

export interface PreflightResult {
  /** Reasons training cannot start (bad images, broken label rows). */
  problems: string[];
  /** Settings that will run but probably not as meant. */
  warnings: string[];
  /** Images decoded now, and found good in the cache. */
  checked: number;
  cached: number;
}

/** Stops training before it starts; the message lists every problem. */
export class PreflightError extends Error {}

/** `size:mtime` of the file an image lives in (the pack for a RecordIO record). */
function fingerprint(path: string): string | null {
  try {
    const stat = statSync(path);
    return `${stat.size}:${stat.mtimeMs}`;
  } catch {
    return null;
  }
}

function readCache(path: string): Record<string, string> {
  if (!existsSync(path)) return {};
  try {
    const value = JSON.parse(readFileSync(path, 'utf8'));
    return value && typeof value === 'object' ? (value as Record<string, string>) : {};
  } catch {
    return {}; // a damaged cache only costs a full scan
  }
}

/** Checks `dataset` against `config`; `onProgress(done, total)` reports the decode scan. */
export async function preflight(
  dataset: FaceDataset,
  config: TrainConfig,
  onProgress?: (done: number, total: number) => void,
): Promise<PreflightResult> {
  const problems: string[] = [];
  const warnings: string[] = [];
  const source = config.data.train;
  if (dataset.samples.length === 0) problems.push(`${source}: no images`);
  for (const skipped of dataset.report.skipped) {
    const line = `${skipped.file}${skipped.line !== undefined ? `:${skipped.line}` : ''}: ${skipped.reason}`;
    // non-image files and empty identity folders are left out on purpose; label rows that do not match are not
    if (/(ignored|skipped)$/.test(skipped.reason)) warnings.push(line);
    else problems.push(line);
  }

  const cachePath = join(config.outDir, PREFLIGHT_CACHE);
  const cache = readCache(cachePath);
  const good: Record<string, string> = {};
  const todo = dataset.samples.filter((sample) => {
    const key = describeLocator(sample.image);
    const print = fingerprint(sample.image.path);
    if (print !== null && cache[key] === print) {
      good[key] = print;
      return false;
    }
    return true;
  });
  let done = 0;
  const bad: string[] = [];
  await forEachBounded(todo, DECODES_IN_FLIGHT, async (sample) => {
    const key = describeLocator(sample.image);
    try {
      await decodeImage(readImageBytes(sample.image), key, { height: 8, width: 8 });
      const print = fingerprint(sample.image.path);
      if (print !== null) good[key] = print;
    } catch (error) {
      bad.push(error instanceof DataError ? error.message : `${key}: ${String(error)}`);
    }
    onProgress?.(++done, todo.length);
  });
  problems.push(...bad.sort());
  if (Object.keys(good).length > 0) writeFileDurably(cachePath, JSON.stringify(good));

  const counts = new Map<number, number>();
  for (const sample of dataset.samples) counts.set(sample.label, (counts.get(sample.label) ?? 0) + 1);
  const single = [...counts.values()].filter((n) => n === 1).length;
  if (dataset.classes.length === 1)
    warnings.push(`${source}: only one identity — the identity loss has nothing to tell apart; add identities`);
  if (single > 0) warnings.push(`${source}: ${single} of ${dataset.classes.length} identities have a single image`);
  for (const stage of ['stage1', 'stage2'] as const) {
    const { steps, batchSize, optim } = config[stage];
    if (steps === 0) continue;
    if (batchSize > dataset.samples.length)
      warnings.push(
        `${stage}.batchSize ${batchSize} is larger than the training set (${dataset.samples.length} images): each batch repeats images`,
      );
    if (optim.lr < SANE_LR.min || optim.lr > SANE_LR.max)
      warnings.push(
        `${stage}.optim.lr ${optim.lr} is outside the usual ${SANE_LR.min}–${SANE_LR.max}; training may not move or may diverge`,
      );
  }
  return { problems, warnings, checked: todo.length, cached: dataset.samples.length - todo.length };
}
