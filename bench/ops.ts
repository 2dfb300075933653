// Per-op overhead: µs per small op (add, mul, matmul, softmax on n×n float32, with and without autograd) in
// catface against PyTorch (bench/ops_anchor.py, Debian's python3-torch) in the same run, one intra-op thread on
// both sides. Rounds alternate catface and the anchor so a shared machine's noise falls on both; each case
// reports the median µs/op, the per-round ratios (median and min–max) and the ratio of CPU time (process
// user+sys), which the host's load barely moves. Ops run in chunks of 100 (µs/op is the median chunk's, so a
// preempted chunk does not count); results are freed the way each side frees them in real code: catface's by
// `tidy` at the end of each chunk, PyTorch's when the next one replaces them.
//   npm run bench:ops [-- --rounds 7 --iters 10000 --sizes 8,16,32,64]
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as torch from '../src/torch/index.js';
import { median, positiveFlags, pythonWithTorch } from './common.js';

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '7' },
    iters: { type: 'string', default: '10000' },
    chunk: { type: 'string', default: '100' },
    sizes: { type: 'string', default: '8,16,32,64' },
  },
});
const positive = positiveFlags('bench:ops', args);
const rounds = positive('rounds');
const chunk = positive('chunk');
const iters = Math.max(chunk, Math.floor(positive('iters') / chunk) * chunk);
const sizes = (args.sizes as string).split(',').map(Number);
for (const n of sizes) if (!(Number.isInteger(n) && n > 0)) throw new RangeError(`bench:ops: --sizes takes positive integers, got ${n}`);

torch.setNumThreads(1);
torch.manualSeed(0);

const OPS: Record<string, (a: torch.Tensor, b: torch.Tensor) => torch.Tensor> = {
  add: (a, b) => a.add(b),
  mul: (a, b) => a.mul(b),
  matmul: (a, b) => a.matmul(b),
  softmax: (a) => torch.F.softmax(a, -1),
};

interface CaseTiming {
  case: string;
  us: number;
  cpu_us: number;
}

function cpuMicros(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

/** One round of every case, timed as the anchor times it (see bench/ops_anchor.py). */
function catfaceRound(): CaseTiming[] {
  const out: CaseTiming[] = [];
  for (const grad of [false, true]) {
    for (const n of sizes) {
      const a = torch.keep(torch.randn([n, n], { requiresGrad: grad }));
      const b = torch.keep(torch.randn([n, n], { requiresGrad: grad }));
      for (const [name, fn] of Object.entries(OPS)) {
        const runChunk = (): void =>
          torch.tidy(() => {
            for (let i = 0; i < chunk; i++) fn(a, b);
          });
        runChunk(); // warm-up
        const chunks: number[] = [];
        const cpu0 = cpuMicros();
        for (let c = 0; c < iters / chunk; c++) {
          const t0 = performance.now();
          runChunk();
          chunks.push(performance.now() - t0);
        }
        const cpu = cpuMicros() - cpu0;
        out.push({ case: `${name} ${n}x${n}${grad ? ' grad' : ''}`, us: (median(chunks) * 1000) / chunk, cpu_us: cpu / iters });
      }
      torch.dispose([a, b]);
    }
  }
  return out;
}

function anchorRound(): CaseTiming[] {
  const python = pythonWithTorch();
  if (!python) throw new Error('bench:ops: no python3 with torch (apt-get install python3-torch) to run the anchor');
  const script = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'ops_anchor.py');
  const flags = ['--sizes', sizes.join(','), '--iters', String(iters), '--chunk', String(chunk)];
  const r = spawnSync(python, [script, ...flags], { encoding: 'utf8', maxBuffer: 1 << 24 });
  const line = r.stdout?.split('\n').find((l) => l.startsWith('RESULT '));
  if (r.status !== 0 || !line) throw new Error(`bench:ops: the anchor ${script} failed (exit ${r.status}):\n${r.stderr}`);
  return (JSON.parse(line.slice(7)) as { cases: CaseTiming[] }).cases;
}

const geomean = (xs: number[]): number => Math.exp(xs.reduce((s, x) => s + Math.log(x), 0) / xs.length);
const sum = (xs: number[]): number => xs.reduce((s, x) => s + x, 0);

const ours: CaseTiming[][] = [];
const theirs: CaseTiming[][] = [];
for (let r = 0; r < rounds; r++) {
  ours.push(catfaceRound());
  theirs.push(anchorRound());
  const ratios = ours[r].map((c, i) => c.us / theirs[r][i].us);
  console.log(`[round ${r + 1}/${rounds}] geometric-mean ratio catface/pytorch µs/op ×${geomean(ratios).toFixed(3)}`);
}

const rows = ours[0].map((c, i) => {
  const roundRatios = ours.map((round, r) => round[i].us / theirs[r][i].us);
  const cpuRatio = sum(ours.map((round) => round[i].cpu_us)) / sum(theirs.map((round) => round[i].cpu_us));
  return {
    case: c.case,
    catface_us: median(ours.map((round) => round[i].us)),
    pytorch_us: median(theirs.map((round) => round[i].us)),
    ratio: median(roundRatios),
    ratio_min: Math.min(...roundRatios),
    ratio_max: Math.max(...roundRatios),
    cpu_ratio: cpuRatio,
  };
});

const pad = (s: string, n: number): string => s.padEnd(n);
console.log(`\n${pad('case', 20)} ${pad('catface µs', 11)} ${pad('pytorch µs', 11)} ${pad('ratio (min–max)', 22)} cpu ratio`);
for (const row of rows) {
  console.log(
    `${pad(row.case, 20)} ${pad(row.catface_us.toFixed(2), 11)} ${pad(row.pytorch_us.toFixed(2), 11)} ` +
      `${pad(`×${row.ratio.toFixed(3)} (${row.ratio_min.toFixed(2)}–${row.ratio_max.toFixed(2)})`, 22)} ×${row.cpu_ratio.toFixed(3)}`,
  );
}
// Overall: per round, the geometric mean over cases; then the median and spread of those over rounds.
const overall = ours.map((round, r) => geomean(round.map((c, i) => c.us / theirs[r][i].us)));
const overallCpu = geomean(rows.map((row) => row.cpu_ratio));
console.log(
  `\nall cases (geometric mean): ×${median(overall).toFixed(3)} (rounds ${Math.min(...overall).toFixed(3)}–${Math.max(...overall).toFixed(3)}), CPU ×${overallCpu.toFixed(3)}`,
);
const round4 = (x: number): number => +x.toFixed(4);
console.log(
  `RESULT ${JSON.stringify({
    rounds,
    iters,
    chunk,
    threads: 1,
    torch: torch.buildInfo().torch,
    ratio: round4(median(overall)),
    ratio_min: round4(Math.min(...overall)),
    ratio_max: round4(Math.max(...overall)),
    cpu_ratio: round4(overallCpu),
    cases: rows.map((row) => Object.fromEntries(Object.entries(row).map(([k, v]) => [k, typeof v === 'number' ? round4(v) : v]))),
  })}`,
);
