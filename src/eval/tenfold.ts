// The LFW / insightface 10-fold verification protocol: the pair list is cut into contiguous folds (as
// scikit-learn's KFold without shuffling cuts it); for each fold the threshold with the best accuracy on
// the other nine is applied to it; the result is the mean ± (population) std of the ten test accuracies.
// Counting is done once for all thresholds and folds, so 6000 pairs × 400 thresholds take a few ms.
import { checkPairs } from './roc.js';

export interface TenFoldOptions {
  /** Number of folds (default 10). */
  folds?: number;
  /**
   * Candidate thresholds on the score (a pair is accepted when score > threshold). When two give the same
   * training accuracy the first in this order wins, as numpy's argmax does. Default: the midpoints between
   * consecutive distinct scores plus one below and one above all of them (the exact optimum).
   * For insightface's numbers on squared distances pass `insightfaceDistanceThresholds()` with scores = −distance.
   */
  thresholds?: ArrayLike<number>;
}

export interface FoldResult {
  /** Test accuracy of this fold at the threshold chosen on the other folds. */
  accuracy: number;
  threshold: number;
  size: number;
}

export interface TenFoldResult {
  folds: FoldResult[];
  /** Mean of the fold accuracies. */
  accuracy: number;
  /** Population standard deviation of the fold accuracies (numpy's np.std). */
  std: number;
  /** Per pair: 1 when its fold's threshold classified it correctly (for bootstrap CIs and paired tests). */
  correct: Uint8Array;
}

/** Start offsets of `k` contiguous folds over `n` items (the first n % k folds are one longer), plus n. */
export function contiguousFolds(n: number, k: number): Int32Array {
  if (!Number.isInteger(k) || k < 2) throw new RangeError(`tenFold: folds must be an integer ≥ 2, got ${k}`);
  if (n < k) throw new RangeError(`tenFold: ${n} pairs cannot be split into ${k} folds`);
  const starts = new Int32Array(k + 1);
  const base = Math.floor(n / k);
  for (let f = 0; f < k; f++) starts[f + 1] = starts[f] + base + (f < n % k ? 1 : 0);
  return starts;
}

/**
 * insightface's grid `np.arange(0, 4, 0.01)` on squared L2 distance, expressed on score = −distance
 * (distance < t ⇔ −distance > −t), in the same order so ties resolve the same way.
 */
export function insightfaceDistanceThresholds(): Float64Array {
  return Float64Array.from({ length: 400 }, (_, i) => -(i * 0.01));
}

function exactThresholds(scores: ArrayLike<number>): Float64Array {
  const sorted = Float64Array.from(scores as ArrayLike<number>).sort();
  const out: number[] = [sorted[0] - 1];
  for (let i = 1; i < sorted.length; i++) if (sorted[i] !== sorted[i - 1]) out.push((sorted[i] + sorted[i - 1]) / 2);
  out.push(sorted[sorted.length - 1] + 1);
  return Float64Array.from(out);
}

/** Number of entries of the ascending array `sorted` strictly below `value`. */
function countBelow(sorted: Float64Array, value: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid] < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export function tenFold(scores: ArrayLike<number>, labels: ArrayLike<number | boolean>, options: TenFoldOptions = {}): TenFoldResult {
  checkPairs(scores, labels, 'tenFold');
  const n = scores.length;
  const k = options.folds ?? 10;
  const starts = contiguousFolds(n, k);
  const candidates = options.thresholds ? Float64Array.from(options.thresholds as ArrayLike<number>) : exactThresholds(scores);
  if (candidates.length === 0) throw new RangeError('tenFold: thresholds is empty');
  const t = candidates.length;
  // Sort thresholds ascending but remember each one's rank, so accept counts come from one histogram.
  const byValue = Int32Array.from({ length: t }, (_, i) => i).sort((a, b) => candidates[a] - candidates[b]);
  const sortedThresholds = Float64Array.from(byValue, (i) => candidates[i]);
  const rankOf = new Int32Array(t);
  byValue.forEach((original, rank) => {
    rankOf[original] = rank;
  });

  // accepted[(fold·2 + label)·(t+1) + j] = pairs of that fold and label with score > sortedThresholds[j].
  const stride = t + 1;
  const accepted = new Float64Array(k * 2 * stride);
  const totals = new Float64Array(k * 2);
  const labelOf = (i: number) => (labels[i] === true || labels[i] === 1 ? 1 : 0);
  for (let f = 0; f < k; f++) {
    for (let i = starts[f]; i < starts[f + 1]; i++) {
      const row = (f * 2 + labelOf(i)) * stride;
      // A pair is accepted by every threshold strictly below its score: sorted ranks 0 … below−1.
      accepted[row + countBelow(sortedThresholds, scores[i])]++;
      totals[f * 2 + labelOf(i)]++;
    }
    for (let label = 0; label < 2; label++) {
      const row = (f * 2 + label) * stride;
      for (let j = t - 1; j >= 0; j--) accepted[row + j] += accepted[row + j + 1];
    }
  }
  // After the suffix sums, accepted[row + j] counts pairs accepted at rank j−1 … shift by one.
  const acceptedAt = (f: number, label: number, rank: number) => accepted[(f * 2 + label) * stride + rank + 1];
  const allAccepted = (label: number, rank: number) => {
    let s = 0;
    for (let f = 0; f < k; f++) s += acceptedAt(f, label, rank);
    return s;
  };
  const allGenuineAccepted = Float64Array.from({ length: t }, (_, r) => allAccepted(1, r));
  const allImpostorAccepted = Float64Array.from({ length: t }, (_, r) => allAccepted(0, r));
  let allImpostors = 0;
  for (let f = 0; f < k; f++) allImpostors += totals[f * 2];

  const folds: FoldResult[] = [];
  const correct = new Uint8Array(n);
  for (let f = 0; f < k; f++) {
    const trainImpostors = allImpostors - totals[f * 2];
    let best = -1;
    let bestCorrect = -1;
    for (let j = 0; j < t; j++) {
      const r = rankOf[j];
      const tp = allGenuineAccepted[r] - acceptedAt(f, 1, r);
      const fp = allImpostorAccepted[r] - acceptedAt(f, 0, r);
      const right = tp + trainImpostors - fp;
      if (right > bestCorrect) {
        bestCorrect = right;
        best = j;
      }
    }
    const threshold = candidates[best];
    let right = 0;
    for (let i = starts[f]; i < starts[f + 1]; i++) {
      const ok = (scores[i] > threshold ? 1 : 0) === labelOf(i) ? 1 : 0;
      correct[i] = ok;
      right += ok;
    }
    const size = starts[f + 1] - starts[f];
    folds.push({ accuracy: right / size, threshold, size });
  }
  const accuracy = folds.reduce((s, f) => s + f.accuracy, 0) / k;
  const std = Math.sqrt(folds.reduce((s, f) => s + (f.accuracy - accuracy) ** 2, 0) / k);
  return { folds, accuracy, std, correct };
}
