// ROC analysis of scored pairs (higher score = more likely the same identity). The pairs are sorted once
// (on the engine, so 15 M template pairs sort in about a second); every metric is then one linear sweep,
// optionally weighted per pair — which is how the bootstrap resamples without sorting again.
import * as torch from '../torch/index.js';

/** One point per distinct threshold, from (0, 0) at threshold +∞ down to (1, 1) at the lowest score. */
export interface RocCurve {
  /** False accept rate (impostor pairs scoring ≥ threshold / impostor pairs). */
  fpr: Float64Array;
  /** True accept rate (genuine pairs scoring ≥ threshold / genuine pairs). */
  tpr: Float64Array;
  thresholds: Float64Array;
  /** Genuine and impostor totals (weighted counts when weights were given). */
  positives: number;
  negatives: number;
}

export interface TarAtFar {
  far: number;
  /** null where the impostor count cannot support this FAR (fewer than 1/FAR impostor pairs). */
  tar: number | null;
  /** The score threshold reaching it (accept when score ≥ threshold). */
  threshold: number | null;
}

/** The FARs the literature reports, 1e-6 … 1e-1. */
export const STANDARD_FARS: readonly number[] = [1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1];

/** Throws a RangeError naming the entry when scores and labels differ in length or a score is not finite. */
export function checkPairs(scores: ArrayLike<number>, labels: ArrayLike<number | boolean>, what = 'pairs'): void {
  if (scores.length !== labels.length) {
    throw new RangeError(`${what}: ${scores.length} scores but ${labels.length} labels`);
  }
  for (let i = 0; i < scores.length; i++) {
    if (!Number.isFinite(scores[i])) throw new RangeError(`${what}: score ${i} is ${scores[i]} (scores must be finite)`);
  }
}

/**
 * Scores sorted from highest to lowest with their labels, sorted once. `order[i]` is the original index of
 * the i-th highest score, so per-pair weights (bootstrap counts) apply without re-sorting.
 */
export class SortedScores {
  readonly order: Int32Array;
  readonly scores: Float64Array;
  readonly labels: Uint8Array;
  readonly positives: number;
  readonly negatives: number;

  constructor(scores: ArrayLike<number>, labels: ArrayLike<number | boolean>) {
    checkPairs(scores, labels, 'SortedScores');
    const n = scores.length;
    const values = Float64Array.from(scores as ArrayLike<number>);
    this.order = torch.tidy(() => {
      const t = torch.fromTypedArray(values);
      const idx = callSortDescending(t);
      return idx.to('int32').dataSync() as Int32Array;
    });
    this.scores = new Float64Array(n);
    this.labels = new Uint8Array(n);
    let positives = 0;
    for (let i = 0; i < n; i++) {
      const j = this.order[i];
      this.scores[i] = values[j];
      const genuine = labels[j] === true || labels[j] === 1 ? 1 : 0;
      this.labels[i] = genuine;
      positives += genuine;
    }
    this.positives = positives;
    this.negatives = n - positives;
  }

  get length(): number {
    return this.scores.length;
  }

  /** The ROC curve, one point per distinct score; `weights[originalIndex]` counts each pair (default 1). */
  roc(weights?: ArrayLike<number>): RocCurve {
    const n = this.scores.length;
    const fpr: number[] = [0];
    const tpr: number[] = [0];
    const thresholds: number[] = [Number.POSITIVE_INFINITY];
    let tp = 0;
    let fp = 0;
    for (let i = 0; i < n; i++) {
      const w = weights === undefined ? 1 : weights[this.order[i]];
      if (this.labels[i]) tp += w;
      else fp += w;
      if (i + 1 < n && this.scores[i + 1] === this.scores[i]) continue;
      tpr.push(tp);
      fpr.push(fp);
      thresholds.push(this.scores[i]);
    }
    const positives = tp;
    const negatives = fp;
    return {
      fpr: Float64Array.from(fpr, (v) => (negatives > 0 ? v / negatives : Number.NaN)),
      tpr: Float64Array.from(tpr, (v) => (positives > 0 ? v / positives : Number.NaN)),
      thresholds: Float64Array.from(thresholds),
      positives,
      negatives,
    };
  }
}

function callSortDescending(t: torch.Tensor): torch.Tensor {
  // Stable, so tied scores keep their input order (the result is the same either way: ties share a point).
  const [, indices] = torch.callOp('aten::sort.stable', [t, true, 0, true]) as [torch.Tensor, torch.Tensor];
  return indices;
}

/** Area under the ROC curve by the trapezoid rule (what scikit-learn's roc_auc_score computes). */
export function auc(roc: RocCurve): number {
  let area = 0;
  for (let i = 1; i < roc.fpr.length; i++) area += ((roc.fpr[i] - roc.fpr[i - 1]) * (roc.tpr[i] + roc.tpr[i - 1])) / 2;
  return area;
}

/**
 * Equal error rate: where the piecewise-linear ROC crosses FRR = FAR (tpr = 1 − fpr), interpolated
 * linearly along the segment that crosses.
 */
export function eer(roc: RocCurve): number {
  const gap = (i: number) => roc.tpr[i] + roc.fpr[i] - 1;
  for (let i = 1; i < roc.fpr.length; i++) {
    const g1 = gap(i);
    if (g1 >= 0) {
      const g0 = gap(i - 1);
      const t = g1 === g0 ? 0 : -g0 / (g1 - g0);
      return roc.fpr[i - 1] + t * (roc.fpr[i] - roc.fpr[i - 1]);
    }
  }
  return Number.NaN;
}

/**
 * TAR at each FAR: the highest TPR among thresholds whose FPR does not exceed the FAR. A FAR below
 * 1 / (impostor count) cannot be measured and gives `tar: null`.
 */
export function tarAtFar(roc: RocCurve, fars: readonly number[] = STANDARD_FARS): TarAtFar[] {
  return fars.map((far) => {
    if (!(far > 0 && far <= 1)) throw new RangeError(`tarAtFar: FAR must be in (0, 1], got ${far}`);
    if (roc.negatives * far < 1 - 1e-9) return { far, tar: null, threshold: null };
    let best = 0;
    // fpr is non-decreasing along the curve: the last point within the FAR has the highest TPR.
    for (let i = 0; i < roc.fpr.length && roc.fpr[i] <= far + 1e-15; i++) best = i;
    return { far, tar: roc.tpr[best], threshold: roc.thresholds[best] };
  });
}

/** A short name for a FAR, e.g. 1e-4 → "1e-4". */
export function farLabel(far: number): string {
  const exponent = Math.log10(far);
  return Number.isInteger(exponent) ? `1e${exponent}` : String(far);
}
