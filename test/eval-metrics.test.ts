// Verification metrics against scikit-learn / numpy on fixed score sets: ROC, AUC, EER, TAR@FAR and the
// 10-fold protocol (contiguous KFold, threshold by best training accuracy, numpy argmax tie-breaking).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Prng } from '../src/common/prng.js';
import { auc, eer, SortedScores, tarAtFar } from '../src/eval/roc.js';
import { contiguousFolds, insightfaceDistanceThresholds, tenFold } from '../src/eval/tenfold.js';
import { runPythonJson, sklearnUnavailable } from './helpers/python-json.js';

function gaussian(prng: Prng): number {
  return Math.sqrt(-2 * Math.log(1 - prng.uniform())) * Math.cos(2 * Math.PI * prng.uniform());
}

/** Shuffled genuine/impostor cosine-like scores, rounded to 3 decimals so that ties occur. */
function scoreSet(n: number, seed: number): { scores: number[]; labels: number[] } {
  const prng = new Prng(seed);
  const scores: number[] = [];
  const labels: number[] = [];
  for (let i = 0; i < n; i++) {
    const genuine = prng.uniform() < 0.5 ? 1 : 0;
    const s = genuine ? 0.45 + 0.18 * gaussian(prng) : 0.05 + 0.12 * gaussian(prng);
    scores.push(Math.round(s * 1000) / 1000);
    labels.push(genuine);
  }
  return { scores, labels };
}

function close(a: number, b: number, tol = 1e-12): void {
  assert.ok(Math.abs(a - b) <= tol, `${a} vs ${b}`);
}

function closeAll(actual: ArrayLike<number>, expected: number[], tol = 1e-12): void {
  assert.equal(actual.length, expected.length);
  for (let i = 0; i < expected.length; i++) close(actual[i], expected[i], tol);
}

test('ROC, AUC, EER and TAR@FAR equal scikit-learn on 5000 tied scores', { skip: sklearnUnavailable ?? false }, () => {
  const { scores, labels } = scoreSet(5000, 7);
  const sorted = new SortedScores(scores, labels);
  const roc = sorted.roc();
  const fars = [1e-4, 1e-3, 1e-2, 1e-1];
  const ref = runPythonJson<{ fpr: number[]; tpr: number[]; thr: number[]; auc: number; eer: number; tar: number[] }>(
    `
from scipy.optimize import brentq
from scipy.interpolate import interp1d
y = np.array(inp['labels']); s = np.array(inp['scores'])
fpr, tpr, thr = sklearn.metrics.roc_curve(y, s, drop_intermediate=False)
out['fpr'] = fpr; out['tpr'] = tpr; out['thr'] = thr[1:]
out['auc'] = sklearn.metrics.roc_auc_score(y, s)
out['eer'] = brentq(lambda x: 1. - x - interp1d(fpr, tpr)(x), 0., 1.)
out['tar'] = [float(tpr[fpr <= far].max()) for far in inp['fars']]
`,
    { scores, labels, fars },
  );
  assert.equal(roc.fpr.length, ref.fpr.length);
  closeAll(roc.fpr, ref.fpr);
  closeAll(roc.tpr, ref.tpr);
  closeAll(roc.thresholds.slice(1), ref.thr);
  close(auc(roc), ref.auc, 1e-12);
  close(eer(roc), ref.eer, 1e-9);
  const ours = tarAtFar(roc, fars);
  // 5000 pairs hold ~2500 impostors: 1e-4 cannot be measured and must say so.
  assert.equal(ours[0].tar, null);
  closeAll(
    ours.slice(1).map((r) => r.tar as number),
    ref.tar.slice(1),
  );
  // Each threshold is calibrated: counted by hand, at most FAR of the impostors score at or above it, and the
  // next lower score would let more in; the TAR is the share of genuine pairs at or above it.
  const impostors = scores.filter((_, i) => labels[i] === 0);
  const genuine = scores.filter((_, i) => labels[i] === 1);
  for (const r of ours.slice(1)) {
    const threshold = r.threshold as number;
    const accepted = impostors.filter((s) => s >= threshold).length;
    assert.ok(accepted / impostors.length <= r.far, `FAR ${r.far}: ${accepted} impostors at or above ${threshold}`);
    const next = Math.max(...scores.filter((s) => s < threshold));
    const more = impostors.filter((s) => s >= next).length;
    assert.ok(more / impostors.length > r.far, `FAR ${r.far}: the threshold could go lower (${next})`);
    assert.equal(r.tar, genuine.filter((s) => s >= threshold).length / genuine.length);
  }
});

