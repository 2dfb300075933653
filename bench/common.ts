// What every benchmark shares: integer flags with clear errors, medians and spreads, timing steps in wall and
// CPU time, running a PyTorch anchor from ../shared/anchors with Debian's python3-torch (the yardstick measured
// in the same run), and alternating catface and the anchor over rounds.
//
// Why rounds and CPU time: this machine is shared, and one anchor round can measure 4× another on the same code.
// Rounds alternate the two sides (catface first in even rounds, the anchor first in odd ones, so a drift in load
// hits both), each round gives one ratio, and the figure is their median with the min–max beside it. The CPU time
// a step spends (process user+sys, all threads) barely moves with the load of other processes, so its ratio is
// the steadier figure for small differences.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { loadavg } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
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

export interface Spread {
  median: number;
  min: number;
  max: number;
}

export function spread(xs: readonly number[]): Spread {
  return { median: median(xs), min: Math.min(...xs), max: Math.max(...xs) };
}

/** The spread of a rate over rounds: `items` processed in each of `seconds`. */
export function rateSpread(items: number, seconds: readonly number[]): Spread {
  return spread(seconds.map((s) => items / s));
}

/** RESULT fields of a spread: `<name><suffix>` (the median), `<name>_min<suffix>`, `<name>_max<suffix>`, rounded. */
export function spreadFields(name: string, suffix: string, s: Spread, digits = 3): Record<string, number> {
  const r = (v: number) => +v.toFixed(digits);
  return { [`${name}${suffix}`]: r(s.median), [`${name}_min${suffix}`]: r(s.min), [`${name}_max${suffix}`]: r(s.max) };
}

/** "12.3 (10.1–14.0)" */
export function formatSpread(s: Spread, digits = 2): string {
  return `${s.median.toFixed(digits)} (${s.min.toFixed(digits)}–${s.max.toFixed(digits)})`;
}

/** Wall and CPU seconds (process user+sys, every thread) of each timed step. */
export interface StepTimes {
  wall: number[];
  cpu: number[];
}

/**
 * Runs `fn` `warmup + steps` times and times the last `steps`, in wall and CPU time. The event loop turns between
 * steps (outside the timing), as in a real loop, so Node can finalise collected tensor handles.
 */
export async function timeSteps(fn: () => unknown, warmup: number, steps: number): Promise<StepTimes> {
  const out: StepTimes = { wall: [], cpu: [] };
  for (let i = 0; i < warmup + steps; i++) {
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await fn();
    const wall = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    if (i >= warmup) {
      out.wall.push(wall);
      out.cpu.push((cpu.user + cpu.system) / 1e6);
    }
    await nextTurn();
  }
  return out;
}

// A pyenv or venv python3 first on PATH often lacks Debian's torch: use the first interpreter that has it.
let torchPython: string | null | undefined;
export function pythonWithTorch(): string | null {
  if (torchPython === undefined) {
    torchPython = ['python3', '/usr/bin/python3'].find((exe) => spawnSync(exe, ['-c', 'import torch']).status === 0) ?? null;
  }
  return torchPython;
}

// Runs an anchor script unchanged (runpy) with time.perf_counter wrapped: each reading also carries the process
// CPU time, and subtracting two readings — what the anchor does to time a step — logs that interval's wall and
// CPU seconds. So the log holds exactly the steps the anchor times, in order, and the anchor file stays as it is.
const ANCHOR_CLOCK = `
import json, runpy, sys, time
wall, cpu, log = time.perf_counter, time.process_time, []
class Reading(float):
    def __sub__(self, other):
        if isinstance(other, Reading): log.append([float(self) - float(other), self.cpu - other.cpu])
        return float(self) - float(other)
def perf_counter():
    r = Reading(wall()); r.cpu = cpu(); return r
time.perf_counter = perf_counter
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name='__main__')
print('ANCHOR_STEPS ' + json.dumps(log), flush=True)
`;

/** The anchor's `RESULT` JSON and its timed steps, one `StepTimes` per timing loop of `steps` steps, in order. */
export interface AnchorRun<T> {
  result: T;
  loops: StepTimes[];
}

