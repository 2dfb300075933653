// Evaluation benchmark on random unit features (the metrics' cost does not depend on what the features are):
//   1. the 10-fold protocol on 6000 pairs (insightface's 400-threshold grid, and the exact-optimum variant);
//   2. IJB-C-sized template scoring: 15 658 489 pairs over 23 124 templates × 512;
//   3. 1:N search: 1 000 probes in a 1 000 000 × 512 float32 gallery (built in chunks), top-20.
// The same scoring and search run in PyTorch in a subprocess (insightface's IJB scoring — gather rows and
// multiply in batches of 100 000 — and mm + topk), same threads, as the reference for the ratios. Its
// gather costs the same per pair whatever the count, so it is timed on --reference-pairs and scaled up
// (printed as such). Scoring and search alternate with the reference over --rounds rounds (the reference
// process stays up between rounds, its features built once): per-round ratios, median, min–max, CPU ratio.
//   npm run bench:eval [-- --threads 2 --pairs 15658489 --templates 23124 --gallery 1000000 --probes 1000
//                          --reference 1 --reference-pairs 1000000 --rounds 5]
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { Prng } from '../src/common/prng.js';
import { search } from '../src/eval/identification.js';
import { pairScores } from '../src/eval/pair-scores.js';
import { insightfaceDistanceThresholds, tenFold } from '../src/eval/tenfold.js';
import * as torch from '../src/torch/index.js';
import {
  alternate,
  type Comparison,
  comparisonFields,
  describeComparison,
  formatSpread,
  loadAverage,
  median,
  positiveFlags,
  pythonWithTorch,
  type StepTimes,
  spread,
  spreadFields,
} from './common.js';

const { values: args } = parseArgs({
  options: {
    threads: { type: 'string', default: '2' },
    pairs: { type: 'string', default: '15658489' },
    templates: { type: 'string', default: '23124' },
    gallery: { type: 'string', default: '1000000' },
    probes: { type: 'string', default: '1000' },
    reference: { type: 'string', default: '1' },
    rounds: { type: 'string', default: '5' },
    'reference-pairs': { type: 'string', default: '1000000' },
  },
});
const positive = positiveFlags('bench:eval', args);
const threads = positive('threads');
const pairCount = positive('pairs');
const templateCount = positive('templates');
const gallerySize = positive('gallery');
const probeCount = positive('probes');
const referencePairs = Math.min(pairCount, positive('reference-pairs'));
const rounds = positive('rounds');
const dim = 512;
const loadAverageStart = loadAverage();
torch.setNumThreads(threads);

const seconds = (start: number) => (performance.now() - start) / 1000;

// 1. 10-fold on 6000 pairs.
const prng = new Prng(1);
const labels = Array.from({ length: 6000 }, (_, i) => (i % 600 < 300 ? 1 : 0));
const distances = labels.map((l) => Math.max(0, (l ? 0.9 : 1.6) + 0.35 * (prng.uniform() + prng.uniform() - 1)));
const scores = distances.map((d) => -d);
const grid = insightfaceDistanceThresholds();
const gridTimes: number[] = [];
const exactTimes: number[] = [];
let accuracy = 0;
for (let r = 0; r < 15; r++) {
  let start = performance.now();
  accuracy = tenFold(scores, labels, { thresholds: grid }).accuracy;
  gridTimes.push(performance.now() - start);
  start = performance.now();
  tenFold(scores, labels);
  exactTimes.push(performance.now() - start);
}
const tenfoldMs = spread(gridTimes.slice(3));
const tenfoldExactMs = spread(exactTimes.slice(3));
console.log(
  `10-fold, 6000 pairs, median (min–max) of 12 runs: ${formatSpread(tenfoldMs)} ms (400-threshold grid), ${formatSpread(tenfoldExactMs)} ms (exact); accuracy ${accuracy.toFixed(4)}`,
);

// 2–3. Template pairs (IJB-C sizes, each pair's templates drawn at random) and 1:N search in a gallery built chunk
// by chunk (never two copies of it), built once and timed every round.
torch.manualSeed(1);
const templates = torch.tidy(() => torch.keep(torch.F.normalize(torch.randn([templateCount, dim]), 2, 1)));
const left = new Int32Array(pairCount);
const right = new Int32Array(pairCount);
for (let i = 0; i < pairCount; i++) {
  left[i] = prng.index(templateCount);
  right[i] = prng.index(templateCount);
}
const start = performance.now();
const gallery = torch.keep(torch.empty([gallerySize, dim]));
const chunk = 65536;
for (let from = 0; from < gallerySize; from += chunk) {
  const rows = Math.min(chunk, gallerySize - from);
  torch.tidy(() => {
    gallery.narrow(0, from, rows).copy_(torch.F.normalize(torch.randn([rows, dim]), 2, 1));
  });
}
console.log(`gallery ${gallerySize} × ${dim} built in ${seconds(start).toFixed(1)} s`);
const probes = torch.tidy(() => torch.keep(torch.F.normalize(torch.randn([probeCount, dim]), 2, 1)));
search(gallery, probes.narrow(0, 0, Math.min(8, probeCount)), { k: 20 });

/** Wall and CPU seconds of `fn`, as one step. */
function timed(fn: () => void): StepTimes {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  fn();
  const cpu = process.cpuUsage(cpu0);
  return { wall: [seconds(t0)], cpu: [(cpu.user + cpu.system) / 1e6] };
}