test('weighted ROC equals the ROC of the pairs repeated', () => {
  const { scores, labels } = scoreSet(300, 3);
  const weights = scores.map((_, i) => i % 3);
  const repeatedScores: number[] = [];
  const repeatedLabels: number[] = [];
  scores.forEach((s, i) => {
    for (let r = 0; r < weights[i]; r++) {
      repeatedScores.push(s);
      repeatedLabels.push(labels[i]);
    }
  });
  const a = new SortedScores(scores, labels).roc(weights);
  const b = new SortedScores(repeatedScores, repeatedLabels).roc();
  close(auc(a), auc(b));
  close(eer(a), eer(b));
});

test('10-fold accuracy, thresholds and std equal the numpy/KFold procedure', { skip: sklearnUnavailable ?? false }, () => {
  const { scores, labels } = scoreSet(6003, 11);
  const ours = tenFold(scores, labels);
  const exact = `
s = np.array(inp['scores']); y = np.array(inp['labels']).astype(bool); thr = np.array(inp['thresholds'])
accs = []; best = []
for train, test in sklearn.model_selection.KFold(n_splits=10, shuffle=False).split(s):
    acc_train = np.array([np.mean((s[train] > t) == y[train]) for t in thr])
    b = int(np.argmax(acc_train)); best.append(thr[b])
    accs.append(np.mean((s[test] > thr[b]) == y[test]))
out['acc'] = accs; out['thr'] = best; out['mean'] = np.mean(accs); out['std'] = np.std(accs)
`;
  // Our default candidates are the midpoints of distinct scores; hand numpy the same list.
  const distinct = [...new Set(scores)].sort((a, b) => a - b);
  const thresholds = [distinct[0] - 1, ...distinct.slice(1).map((v, i) => (v + distinct[i]) / 2), distinct[distinct.length - 1] + 1];
  const ref = runPythonJson<{ acc: number[]; thr: number[]; mean: number; std: number }>(exact, { scores, labels, thresholds });
  ours.folds.forEach((f, i) => {
    close(f.accuracy, ref.acc[i]);
    close(f.threshold, ref.thr[i]);
  });
  close(ours.accuracy, ref.mean);
  close(ours.std, ref.std);
  assert.deepEqual(
    ours.folds.map((f) => f.size),
    [601, 601, 601, 600, 600, 600, 600, 600, 600, 600],
  );
});

test('insightface grid on squared distances reproduces its fold thresholds and accuracies', { skip: sklearnUnavailable ?? false }, () => {
  const { scores, labels } = scoreSet(6000, 5);
  const distances = scores.map((c) => Math.max(0, 2 - 2 * c));
  const ours = tenFold(
    distances.map((d) => -d),
    labels,
    { thresholds: insightfaceDistanceThresholds() },
  );
  const ref = runPythonJson<{ acc: number[]; thr: number[]; mean: number; std: number }>(
    `
dist = np.array(inp['dist']); y = np.array(inp['labels']).astype(bool); thresholds = np.arange(0, 4, 0.01)
accs = []; best = []
for train, test in sklearn.model_selection.KFold(n_splits=10, shuffle=False).split(dist):
    acc_train = np.array([np.mean(np.less(dist[train], t) == y[train]) for t in thresholds])
    b = int(np.argmax(acc_train)); best.append(thresholds[b])
    accs.append(np.mean(np.less(dist[test], thresholds[b]) == y[test]))
out['acc'] = accs; out['thr'] = best; out['mean'] = np.mean(accs); out['std'] = np.std(accs)
`,
    { dist: distances, labels },
  );
  ours.folds.forEach((f, i) => {
    close(f.accuracy, ref.acc[i]);
    close(-f.threshold, ref.thr[i]);
  });
  close(ours.accuracy, ref.mean);
  close(ours.std, ref.std);
});

test('10-fold rejects bad input with clear errors', () => {
  assert.throws(() => tenFold([0.1, 0.2], [1]), /2 scores but 1 labels/);
  assert.throws(() => tenFold([0.1, Number.NaN, 0.3], [1, 0, 1], { folds: 2 }), /score 1 is NaN/);
  assert.throws(() => contiguousFolds(5, 10), /5 pairs cannot be split into 10 folds/);
});
