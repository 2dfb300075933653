// Template pooling, IJB readers, pair scoring, identification (CMC, DIR@FAR), attributes, bootstrap and
// flip fusion on small hand-checkable cases and fixtures written in the real file layouts.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { attributeMetrics } from '../src/eval/attributes.js';
import { bootstrap, pairedBootstrap, weightedMean } from '../src/eval/bootstrap.js';
import { fuseFlips } from '../src/eval/embedding.js';
import { closedSet, firstImagesAsGallery, leaveOneOutSearch, openSet, search } from '../src/eval/identification.js';
import { findIjbMeta, readFaceTidMid, readTemplatePairs } from '../src/eval/ijb.js';
import { pairScores } from '../src/eval/pair-scores.js';
import { auc, SortedScores } from '../src/eval/roc.js';
import { compareVerification } from '../src/eval/summary.js';
import { poolTemplates, templateRows } from '../src/eval/templates.js';
import * as torch from '../src/torch/index.js';
import { runPythonJson, sklearnUnavailable } from './helpers/python-json.js';

function near(actual: ArrayLike<number>, expected: number[], tol = 1e-6): void {
  assert.equal(actual.length, expected.length);
  for (let i = 0; i < expected.length; i++) assert.ok(Math.abs(actual[i] - expected[i]) <= tol, `[${i}] ${actual[i]} vs ${expected[i]}`);
}

test('template pooling: mean within a media, sum over medias, then L2-normalise', () => {
  // Template 7: media 1 has images (2,0) and (0,0)… mean (1,0); media 2 has (0,3) → sum (1,3) → /√10.
  // Template 3: a single image (0,-2) → (0,-1).
  const features = torch.tensor([
    [2, 0],
    [0, 0],
    [0, 3],
    [0, -2],
  ]);
  const pooled = poolTemplates(features, Int32Array.from([7, 7, 7, 3]), Int32Array.from([1, 1, 2, 5]));
  assert.deepEqual([...pooled.templateIds], [3, 7]);
  const s = Math.sqrt(10);
  near(pooled.features.dataSync() as Float32Array, [0, -1, 1 / s, 3 / s]);
  assert.deepEqual([...templateRows(pooled, Int32Array.from([7, 3]), 'pairs')], [1, 0]);
  assert.throws(() => templateRows(pooled, Int32Array.from([9]), 'pairs'), /pair 0 names template 9, which has no images/);
  assert.throws(() => poolTemplates(features, Int32Array.from([1, 2]), Int32Array.from([1, 2])), /do not match 2 images/);
});