let checksum = 0;
let firstHit = 0;
async function oursRound(): Promise<{ template: StepTimes; search: StepTimes }> {
  const template = timed(() => {
    checksum = pairScores(templates, left, right)[0];
  });
  const searched = timed(() => {
    firstHit = search(gallery, probes, { k: 20 }).indices[0];
  });
  return { template, search: searched };
}

// The PyTorch reference: builds its features once, then times one round per line read, answering one JSON line
// with wall and CPU (process_time) seconds; its template time is scaled from --reference-pairs to --pairs.
const REFERENCE = `
import json, sys, time, torch, torch.nn.functional as F
threads, pairs, templates, gallery, probes, dim, total_pairs = ${JSON.stringify([threads, referencePairs, templateCount, gallerySize, probeCount, dim, pairCount])}
torch.set_num_threads(threads); torch.manual_seed(1)
feats = F.normalize(torch.randn(templates, dim), dim=1)
left = torch.randint(0, templates, (pairs,)); right = torch.randint(0, templates, (pairs,))
g = torch.empty(gallery, dim)
for s in range(0, gallery, 65536):
    g[s:s + 65536] = F.normalize(torch.randn(min(65536, gallery - s), dim), dim=1)
p = F.normalize(torch.randn(probes, dim), dim=1)
torch.topk(p[:8] @ g.t(), 20, dim=1)
print('READY', flush=True)
for _ in sys.stdin:
    wall, cpu = time.perf_counter(), time.process_time()
    out = torch.empty(pairs)
    for s in range(0, pairs, 100000):
        out[s:s + 100000] = (feats[left[s:s + 100000]] * feats[right[s:s + 100000]]).sum(1)
    scale = total_pairs / pairs
    template = [(time.perf_counter() - wall) * scale, (time.process_time() - cpu) * scale]
    wall, cpu = time.perf_counter(), time.process_time()
    for s in range(0, probes, 64):
        torch.topk(p[s:s + 64] @ g.t(), 20, dim=1)
    print(json.dumps({'template': template, 'search': [time.perf_counter() - wall, time.process_time() - cpu]}), flush=True)
`;

/** The reference process, or null (--reference 0, no python3 with torch). */
async function startReference(): Promise<{ round: () => Promise<{ template: StepTimes; search: StepTimes }>; close: () => void } | null> {
  const python = pythonWithTorch();
  if (args.reference === '0' || !python) return null;
  const child = spawn(python, ['-c', REFERENCE], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async (): Promise<string> => {
    const line = await lines.next();
    if (line.done) throw new Error(`bench:eval: the PyTorch reference exited (code ${child.exitCode})`);
    return line.value;
  };
  if ((await next()) !== 'READY') throw new Error('bench:eval: the PyTorch reference did not start');
  const round = async () => {
    child.stdin.write('round\n');
    const r = JSON.parse(await next()) as { template: [number, number]; search: [number, number] };
    return { template: { wall: [r.template[0]], cpu: [r.template[1]] }, search: { wall: [r.search[0]], cpu: [r.search[1]] } };
  };
  return { round, close: () => child.stdin.end() };
}

const reference = await startReference();
let compared: Record<'template' | 'search', Comparison> | null = null;
const oursTimes: { template: number[]; search: number[] } = { template: [], search: [] };
const record = async () => {
  const t = await oursRound();
  oursTimes.template.push(t.template.wall[0]);
  oursTimes.search.push(t.search.wall[0]);
  return t;
};
if (reference) {
  compared = await alternate({
    rounds,
    label: 'eval',
    items: { template: pairCount, search: probeCount },
    ours: record,
    anchor: reference.round,
  });
  reference.close();
  console.log(describeComparison(`template pairs (reference timed on ${referencePairs} pairs, scaled)`, compared.template, 'pairs/s'));
  console.log(describeComparison('search top-20', compared.search, 'probes/s'));
} else {
  for (let r = 0; r < rounds; r++) await record();
  console.log('PyTorch reference skipped (--reference 0 or no python3 with torch)');
}
const templatePairsS = spread(oursTimes.template);
const searchMsPerProbe = spread(oursTimes.search.map((s) => (s * 1000) / probeCount));
console.log(
  `template pairs: ${pairCount} pairs over ${templateCount} × ${dim}, ${formatSpread(templatePairsS, 1)} s (checksum ${checksum.toFixed(4)}); ` +
    `search: ${probeCount} probes, top-20, ${formatSpread(searchMsPerProbe)} ms per probe (first hit ${firstHit})`,
);
torch.dispose([templates, gallery, probes]);

const round = (v: number, digits = 3) => Number(v.toFixed(digits));
console.log(
  `RESULT ${JSON.stringify({
    threads,
    rounds,
    ...spreadFields('tenfold_6000_ms', '', tenfoldMs),
    ...spreadFields('tenfold_6000_exact_ms', '', tenfoldExactMs),
    template_pairs: pairCount,
    templates: templateCount,
    ...spreadFields('template_pairs_s', '', templatePairsS),
    gallery: gallerySize,
    probes: probeCount,
    ...spreadFields('search_ms_per_probe', '', searchMsPerProbe),
    reference_template_pairs_s: compared ? round(pairCount / median(compared.template.anchor)) : null,
    reference_search_ms_per_probe: compared ? round(1000 / median(compared.search.anchor)) : null,
    template_pairs_speedup_vs_reference: compared ? round(compared.template.ratio.median) : null,
    search_ratio_vs_reference: compared ? round(compared.search.ratio.median) : null,
    ...(compared
      ? { ...comparisonFields('template_pairs', '', compared.template), ...comparisonFields('search', '', compared.search) }
      : {}),
    load_average_start: loadAverageStart,
    load_average_end: loadAverage(),
  })}`,
);
