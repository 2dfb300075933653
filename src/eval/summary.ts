// Headline metrics with bootstrap confidence intervals, as the CLI prints them and reports show them:
// verification (10-fold accuracy, AUC, EER, TAR@FAR) from pair scores, identification (CMC ranks, DIR@FAR)
// from a search result, and the paired comparison of two models on the same pairs.
import {
  type BootstrapOptions,
  bootstrap,
  bootstrapMany,
  type Interval,
  type PairedDifference,
  pairedBootstrap,
  weightedMean,
} from './bootstrap.js';
import { closedSet, type DirAtFar, openSet, type SearchResult } from './identification.js';
import { auc, eer, type RocCurve, SortedScores, STANDARD_FARS, tarAtFar } from './roc.js';
import { type TenFoldOptions, tenFold } from './tenfold.js';

export interface SummaryOptions {
  fars?: readonly number[];
  /** Bootstrap settings; `resamples: 0` skips the intervals (e.g. for 15 M IJB pairs). Default 1000, seed 1. */
  bootstrap?: BootstrapOptions;
  /** Run the 10-fold protocol (pair lists whose order makes folds: .bin, pairs.txt). Default true. */
  tenFold?: boolean | TenFoldOptions;
}

export interface MetricWithInterval {
  value: number | null;
  low?: number;
  high?: number;
}

export interface VerificationSummary {
  pairs: number;
  genuine: number;
  impostor: number;
  /** 10-fold accuracy (mean over folds) with its fold std, and a bootstrap CI over pairs. */
  accuracy?: MetricWithInterval & { std: number; thresholds: number[] };
  auc: MetricWithInterval;
  eer: MetricWithInterval;
  tarAtFar: (MetricWithInterval & { far: number; threshold: number | null })[];
  /** The full ROC, for plots. */
  roc: RocCurve;
}

function withInterval(interval: Interval | null, value: number | null): MetricWithInterval {
  return interval ? { value, low: interval.low, high: interval.high } : { value };
}

function resamplesOf(options: SummaryOptions): number {
  return options.bootstrap?.resamples ?? 1000;
}

/** Every verification metric of one model on one pair set. */
export function summarizeVerification(
  scores: ArrayLike<number>,
  labels: ArrayLike<number>,
  options: SummaryOptions = {},
): VerificationSummary {
  const sorted = new SortedScores(scores, labels);
  const roc = sorted.roc();
  const fars = options.fars ?? STANDARD_FARS;
  const boot = resamplesOf(options) > 0 ? { seed: 1, ...options.bootstrap, strata: labels } : null;
  const points = tarAtFar(roc, fars);
  const measurable = points.filter((p) => p.tar !== null).map((p) => p.far);
  // One ROC sweep per resample gives AUC, EER and every measurable TAR@FAR.
  const fromRoc = (r: RocCurve) => [auc(r), eer(r), ...tarAtFar(r, measurable).map((p) => p.tar ?? Number.NaN)];
  const intervals = boot ? bootstrapMany(scores.length, (w) => fromRoc(sorted.roc(w)), boot) : null;
  const summary: VerificationSummary = {
    pairs: scores.length,
    genuine: sorted.positives,
    impostor: sorted.negatives,
    auc: withInterval(intervals?.[0] ?? null, auc(roc)),
    eer: withInterval(intervals?.[1] ?? null, eer(roc)),
    tarAtFar: points.map((point) => {
      if (point.tar === null) return { far: point.far, value: null, threshold: null };
      return {
        far: point.far,
        threshold: point.threshold,
        ...withInterval(intervals?.[2 + measurable.indexOf(point.far)] ?? null, point.tar),
      };
    }),
    roc,
  };
  if (options.tenFold !== false) {
    const folds = tenFold(scores, labels, typeof options.tenFold === 'object' ? options.tenFold : {});
    const interval = boot ? bootstrap(scores.length, weightedMean(folds.correct), boot) : null;
    summary.accuracy = { ...withInterval(interval, folds.accuracy), std: folds.std, thresholds: folds.folds.map((f) => f.threshold) };
  }
  return summary;
}

/** Model A minus model B on the same pairs: 10-fold accuracy (per-pair correctness) and AUC, paired bootstrap. */
export function compareVerification(
  a: { scores: ArrayLike<number>; labels: ArrayLike<number> },
  b: { scores: ArrayLike<number>; labels: ArrayLike<number> },
  options: SummaryOptions = {},
): { accuracy: PairedDifference; auc: PairedDifference } {
  if (a.scores.length !== b.scores.length) throw new RangeError(`compareVerification: ${a.scores.length} vs ${b.scores.length} pairs`);
  for (let i = 0; i < a.labels.length; i++) {
    if (a.labels[i] !== b.labels[i])
      throw new RangeError(`compareVerification: pair ${i} has different labels in A and B (not the same pairs)`);
  }
  const boot = { seed: 1, ...options.bootstrap, strata: a.labels };
  const tenFoldOptions = typeof options.tenFold === 'object' ? options.tenFold : {};
  const correctA = tenFold(a.scores, a.labels, tenFoldOptions).correct;
  const correctB = tenFold(b.scores, b.labels, tenFoldOptions).correct;
  const sortedA = new SortedScores(a.scores, a.labels);
  const sortedB = new SortedScores(b.scores, b.labels);
  return {
    accuracy: pairedBootstrap(a.scores.length, weightedMean(correctA), weightedMean(correctB), boot),
    auc: pairedBootstrap(
      a.scores.length,
      (w) => auc(sortedA.roc(w)),
      (w) => auc(sortedB.roc(w)),
      boot,
    ),
  };
}

export interface IdentificationSummary {
  probes: number;
  matedProbes: number;
  /** Identification rate at each requested rank (closed set, mated probes). */
  ranks: (MetricWithInterval & { rank: number })[];
  cmc: Float64Array;
  dirAtFar: DirAtFar[];
}

/** CMC ranks (with CIs over mated probes) and open-set DIR@FAR of one search. */
export function summarizeIdentification(
  result: SearchResult,
  galleryLabels: ArrayLike<number>,
  probeLabels: ArrayLike<number>,
  options: SummaryOptions & { ranks?: readonly number[] } = {},
): IdentificationSummary {
  const closed = closedSet(result, galleryLabels, probeLabels);
  const nonMated = probeLabels.length - closed.matedProbes.length;
  const ranks = (options.ranks ?? [1, 5, 20]).filter((r) => r <= result.k);
  return {
    probes: probeLabels.length,
    matedProbes: closed.matedProbes.length,
    ranks: ranks.map((rank) => {
      const hits = Array.from(closed.ranks, (r) => (r <= rank ? 1 : 0));
      const interval = resamplesOf(options) > 0 ? bootstrap(hits.length, weightedMean(hits), { seed: 1, ...options.bootstrap }) : null;
      return { rank, ...withInterval(interval, closed.cmc[rank - 1]) };
    }),
    cmc: closed.cmc,
    dirAtFar: nonMated > 0 ? openSet(result, galleryLabels, probeLabels, options.fars ?? [1e-3, 1e-2, 1e-1]) : [],
  };
}