test('IJB readers parse the real layout and name the bad line', () => {
  const root = mkdtempSync(join(tmpdir(), 'catface-ijb-'));
  try {
    mkdirSync(join(root, 'meta'));
    writeFileSync(join(root, 'meta', 'ijbc_face_tid_mid.txt'), '1.jpg 1 69544\n2.jpg 1 69544\n3.jpg 2 100\n\n4.jpg 3 101\n');
    writeFileSync(join(root, 'meta', 'ijbc_template_pair_label.txt'), '1 2 0\r\n1 3 1\r\n2 3 0\r\n');
    const files = findIjbMeta(root);
    const images = readFaceTidMid(files.faceTidMid);
    assert.deepEqual(images.imageNames, ['1.jpg', '2.jpg', '3.jpg', '4.jpg']);
    assert.deepEqual([...images.templateIds], [1, 1, 2, 3]);
    assert.deepEqual([...images.mediaIds], [69544, 69544, 100, 101]);
    const pairs = readTemplatePairs(files.templatePairLabel);
    assert.deepEqual([...pairs.left], [1, 1, 2]);
    assert.deepEqual([...pairs.right], [2, 3, 3]);
    assert.deepEqual([...pairs.labels], [0, 1, 0]);
    const bad = join(root, 'bad_template_pair_label.txt');
    writeFileSync(bad, '1 2 0\n1 x 1\n');
    assert.throws(() => readTemplatePairs(bad), /bad_template_pair_label\.txt:2: template id 2 'x' is not an integer/);
    writeFileSync(bad, '1 2 0\n1 3\n');
    assert.throws(() => readTemplatePairs(bad), /:2: expected 3 fields, found 2/);
    writeFileSync(bad, '1 2 2\n');
    assert.throws(() => readTemplatePairs(bad), /:1: label must be 0 or 1, got 2/);
    assert.throws(() => findIjbMeta(join(root, 'meta', 'nothing')), /no \*_face_tid_mid\.txt/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('pair scores: blocked matmul and gather paths equal direct dot products and distances', () => {
  torch.manualSeed(3);
  const features = torch.F.normalize(torch.randn([300, 16]), 2, 1);
  const rows = features.toArray() as number[][];
  const dot = (a: number, b: number) => rows[a].reduce((s, v, i) => s + v * rows[b][i], 0);
  const left = Int32Array.from({ length: 5000 }, (_, i) => (i * 7919) % 300);
  const right = Int32Array.from({ length: 5000 }, (_, i) => (i * 104729 + 13) % 300);
  const expected = Array.from(left, (l, i) => dot(l, right[i]));
  // Dense blocks (many pairs per row), tiny blocks, and a sparse set that takes the gather path.
  near(pairScores(features, left, right), expected, 1e-5);
  near(pairScores(features, left, right, { blockEntries: 600 }), expected, 1e-5);
  const oneEach = Int32Array.from({ length: 300 }, (_, i) => i);
  const shuffled = Int32Array.from(oneEach, (i) => (i * 7 + 1) % 300);
  near(
    pairScores(features, oneEach, shuffled),
    Array.from(oneEach, (l, i) => dot(l, shuffled[i])),
    1e-5,
  );
  const distances = pairScores(features, left, right, { metric: 'negative-squared-distance' });
  near(
    distances,
    expected.map((d) => -(2 - 2 * d)),
    1e-5,
  );
  assert.throws(
    () => pairScores(features, Int32Array.from([0]), Int32Array.from([300])),
    /right\[0\] = 300 is outside the 300 feature rows/,
  );
});

test('CMC on a hand-checkable gallery with a distractor', () => {
  // Gallery: identities 10, 20, 30 and a distractor (−1). Probe scores are the rows of P·Gᵀ.
  const gallery = torch.tensor([
    [1, 0, 0, 0],
    [0, 1, 0, 0],
    [0, 0, 1, 0],
    [0, 0, 0, 1],
  ]);
  const galleryLabels = [10, 20, 30, -1];
  const probes = torch.tensor([
    [0.9, 0.1, 0, 0.2], // id 10: rank 1
    [0.5, 0.3, 0, 0.6], // id 20: distractor 0.6, id10 0.5, id20 0.3 → rank 3
    [0, 0, 0.2, 0.8], // id 30: rank 2
    [0.1, 0.2, 0.3, 0.9], // id 40: not in the gallery (non-mated)
  ]);
  const probeLabels = [10, 20, 30, 40];
  const result = search(gallery, probes, { k: 4 });
  assert.deepEqual([...result.indices.subarray(4, 8)], [3, 0, 1, 2]);
  const closed = closedSet(result, galleryLabels, probeLabels);
  assert.deepEqual([...closed.ranks], [1, 3, 2]);
  near(closed.cmc, [1 / 3, 2 / 3, 1, 1]);
  // Open set: the single non-mated probe's best score is 0.9. FAR 1 lets it through (threshold −∞):
  // DIR = mated probes whose rank-1 is right = 1/3. FAR 0.5 of one probe cannot be measured.
  const open = openSet(result, galleryLabels, probeLabels, [1, 0.5]);
  assert.equal(open[0].dir, 1 / 3);
  assert.equal(open[1].dir, null);
});

test('DIR@FAR thresholds on the non-mated best scores', () => {
  const gallery = torch.eye(3);
  const galleryLabels = [1, 2, 3];
  // Mated probes of 1, 2, 3 with best scores 0.9, 0.5, 0.7 (all right at rank 1); non-mated best 0.8, 0.6, 0.4, 0.2.
  const probes = torch.tensor([
    [0.9, 0, 0],
    [0, 0.5, 0],
    [0, 0, 0.7],
    [0.8, 0, 0],
    [0, 0.6, 0],
    [0, 0, 0.4],
    [0.2, 0, 0],
  ]);
  const probeLabels = [1, 2, 3, 9, 9, 9, 9];
  const result = search(gallery, probes, { k: 3 });
  const open = openSet(result, galleryLabels, probeLabels, [0.25, 0.5]);
  // FAR 0.25: one non-mated may pass → threshold 0.6 → mated above: 0.9, 0.7 → 2/3.
  assert.ok(Math.abs((open[0].threshold as number) - 0.6) < 1e-6);
  assert.equal(open[0].dir, 2 / 3);
  // FAR 0.5: two may pass → threshold 0.4 → all three mated pass.
  assert.equal(open[1].dir, 1);
});

test('gallery split and leave-one-out search', () => {
  const split = firstImagesAsGallery([0, 0, 0, 1, 1, 2], 1);
  assert.deepEqual([...split.gallery], [0, 3, 5]);
  assert.deepEqual([...split.probes], [1, 2, 4]);
  const features = torch.F.normalize(
    torch.tensor([
      [1, 0.1],
      [1, 0.2],
      [0.1, 1],
      [0.2, 1],
    ]),
    2,
    1,
  );
  const loo = leaveOneOutSearch(features, { k: 2 });
  assert.equal(loo.k, 2);
  assert.deepEqual([...loo.indices], [1, 3, 0, 3, 3, 1, 2, 1]);
  assert.deepEqual([...closedSet(loo, [0, 0, 1, 1], [0, 0, 1, 1]).cmc], [1, 1]);
});

test('attribute accuracy and balanced accuracy equal scikit-learn', { skip: sklearnUnavailable ?? false }, () => {
  const names = ['Male', 'Bald'];
  const logits = [2, -1, -0.5, -2, 1, 0.5, 3, -3, -1, 2, 0.2, -0.1];
  const labels = [1, 0, 0, 0, 1, 1, 1, 0, 0, 0, 1, 0];
  const ours = attributeMetrics(logits, labels, names);
  const ref = runPythonJson<{ acc: number[]; bal: number[] }>(
    `
p = (np.array(inp['logits']).reshape(-1, 2) > 0).astype(int); y = np.array(inp['labels']).reshape(-1, 2)
out['acc'] = [sklearn.metrics.accuracy_score(y[:, a], p[:, a]) for a in range(2)]
out['bal'] = [sklearn.metrics.balanced_accuracy_score(y[:, a], p[:, a]) for a in range(2)]
`,
    { logits, labels },
  );
  near(
    ours.map((m) => m.accuracy),
    ref.acc,
    1e-12,
  );
  near(
    ours.map((m) => m.balancedAccuracy),
    ref.bal,
    1e-12,
  );
  assert.throws(() => attributeMetrics([1, 2], [1, 2], ['Male']), /label of sample 1, attribute 'Male' is 2/);
});

test('bootstrap: seeded, brackets the value, and a paired difference of a model with itself is 0', () => {
  const correct = Array.from({ length: 600 }, (_, i) => (i % 10 < 9 ? 1 : 0));
  const a = bootstrap(correct.length, weightedMean(correct), { seed: 5, resamples: 400 });
  const b = bootstrap(correct.length, weightedMean(correct), { seed: 5, resamples: 400 });
  assert.deepEqual(a, b);
  assert.ok(Math.abs(a.value - 0.9) < 1e-12);
  assert.ok(a.low < 0.9 && a.high > 0.9, `${a.low} … ${a.high}`);
  // The width matches the normal approximation of a binomial proportion, 2 · 1.96 · √(p(1−p)/n) = 0.048, from
  // both sides: with 400 resamples the percentiles are within about 15% of it.
  const analytic = 2 * 1.96 * Math.sqrt((0.9 * 0.1) / 600);
  const width = a.high - a.low;
  assert.ok(width > 0.85 * analytic && width < 1.15 * analytic, `CI width ${width.toFixed(4)} vs analytic ${analytic.toFixed(4)}`);
  const scores = Array.from({ length: 400 }, (_, i) => ((i * 37) % 101) / 100 + (i % 2) * 0.3);
  const labels = scores.map((_, i) => i % 2);
  const sorted = new SortedScores(scores, labels);
  const aucOf = (w?: ArrayLike<number>) => auc(sorted.roc(w));
  const same = pairedBootstrap(scores.length, aucOf, aucOf, { strata: labels, resamples: 200 });
  assert.equal(same.value, 0);
  assert.equal(same.low, 0);
  assert.equal(same.high, 0);
  // A worse model (scores with half the separation) loses on every resample.
  const worse = new SortedScores(
    scores.map((s, i) => s - (i % 2) * 0.25),
    labels,
  );
  const diff = pairedBootstrap(scores.length, aucOf, (w) => auc(worse.roc(w)), { strata: labels, resamples: 200 });
  assert.ok(diff.value > 0 && diff.low > 0, `${diff.low}`);
  assert.equal(diff.pNotBetter, 0);
});

test('flip fusion: sum of unit embeddings vs norm-weighted', () => {
  const plain = { embeddings: Float32Array.from([3, 0]), dim: 2, norms: Float32Array.from([3]) };
  const flipped = { embeddings: Float32Array.from([0, 1]), dim: 2, norms: Float32Array.from([1]) };
  const s = Math.SQRT1_2;
  near(fuseFlips(plain, flipped, 'sum').dataSync() as Float32Array, [s, s]);
  near(fuseFlips(plain, flipped, 'norm-weighted').dataSync() as Float32Array, [3 / Math.sqrt(10), 1 / Math.sqrt(10)]);
  near(fuseFlips(plain, null, 'none').dataSync() as Float32Array, [1, 0]);
  assert.throws(() => fuseFlips({ embeddings: plain.embeddings, dim: 2 }, flipped, 'norm-weighted'), /needs feature norms/);
});

test('paired verification comparison: a model against itself differs by 0; other pairs are refused', () => {
  const scores = Array.from({ length: 400 }, (_, i) => ((i * 37) % 101) / 100 + (i % 2) * 0.3);
  const labels = scores.map((_, i) => i % 2);
  const same = compareVerification({ scores, labels }, { scores, labels }, { bootstrap: { resamples: 100 } });
  assert.deepEqual([same.accuracy.value, same.accuracy.low, same.accuracy.high], [0, 0, 0]);
  assert.deepEqual([same.auc.value, same.auc.low, same.auc.high], [0, 0, 0]);
  const flipped = labels.map((l) => 1 - l);
  assert.throws(() => compareVerification({ scores, labels }, { scores, labels: flipped }), /pair 0 has different labels/);
  // Two different models on 400 pairs: A separates them all; B scores every fifth genuine pair below every
  // impostor (40 of 200, 4 in each contiguous fold). A − B: accuracy 1 − 0.9 = 0.1, AUC 1 − 0.8 = 0.2, with paired
  // CIs as wide as those binomial proportions (0.1 of 400 pairs, 0.2 of the 200 genuine ones in the AUC).
  const separated = labels.map((l, i) => l + ((i * 37) % 101) / 1000);
  const worse = separated.map((s, i) => (labels[i] === 1 && (i >> 1) % 5 === 0 ? -1 + s / 10 : s));
  const diff = compareVerification({ scores: separated, labels }, { scores: worse, labels }, { bootstrap: { resamples: 1000 } });
  assert.ok(Math.abs(diff.accuracy.value - 0.1) < 1e-12, `accuracy difference ${diff.accuracy.value}`);
  assert.ok(Math.abs(diff.auc.value - 0.2) < 1e-12, `AUC difference ${diff.auc.value}`);
  for (const [name, m, p, n] of [
    ['accuracy', diff.accuracy, 0.1, 400],
    ['AUC', diff.auc, 0.2, 200],
  ] as const) {
    const analytic = 2 * 1.96 * Math.sqrt((p * (1 - p)) / n);
    const width = m.high - m.low;
    assert.ok(m.low > 0 && m.low < p && m.high > p, `${name} CI [${m.low}, ${m.high}]`);
    assert.ok(width > 0.8 * analytic && width < 1.2 * analytic, `${name} CI width ${width.toFixed(4)} vs ${analytic.toFixed(4)}`);
    assert.equal(m.pNotBetter, 0);
  }
});
