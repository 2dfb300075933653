// What every benchmark shares: integer flags with clear errors, medians, and running a PyTorch anchor from
// ../shared/anchors with Debian's python3-torch (the yardstick measured in the same run).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Reads `--name` flags as positive integers; errors name the benchmark and the flag. */
export function positiveFlags<K extends string>(bench: string, values: Record<K, string | boolean | undefined>) {
  return (name: K): number => {
    const v = Number(values[name]);
    if (!(Number.isInteger(v) && v > 0)) throw new RangeError(`${bench}: --${name} must be a positive integer, got '${values[name]}'`);
    return v;
  };
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

// A pyenv or venv python3 first on PATH often lacks Debian's torch: use the first interpreter that has it.
let torchPython: string | null | undefined;
export function pythonWithTorch(): string | null {
  if (torchPython === undefined) {
    torchPython = ['python3', '/usr/bin/python3'].find((exe) => spawnSync(exe, ['-c', 'import torch']).status === 0) ?? null;
  }
  return torchPython;
}

/** `<repo>/../shared/anchors/<file>`, from the compiled benchmark's place (`<repo>/dist/bench`). */
export function anchorPath(file: string): string {
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'shared', 'anchors', file);
}

/** Runs `../shared/anchors/<file>` with `args` and returns the JSON of its `RESULT` line. */
export function runAnchor<T>(bench: string, file: string, args: readonly string[]): T {
  const path = anchorPath(file);
  if (!existsSync(path)) throw new Error(`${bench}: the anchor ${path} was not found (../shared/anchors beside the repository)`);
  const python = pythonWithTorch();
  if (!python) throw new Error(`${bench}: no python3 with torch (apt-get install python3-torch) to run the anchor`);
  const r = spawnSync(python, [path, ...args], { encoding: 'utf8', maxBuffer: 1 << 24 });
  const line = r.stdout?.split('\n').find((l) => l.startsWith('RESULT '));
  if (r.status !== 0 || !line) throw new Error(`${bench}: the anchor ${file} failed (exit ${r.status}):\n${r.stderr}`);
  return JSON.parse(line.slice(7)) as T;
}
