// Evaluation benchmark on random unit features (the metrics' cost does not depend on what the features are):
//   1. the 10-fold protocol on 6000 pairs (insightface's 400-threshold grid, and the exact-optimum variant);
//   2. IJB-C-sized template scoring: 15 658 489 pairs over 23 124 templates × 512;
//   3. 1:N search: 1 000 probes in a 1 000 000 × 512 float32 gallery (built in chunks), top-20.
// The same scoring and search run in PyTorch in a subprocess (insightface's IJB scoring — gather rows and
// multiply in batches of 100 000 — and mm + topk), same threads, as the reference for the ratios. Its
// gather costs the same per pair whatever the count, so it is timed on --reference-pairs and scaled up
// (printed as such).
//   npm run bench:eval [-- --threads 2 --pairs 15658489 --templates 23124 --gallery 1000000 --probes 1000
//                          --reference 1 --reference-pairs 1000000]
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { Prng } from '../src/common/prng.js';
import { search } from '../src/eval/identification.js';
import { pairScores } from '../src/eval/pair-scores.js';
import { insightfaceDistanceThresholds, tenFold } from '../src/eval/tenfold.js';
import * as torch from '../src/torch/index.js';
import { positiveFlags, pythonWithTorch } from './common.js';

const { values: args } = parseArgs({
  options: {
    threads: { type: 'string', default: '2' },
    pairs: { type: 'string', default: '15658489' },
    templates: { type: 'string', default: '23124' },
    gallery: { type: 'string', default: '1000000' },
    probes: { type: 'string', default: '1000' },
    reference: { type: 'string', default: '1' },
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
const dim = 512;
torch.setNumThreads(threads);

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1];
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
const tenfoldMs = median(gridTimes.slice(3));
const tenfoldExactMs = median(exactTimes.slice(3));
console.log(
  `10-fold, 6000 pairs: ${tenfoldMs.toFixed(2)} ms (400-threshold grid), ${tenfoldExactMs.toFixed(2)} ms (exact); accuracy ${accuracy.toFixed(4)}`,
);

// 2. Template pairs: IJB-C sizes, each pair's templates drawn at random.
torch.manualSeed(1);
const templates = torch.tidy(() => torch.keep(torch.F.normalize(torch.randn([templateCount, dim]), 2, 1)));
const left = new Int32Array(pairCount);
const right = new Int32Array(pairCount);
for (let i = 0; i < pairCount; i++) {
  left[i] = prng.index(templateCount);
  right[i] = prng.index(templateCount);
}
let start = performance.now();
const templateScores = pairScores(templates, left, right);
const templatePairsS = seconds(start);
console.log(
  `template pairs: ${pairCount} pairs over ${templateCount} × ${dim} in ${templatePairsS.toFixed(1)} s (checksum ${templateScores[0].toFixed(4)})`,
);
templates.dispose();

// 3. 1:N search in a gallery built chunk by chunk (never two copies of it).
start = performance.now();
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
start = performance.now();
const found = search(gallery, probes, { k: 20 });
const searchMsPerProbe = (seconds(start) * 1000) / probeCount;
console.log(`search: ${probeCount} probes, top-20, ${searchMsPerProbe.toFixed(2)} ms per probe (first hit ${found.indices[0]})`);
gallery.dispose();
probes.dispose();

// The PyTorch reference, same sizes and threads (a subprocess, after our memory is freed).
interface Reference {
  template_pairs_s: number;
  search_ms_per_probe: number;
}
let reference: Reference | null = null;
const python = pythonWithTorch();
if (args.reference !== '0' && python) {
  const code = `
import json, sys, time, torch, torch.nn.functional as F
threads, pairs, templates, gallery, probes, dim, total_pairs = ${JSON.stringify([threads, referencePairs, templateCount, gallerySize, probeCount, dim, pairCount])}
torch.set_num_threads(threads); torch.manual_seed(1)
feats = F.normalize(torch.randn(templates, dim), dim=1)
left = torch.randint(0, templates, (pairs,)); right = torch.randint(0, templates, (pairs,))
start = time.time(); out = torch.empty(pairs)
for s in range(0, pairs, 100000):
    out[s:s + 100000] = (feats[left[s:s + 100000]] * feats[right[s:s + 100000]]).sum(1)
template_s = (time.time() - start) * total_pairs / pairs
del feats, left, right, out
g = torch.empty(gallery, dim)
for s in range(0, gallery, 65536):
    g[s:s + 65536] = F.normalize(torch.randn(min(65536, gallery - s), dim), dim=1)
p = F.normalize(torch.randn(probes, dim), dim=1)
torch.topk(p[:8] @ g.t(), 20, dim=1)
start = time.time()
for s in range(0, probes, 64):
    torch.topk(p[s:s + 64] @ g.t(), 20, dim=1)
search_ms = (time.time() - start) * 1000 / probes
print(json.dumps({'template_pairs_s': template_s, 'search_ms_per_probe': search_ms}))
`;
  const run = spawnSync(python, ['-c', code], { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (run.status === 0) {
    reference = JSON.parse(run.stdout.trim().split('\n').pop() as string) as Reference;
    console.log(
      `PyTorch reference: template pairs ${reference.template_pairs_s.toFixed(1)} s (gather + multiply, 100k batches; timed on ${referencePairs} pairs, scaled to ${pairCount}), search ${reference.search_ms_per_probe.toFixed(2)} ms per probe`,
    );
  } else console.log(`PyTorch reference failed:\n${run.stderr}`);
} else console.log('PyTorch reference skipped (--reference 0 or no python3 with torch)');

const round = (v: number, digits = 3) => Number(v.toFixed(digits));
console.log(
  `RESULT ${JSON.stringify({
    threads,
    tenfold_6000_ms: round(tenfoldMs),
    tenfold_6000_exact_ms: round(tenfoldExactMs),
    template_pairs: pairCount,
    templates: templateCount,
    template_pairs_s: round(templatePairsS),
    gallery: gallerySize,
    probes: probeCount,
    search_ms_per_probe: round(searchMsPerProbe),
    reference_template_pairs_s: reference ? round(reference.template_pairs_s) : null,
    reference_search_ms_per_probe: reference ? round(reference.search_ms_per_probe) : null,
    template_pairs_speedup_vs_reference: reference ? round(reference.template_pairs_s / templatePairsS) : null,
    search_ratio_vs_reference: reference ? round(reference.search_ms_per_probe / searchMsPerProbe) : null,
  })}`,
);
