// A mean over training seeds with a 95% interval that counts both sources of chance: the seeds (Student's t on
// the per-seed values, S − 1 degrees of freedom) and the evaluation pairs (a seeded bootstrap of the mean over
// seeds, resampling pairs — stratified genuine/impostor — identically for every seed, since every run is scored on
// the same pairs). The two half-widths add in quadrature on each side. Per-item values are 0/1 correctness for
// an accuracy, and correctA − correctB (−1, 0, 1) for a paired difference.
import { bootstrap, weightedMean } from '../eval/bootstrap.js';

export interface SeedInterval {
  value: number;
  low: number;
  high: number;
  /** The per-seed values (each a mean over the items). */
  perSeed: number[];
  /** Half-width from the spread over seeds (0 with one seed: then only the pairs count). */
  seedHalfWidth: number;
}

/** Two-sided 97.5% quantiles of Student's t for 1…30 degrees of freedom. */
const T975 = [
  12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11, 2.101, 2.093, 2.086,
  2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042,
];

export function tQuantile975(df: number): number {
  return df < 1 ? Number.NaN : (T975[df - 1] ?? 1.96);
}

/**
 * The interval of mean_seeds(mean_items(values[s])) for `values[s]` over the same items in every seed, clipped to
 * `bounds` (what the mean can be: [0, 1] for an accuracy, [−1, 1] for a difference of two).
 */
export function seedPairInterval(values: ArrayLike<number>[], strata: ArrayLike<number>, bounds: [number, number], seed = 1): SeedInterval {
  if (values.length === 0) throw new RangeError('seedPairInterval: no seeds');
  const n = values[0].length;
  if (values.some((v) => v.length !== n)) throw new RangeError('seedPairInterval: every seed must be scored on the same items');
  const means = values.map((v) => weightedMean(v));
  const statistic = (w?: ArrayLike<number>) => means.reduce((sum, m) => sum + m(w), 0) / means.length;
  const pairs = bootstrap(n, statistic, { seed, strata });
  const perSeed = means.map((m) => m());
  const s = perSeed.length;
  const value = pairs.value;
  let seedHalfWidth = 0;
  if (s > 1) {
    const variance = perSeed.reduce((sum, v) => sum + (v - value) ** 2, 0) / (s - 1);
    seedHalfWidth = (tQuantile975(s - 1) * Math.sqrt(variance)) / Math.sqrt(s);
  }
  return {
    value,
    low: Math.max(bounds[0], value - Math.hypot(seedHalfWidth, value - pairs.low)),
    high: Math.min(bounds[1], value + Math.hypot(seedHalfWidth, pairs.high - value)),
    perSeed,
    seedHalfWidth,
  };
}

export type Verdict = 'holds' | 'reversed' | 'not resolved at this scale';

/** A claim "A beats B" given the interval of A − B. */
export function verdictOf(difference: Pick<SeedInterval, 'low' | 'high'>): Verdict {
  if (difference.low > 0) return 'holds';
  if (difference.high < 0) return 'reversed';
  return 'not resolved at this scale';
}
