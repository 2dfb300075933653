// Seeded bootstrap confidence intervals. A resample is a vector of counts (how often each item was drawn),
// so a statistic is computed as a weighted sweep over the items in their original order — the sorted
// scores of a ROC are reused, nothing is re-sorted. Strata (e.g. genuine vs impostor) are resampled
// separately so every resample keeps the class sizes, which TAR at a fixed FAR needs.
import { Prng } from '../common/prng.js';

export interface BootstrapOptions {
  /** Number of resamples (default 1000). */
  resamples?: number;
  /** Seed of the resampling stream (default 1): the same seed gives the same interval. */
  seed?: number;
  /** Confidence level of the percentile interval (default 0.95). */
  level?: number;
  /** Optional stratum per item (e.g. pair labels); each stratum is resampled within itself. */
  strata?: ArrayLike<number>;
}

export interface Interval {
  /** The statistic on the full data (all counts 1). */
  value: number;
  low: number;
  high: number;
  level: number;
}

export interface PairedDifference extends Interval {
  /** Share of resamples in which model A did not beat model B (a one-sided bootstrap p-value for A > B). */
  pNotBetter: number;
}

/** A statistic of `n` items weighted by counts (undefined weights: every item once). */
export type WeightedStatistic = (weights?: ArrayLike<number>) => number;

function percentile(sorted: Float64Array, q: number): number {
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

function* resampleCounts(n: number, options: BootstrapOptions): Generator<Uint32Array> {
  const prng = new Prng(options.seed ?? 1);
  const resamples = options.resamples ?? 1000;
  if (!Number.isInteger(resamples) || resamples < 10)
    throw new RangeError(`bootstrap: resamples must be an integer ≥ 10, got ${resamples}`);
  const groups = new Map<number, number[]>();
  for (let i = 0; i < n; i++) {
    const s = options.strata === undefined ? 0 : options.strata[i];
    let g = groups.get(s);
    if (!g) {
      g = [];
      groups.set(s, g);
    }
    g.push(i);
  }
  const members = [...groups.values()].map((g) => Int32Array.from(g));
  const counts = new Uint32Array(n);
  for (let r = 0; r < resamples; r++) {
    counts.fill(0);
    for (const group of members) for (let j = 0; j < group.length; j++) counts[group[prng.index(group.length)]]++;
    yield counts;
  }
}

function interval(value: number, draws: Float64Array, level: number): Interval {
  const finite = Float64Array.from(draws.filter((v) => Number.isFinite(v))).sort();
  if (finite.length === 0) return { value, low: Number.NaN, high: Number.NaN, level };
  return { value, low: percentile(finite, (1 - level) / 2), high: percentile(finite, 1 - (1 - level) / 2), level };
}

/** Percentile bootstrap interval of a weighted statistic over `n` items. */
export function bootstrap(n: number, statistic: WeightedStatistic, options: BootstrapOptions = {}): Interval {
  return bootstrapMany(n, (w) => [statistic(w)], options)[0];
}

/**
 * Intervals of several statistics that share one computation per resample (e.g. AUC, EER and every
 * TAR@FAR from a single ROC sweep): `statistics(weights)` returns them in a fixed order.
 */
export function bootstrapMany(
  n: number,
  statistics: (weights?: ArrayLike<number>) => number[],
  options: BootstrapOptions = {},
): Interval[] {
  const level = options.level ?? 0.95;
  const values = statistics();
  const draws = values.map(() => [] as number[]);
  for (const counts of resampleCounts(n, options)) {
    statistics(counts).forEach((v, i) => {
      draws[i].push(v);
    });
  }
  return values.map((value, i) => interval(value, Float64Array.from(draws[i]), level));
}

/**
 * Paired comparison of two models on the same `n` items: both statistics see the same resample each
 * time; the interval is for statisticA − statisticB.
 */
export function pairedBootstrap(
  n: number,
  statisticA: WeightedStatistic,
  statisticB: WeightedStatistic,
  options: BootstrapOptions = {},
): PairedDifference {
  const level = options.level ?? 0.95;
  const draws: number[] = [];
  let notBetter = 0;
  for (const counts of resampleCounts(n, options)) {
    const d = statisticA(counts) - statisticB(counts);
    draws.push(d);
    if (!(d > 0)) notBetter++;
  }
  return { ...interval(statisticA() - statisticB(), Float64Array.from(draws), level), pNotBetter: notBetter / draws.length };
}

/** The weighted mean of per-item values (accuracy from 0/1 correctness, rank-1 from 0/1 hits). */
export function weightedMean(values: ArrayLike<number>): WeightedStatistic {
  return (weights) => {
    let sum = 0;
    let total = 0;
    for (let i = 0; i < values.length; i++) {
      const w = weights === undefined ? 1 : weights[i];
      sum += w * values[i];
      total += w;
    }
    return sum / total;
  };
}
