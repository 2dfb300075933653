// The PyTorch oracle for parity tests: runs a Python snippet on tensors we hand it (through safetensors files)
// and returns the tensors it computes. Debian's python3-torch is a test-time dependency only.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadSafetensors, saveSafetensors } from '../../src/nn/safetensors.js';
import { getNumThreads, setNumThreads, type Tensor } from '../../src/torch/index.js';

const here = dirname(fileURLToPath(import.meta.url));
// The .py helper sits beside the TypeScript sources; tests run from dist/, so look in the source tree.
const helperDir = join(here, '..', '..', '..', 'test', 'helpers');

// A pyenv or venv python3 first on PATH often lacks Debian's torch, so fall back to the system interpreter.
const python = ['python3', '/usr/bin/python3'].find(
  (exe) => spawnSync(exe, ['-c', 'import torch, numpy'], { encoding: 'utf8' }).status === 0,
);

/** Why the oracle cannot run, or null when python3 with torch is importable. */
export const pythonUnavailable: string | null =
  python === undefined ? 'python3 with torch is not installed (run ./setup.sh): PyTorch parity tests skipped' : null;

/** Threads the oracle's PyTorch runs on (runPython's default). */
export const ORACLE_THREADS = 1;

/**
 * Runs our side of a parity test on the oracle's thread count for the rest of the test (restored after it), so
 * both sides reduce in the same order where the kernels split work by thread.
 */
export function pinOracleThreads(t: TestContext): void {
  const threads = getNumThreads();
  setNumThreads(ORACLE_THREADS);
  t.after(() => setNumThreads(threads));
}

/**
 * Runs `code` in Python with `inputs` (a dict of torch tensors named like ours) in scope as `inp`, and
 * `torch`, `F` (torch.nn.functional), `nn` imported. The code fills the dict `out`; it comes back as Tensors.
 */
export function runPython(code: string, inputs: Record<string, Tensor> = {}, options: { threads?: number } = {}): Map<string, Tensor> {
  const dir = mkdtempSync(join(tmpdir(), 'catface-oracle-'));
  try {
    const inPath = join(dir, 'in.safetensors');
    const outPath = join(dir, 'out.safetensors');
    saveSafetensors(inPath, inputs);
    const script = [
      'import sys, math',
      `sys.path.insert(0, ${JSON.stringify(helperDir)})`,
      'import torch, torch.nn as nn, torch.nn.functional as F',
      'import st_io',
      `torch.set_num_threads(${options.threads ?? ORACLE_THREADS})`,
      `inp = st_io.load(${JSON.stringify(inPath)})`,
      'out = {}',
      code,
      `st_io.save(${JSON.stringify(outPath)}, out)`,
    ].join('\n');
    const scriptPath = join(dir, 'oracle.py');
    writeFileSync(scriptPath, script);
    try {
      execFileSync(python ?? 'python3', [scriptPath], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (err) {
      const e = err as { stderr?: string };
      throw new Error(`oracle python failed:\n${e.stderr ?? String(err)}\n--- code ---\n${code}`);
    }
    return loadSafetensors(outPath).tensors;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Largest |a-b| / (atol + rtol·|b|) over all elements — ≤ 1 means within tolerance. */
export function closeness(actual: Tensor, expected: Tensor, rtol: number, atol: number): { ok: boolean; worst: number; maxAbs: number } {
  const a = actual.toFloat64Array();
  const b = expected.toFloat64Array();
  if (a.length !== b.length) throw new Error(`closeness: ${a.length} vs ${b.length} elements`);
  let worst = 0;
  let maxAbs = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (Number.isNaN(a[i]) !== Number.isNaN(b[i])) return { ok: false, worst: Number.POSITIVE_INFINITY, maxAbs: Number.NaN };
    if (Number.isNaN(d)) continue;
    maxAbs = Math.max(maxAbs, d);
    worst = Math.max(worst, d / (atol + rtol * Math.abs(b[i])));
  }
  return { ok: worst <= 1, worst, maxAbs };
}
