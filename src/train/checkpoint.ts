// Training checkpoints: one directory per saved step, `<runDir>/checkpoints/step-00001234/`, holding
// safetensors files of named tensors (weights, optimiser buffers) and `state.json` (step, RNG, loader and
// degrader positions, optimiser scalars…). A checkpoint is written into a temporary directory, every file
// fsync'ed, then swapped into place (src/io/durable.ts), so a kill -9 at any moment leaves the whole checkpoint or none.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeDirDurably, writeFileSynced } from '../io/durable.js';
import { loadSafetensors, serializeSafetensors } from '../nn/safetensors.js';
import type { Tensor } from '../torch/index.js';

export interface CheckpointContent {
  step: number;
  /** Named groups of tensors, one safetensors file each (e.g. `model`, `optimizer`). */
  tensors: Record<string, Map<string, Tensor>>;
  /** Everything else, as JSON. */
  state: Record<string, unknown>;
}

const PREFIX = 'step-';
const STATE_FILE = 'state.json';

export function checkpointsDir(runDir: string): string {
  return join(runDir, 'checkpoints');
}

function stepDirName(step: number): string {
  return `${PREFIX}${String(step).padStart(8, '0')}`;
}

/** Steps of the complete checkpoints under `runDir`, ascending. */
export function listCheckpoints(runDir: string): number[] {
  const dir = checkpointsDir(runDir);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => name.startsWith(PREFIX) && /^\d+$/.test(name.slice(PREFIX.length)) && existsSync(join(dir, name, STATE_FILE)))
    .map((name) => Number(name.slice(PREFIX.length)))
    .sort((a, b) => a - b);
}

/**
 * Writes a checkpoint atomically and deletes all but the newest `keep` ones (and any temporary directory a
 * killed run left behind). Returns the checkpoint's directory.
 */
export function writeCheckpoint(runDir: string, content: CheckpointContent, keep: number): string {
  const dir = checkpointsDir(runDir);
  mkdirSync(dir, { recursive: true });
  const final = join(dir, stepDirName(content.step));
  writeDirDurably(final, (tmp) => {
    for (const [name, tensors] of Object.entries(content.tensors)) {
      if (!/^[A-Za-z0-9_-]+$/.test(name)) throw new Error(`writeCheckpoint: bad tensor group name '${name}'`);
      writeFileSynced(join(tmp, `${name}.safetensors`), serializeSafetensors(tensors));
    }
    // state.json last: its presence marks a complete checkpoint even if a rename were not atomic
    writeFileSynced(
      join(tmp, STATE_FILE),
      `${JSON.stringify({ step: content.step, groups: Object.keys(content.tensors), ...content.state })}\n`,
    );
  });
  pruneCheckpoints(runDir, keep);
  return final;
}

function pruneCheckpoints(runDir: string, keep: number): void {
  const dir = checkpointsDir(runDir);
  const steps = listCheckpoints(runDir);
  for (const step of steps.slice(0, Math.max(0, steps.length - keep)))
    rmSync(join(dir, stepDirName(step)), { recursive: true, force: true });
  for (const name of readdirSync(dir)) {
    // leftovers of runs killed mid-write (hidden temp folders and a swapped-out previous copy)
    if (name.startsWith('.') || name.endsWith('.previous')) rmSync(join(dir, name), { recursive: true, force: true });
  }
}

/** Reads the checkpoint at `step` (default: the newest); null when the run has none. */
export function readCheckpoint(runDir: string, step?: number): CheckpointContent | null {
  const steps = listCheckpoints(runDir);
  const chosen = step ?? steps[steps.length - 1];
  if (chosen === undefined) return null;
  if (!steps.includes(chosen))
    throw new Error(`${checkpointsDir(runDir)}: no checkpoint for step ${chosen} (have: ${steps.join(', ') || 'none'})`);
  const dir = join(checkpointsDir(runDir), stepDirName(chosen));
  const statePath = join(dir, STATE_FILE);
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(readFileSync(statePath, 'utf8'));
  } catch (err) {
    throw new Error(`${statePath}: not valid JSON (${(err as Error).message})`);
  }
  const { step: savedStep, groups, ...state } = parsed;
  if (savedStep !== chosen || !Array.isArray(groups))
    throw new Error(`${statePath}: step or groups missing or inconsistent with the directory name`);
  const tensors: Record<string, Map<string, Tensor>> = {};
  for (const name of groups as string[]) tensors[name] = loadSafetensors(join(dir, `${name}.safetensors`)).tensors;
  return { step: chosen, tensors, state };
}
