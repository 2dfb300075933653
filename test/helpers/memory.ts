// Memory checks that hold on any machine: growth of a series of samples taken during a long loop, measured
// between the medians of its first and last thirds (one allocator hiccup moves neither median; a leak of a
// tensor per step shows up in full), compared with the bytes a small per-step leak would add.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** A full V8 collection without --expose-gc on the command line. */
export function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};

/** Bytes from the median of the first third of `samples` to the median of the last third. */
export function thirdsGrowth(samples: number[]): number {
  if (samples.length < 6) throw new Error(`thirdsGrowth: need at least 6 samples, got ${samples.length}`);
  const third = Math.floor(samples.length / 3);
  return median(samples.slice(-third)) - median(samples.slice(0, third));
}

/** Steps between the middles of the first and last thirds of `samples`, taken every `every` steps. */
export function thirdsSpan(samples: number, every: number): number {
  const third = Math.floor(samples / 3);
  return (samples - third) * every;
}
