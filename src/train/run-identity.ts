// A run directory holds one run: `<outDir>/run.json` records the config (and its hash) the run started with.
// A fresh `train` into a directory holding an earlier run is refused (its model, metrics and checkpoints would
// mix with the new ones), and `--resume` checks the config is the one the checkpoints were trained with,
// listing every difference. `--force` starts over (deleting that run's files) or resumes despite differences.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileDurably } from '../io/durable.js';
import type { TrainConfig } from './config.js';

export const RUN_FILE = 'run.json';
/** What a run writes into its directory (anything else there is left alone). */
const RUN_ENTRIES = ['checkpoints', 'metrics.jsonl', 'model', RUN_FILE];
/** Fields that change how a run executes but not what it computes: they may differ on resume. */
const EXECUTION_ONLY = new Set(['outDir', 'threads', 'data.workers', 'log.progress', 'log.lineEverySeconds']);

interface RunRecord {
  configHash: string;
  config: Record<string, unknown>;
}

/** Refused: the run directory holds another run, or the config differs from the one being resumed. */
export class RunDirError extends Error {}

function flatten(value: unknown, prefix = '', out = new Map<string, string>()): Map<string, string> {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    for (const [key, inner] of Object.entries(value)) flatten(inner, prefix ? `${prefix}.${key}` : key, out);
  } else if (!EXECUTION_ONLY.has(prefix)) out.set(prefix, JSON.stringify(value));
  return out;
}

/** SHA-256 of the config's fields that decide what is computed (sorted, so key order does not matter). */
export function configHash(config: TrainConfig | Record<string, unknown>): string {
  const fields = [...flatten(config)].sort(([a], [b]) => (a < b ? -1 : 1));
  return createHash('sha256').update(JSON.stringify(fields)).digest('hex');
}

/** `field: saved → now` for every computing field that differs. */
export function configDifferences(saved: Record<string, unknown>, now: TrainConfig | Record<string, unknown>): string[] {
  const a = flatten(saved);
  const b = flatten(now);
  const keys = [...new Set([...a.keys(), ...b.keys()])].sort();
  return keys.filter((k) => a.get(k) !== b.get(k)).map((k) => `${k}: ${a.get(k) ?? '(absent)'} → ${b.get(k) ?? '(absent)'}`);
}

/** The run's files present in `dir` (an empty checkpoints folder does not count). */
function runEntries(dir: string): string[] {
  return RUN_ENTRIES.filter((name) => {
    const path = join(dir, name);
    if (!existsSync(path)) return false;
    return name !== 'checkpoints' || readdirSync(path).length > 0;
  });
}

function readRecord(dir: string): RunRecord | null {
  const path = join(dir, RUN_FILE);
  if (!existsSync(path)) return null;
  try {
    const record = JSON.parse(readFileSync(path, 'utf8')) as RunRecord;
    if (typeof record.configHash === 'string' && record.config && typeof record.config === 'object') return record;
  } catch {
    // falls through to the error below
  }
  throw new RunDirError(`${path}: unreadable run record; pass --force to resume without checking the config`);
}

/**
 * Checks `config.outDir` can be this run's directory, writing nothing: refuses an earlier run on a fresh start
 * (unless `force`) and a resume whose config differs from the saved one (listing the differences). The returned
 * function makes it so once the run is sure to start: clears the earlier run (forced) and records the config.
 */
export function claimRunDir(config: TrainConfig, options: { resume: boolean; force: boolean }): () => void {
  const dir = config.outDir;
  const present = existsSync(dir) ? runEntries(dir) : [];
  const record = () => writeFileDurably(join(dir, RUN_FILE), `${JSON.stringify({ configHash: configHash(config), config }, null, 1)}\n`);
  if (!options.resume || present.length === 0) {
    if (present.length > 0 && !options.force)
      throw new RunDirError(
        `${dir}: holds an earlier run (${present.join(', ')}); continue it with --resume (same config), choose a new outDir, or pass --force to start over (deletes that run's ${present.join(', ')})`,
      );
    return () => {
      for (const name of present) rmSync(join(dir, name), { recursive: true, force: true });
      record();
    };
  }
  const saved = options.force ? null : readRecord(dir);
  if (!saved && !options.force)
    throw new RunDirError(`${dir}: has no ${RUN_FILE}, so the config cannot be checked; pass --force to resume anyway`);
  if (saved && saved.configHash !== configHash(config)) {
    const differences = configDifferences(saved.config, config);
    throw new RunDirError(
      `${dir}: --resume with a config that differs from the run's (${differences.length} field(s)):\n  ${differences.join('\n  ')}\nuse the run's config, choose a new outDir, or pass --force to resume with this one`,
    );
  }
  return options.force ? record : () => undefined;
}
