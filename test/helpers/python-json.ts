// A numpy / scikit-learn oracle for plain arrays: runs a Python snippet with the JSON input as `inp`
// (numpy, scipy and sklearn imported) and returns the JSON-serialisable dict `out` it fills.
import { execFileSync, spawnSync } from 'node:child_process';

const candidates = ['python3', '/usr/bin/python3'];

/** The first python3 that imports numpy, scipy and sklearn, or null. */
const python: string | null = candidates.find((exe) => spawnSync(exe, ['-c', 'import numpy, scipy, sklearn']).status === 0) ?? null;

/** Why the oracle cannot run, or null. */
export const sklearnUnavailable: string | null =
  python === null ? 'python3 with numpy, scipy and scikit-learn is not installed (apt-get install python3-sklearn): parity skipped' : null;

export function runPythonJson<T = Record<string, unknown>>(code: string, input: unknown): T {
  if (python === null) throw new Error(sklearnUnavailable ?? 'no python');
  const script = [
    'import sys, json, math',
    'import numpy as np, scipy, sklearn, sklearn.metrics, sklearn.model_selection',
    'inp = json.load(sys.stdin)',
    'out = {}',
    code,
    'def _plain(v):',
    '    if isinstance(v, np.ndarray): return [_plain(x) for x in v.tolist()] if v.ndim else _plain(v.item())',
    '    if isinstance(v, (list, tuple)): return [_plain(x) for x in v]',
    '    if isinstance(v, dict): return {k: _plain(x) for k, x in v.items()}',
    '    if isinstance(v, (np.floating, float)): return None if not math.isfinite(float(v)) else float(v)',
    '    if isinstance(v, (np.integer,)): return int(v)',
    '    return v',
    'json.dump(_plain(out), sys.stdout)',
  ].join('\n');
  try {
    const stdout = execFileSync(python, ['-c', script], { input: JSON.stringify(input), encoding: 'utf8', maxBuffer: 1 << 28 });
    return JSON.parse(stdout) as T;
  } catch (err) {
    const e = err as { stderr?: string };
    throw new Error(`python oracle failed:\n${e.stderr ?? String(err)}\n--- code ---\n${code}`);
  }
}