/** `<repo>/../shared/anchors/<file>`, from the compiled benchmark's place (`<repo>/dist/bench`). */
export function anchorPath(file: string): string {
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'shared', 'anchors', file);
}

/**
 * Runs `../shared/anchors/<file>` with `--key value` for each flag (`flags.steps` is the timed steps of each of
 * its loops): its `RESULT` and its timing loops, named in the order the script runs them.
 */
export function runNamedAnchor<T, K extends string>(
  bench: string,
  file: string,
  flags: Record<string, string | number> & { steps: number },
  names: readonly K[],
): { result: T } & Record<K, StepTimes> {
  const path = anchorPath(file);
  if (!existsSync(path)) throw new Error(`${bench}: the anchor ${path} was not found (../shared/anchors beside the repository)`);
  const args = Object.entries(flags).flatMap(([k, v]) => [`--${k}`, String(v)]);
  const run = runTimedScript<T>(bench, path, args, flags.steps);
  if (run.loops.length !== names.length) {
    throw new Error(`${bench}: the anchor ${file} timed ${run.loops.length} loops, expected ${names.length} (${names.join(', ')})`);
  }
  const loops = Object.fromEntries(names.map((name, i) => [name, run.loops[i]])) as Record<K, StepTimes>;
  return { result: run.result, ...loops };
}

/** Prints a compared benchmark's `RESULT` line, closed with catface's peak RSS and the load average at the end. */
export function printComparedResult(result: Record<string, unknown>): void {
  result.catface_peak_rss_mb = +(process.resourceUsage().maxRSS / 1024).toFixed(1);
  result.load_average_end = loadAverage();
  console.log(`RESULT ${JSON.stringify(result)}`);
}

/** Runs the Python script at `path` as an anchor (see ANCHOR_CLOCK): its `RESULT` and its timed steps. */
export function runTimedScript<T>(bench: string, path: string, args: readonly string[], steps: number): AnchorRun<T> {
  const file = basename(path);
  const python = pythonWithTorch();
  if (!python) throw new Error(`${bench}: no python3 with torch (apt-get install python3-torch) to run the anchor`);
  const r = spawnSync(python, ['-c', ANCHOR_CLOCK, path, ...args], { encoding: 'utf8', maxBuffer: 1 << 24 });
  const lines = r.stdout?.split('\n') ?? [];
  const line = (prefix: string) => lines.find((l) => l.startsWith(prefix))?.slice(prefix.length);
  const result = line('RESULT ');
  const logged = line('ANCHOR_STEPS ');
  if (r.status !== 0 || !result || !logged) throw new Error(`${bench}: the anchor ${file} failed (exit ${r.status}):\n${r.stderr}`);
  const intervals = JSON.parse(logged) as [number, number][];
  if (intervals.length === 0 || intervals.length % steps !== 0) {
    throw new Error(`${bench}: the anchor ${file} timed ${intervals.length} steps, not a multiple of --steps ${steps}`);
  }
  const loops: StepTimes[] = [];
  for (let i = 0; i < intervals.length; i += steps) {
    const loop = intervals.slice(i, i + steps);
    loops.push({ wall: loop.map(([w]) => w), cpu: loop.map(([, c]) => c) });
  }
  return { result: JSON.parse(result) as T, loops };
}

/** catface against its anchor on one quantity (a training step, a forward pass), over every round. */
export interface Comparison {
  /** Items per second of each round (median step): catface, the anchor. */
  ours: number[];
  anchor: number[];
  /** Per round: catface's rate over the anchor's (> 1: catface is faster). */
  ratios: number[];
  /** Per round: the anchor's CPU seconds per step over catface's (> 1: catface spends less CPU). */
  cpuRatios: number[];
  ratio: Spread;
  cpuRatio: Spread;
}

export interface AlternateOptions<K extends string> {
  rounds: number;
  /** Items (images) one step of each quantity processes, the same on both sides. */
  items: Record<K, number>;
  ours: () => Promise<Record<NoInfer<K>, StepTimes>>;
  anchor: () => Record<NoInfer<K>, StepTimes> | Promise<Record<NoInfer<K>, StepTimes>>;
  /** Prefix of the per-round log line, e.g. "64px". */
  label: string;
}

/** Runs catface and the anchor alternately for `rounds` rounds and compares every quantity of `items`. */
export async function alternate<K extends string>(o: AlternateOptions<K>): Promise<Record<K, Comparison>> {
  const keys = Object.keys(o.items) as K[];
  const out = Object.fromEntries(keys.map((k) => [k, { ours: [], anchor: [], ratios: [], cpuRatios: [] }])) as unknown as Record<
    K,
    Comparison
  >;
  for (let r = 0; r < o.rounds; r++) {
    let ours: Record<K, StepTimes>;
    let anchor: Record<K, StepTimes>;
    if (r % 2 === 0) {
      ours = await o.ours();
      anchor = await o.anchor();
    } else {
      anchor = await o.anchor();
      ours = await o.ours();
    }
    const parts = keys.map((k) => {
      const c = out[k];
      const oursRate = o.items[k] / median(ours[k].wall);
      const anchorRate = o.items[k] / median(anchor[k].wall);
      c.ours.push(oursRate);
      c.anchor.push(anchorRate);
      c.ratios.push(oursRate / anchorRate);
      c.cpuRatios.push(median(anchor[k].cpu) / median(ours[k].cpu));
      return `${k} ${oursRate.toFixed(1)} vs ${anchorRate.toFixed(1)} ×${(oursRate / anchorRate).toFixed(3)} (cpu ×${c.cpuRatios[r].toFixed(3)})`;
    });
    console.log(`[${o.label} round ${r + 1}/${o.rounds}, ${r % 2 ? 'anchor' : 'catface'} first] catface vs anchor: ${parts.join('; ')}`);
  }
  for (const k of keys) {
    out[k].ratio = spread(out[k].ratios);
    out[k].cpuRatio = spread(out[k].cpuRatios);
  }
  return out;
}

const round4 = (v: number) => +v.toFixed(4);

/**
 * The RESULT fields of a comparison: `<name>_ratio` (the median), `<name>_ratio_min`, `<name>_ratio_max`,
 * `<name>_cpu_ratio` (its median) and the per-round lists, each followed by `suffix` (e.g. "_64").
 */
export function comparisonFields(name: string, suffix: string, c: Comparison): Record<string, number | number[]> {
  return {
    [`${name}_ratio${suffix}`]: round4(c.ratio.median),
    [`${name}_ratio_min${suffix}`]: round4(c.ratio.min),
    [`${name}_ratio_max${suffix}`]: round4(c.ratio.max),
    [`${name}_cpu_ratio${suffix}`]: round4(c.cpuRatio.median),
    [`${name}_round_ratios${suffix}`]: c.ratios.map(round4),
    [`${name}_round_cpu_ratios${suffix}`]: c.cpuRatios.map(round4),
  };
}

/** `comparisonFields` with the median rates beside them: `catface_<name>_img_s<suffix>`, `pytorch_<name>_img_s<suffix>`. */
export function rateComparisonFields(name: string, suffix: string, c: Comparison): Record<string, number | number[]> {
  return {
    [`catface_${name}_img_s${suffix}`]: +median(c.ours).toFixed(3),
    [`pytorch_${name}_img_s${suffix}`]: +median(c.anchor).toFixed(3),
    ...comparisonFields(name, suffix, c),
  };
}

/** One summary line: "stage2 64px: catface 50.1 vs anchor 52.3 img/s, ratio 0.96 (0.90–1.02), CPU ratio 0.97 (0.95–0.99)". */
export function describeComparison(title: string, c: Comparison, unit = 'img/s'): string {
  return (
    `${title}: catface ${median(c.ours).toFixed(2)} vs anchor ${median(c.anchor).toFixed(2)} ${unit}, ` +
    `ratio ${formatSpread(c.ratio, 3)} over ${c.ratios.length} rounds [${c.ratios.map((x) => x.toFixed(3)).join(', ')}], ` +
    `CPU ratio ${formatSpread(c.cpuRatio, 3)}`
  );
}

/** The 1-minute load average (this machine is shared; it says how noisy the wall-clock figures are). */
export function loadAverage(): number {
  return +loadavg()[0].toFixed(2);
}
