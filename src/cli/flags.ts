// Numeric flags: every one has a documented range, and anything else (an empty string, '12abc', '1e999',
// '0x10', a fraction where a count is meant) is refused with a message naming the flag, the range and the value.
import { UsageError } from './command.js';

export interface Range {
  min: number;
  max: number;
}

/** `[min, max]`, or `min or more` when max is unbounded (MAX_SAFE_INTEGER). */
export function describeRange({ min, max }: Range): string {
  return max >= Number.MAX_SAFE_INTEGER ? `≥ ${min}` : `in ${min}–${max}`;
}

/** An integer flag in `range` (decimal digits only: `Number('')` would be 0 and `Number('0x10')` 16). */
export function intFlag(value: string | undefined, flag: string, range: Range): number {
  const text = (value ?? '').trim();
  const n = /^[-+]?\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < range.min || n > range.max)
    throw new UsageError(`--${flag} must be an integer ${describeRange(range)}, got '${value ?? ''}'`);
  return n;
}

/** A finite decimal number flag in `range`. */
export function numberFlag(value: string | undefined, flag: string, range: Range): number {
  const text = (value ?? '').trim();
  const n = /^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(text) ? Number(text) : Number.NaN;
  if (!Number.isFinite(n) || n < range.min || n > range.max)
    throw new UsageError(`--${flag} must be a number ${describeRange(range)}, got '${value ?? ''}'`);
  return n;
}

/** A flag naming one of `choices` (`--backend onnx`). */
export function choiceFlag<T extends string>(value: string | undefined, flag: string, choices: readonly T[]): T {
  if (choices.includes(value as T)) return value as T;
  const named = `${choices.slice(0, -1).join(', ')} or ${choices[choices.length - 1]}`;
  throw new UsageError(`--${flag} must be ${named}, got '${value ?? ''}'`);
}

/** The documented ranges shared by several commands. */
export const RANGES = {
  /** Side of an aligned or generated face, in pixels. */
  size: { min: 16, max: 1024 },
  /** Worker threads of a pool (0: this thread). */
  workers: { min: 0, max: 64 },
  /** A seed: any non-negative safe integer. */
  seed: { min: 0, max: Number.MAX_SAFE_INTEGER },
  /** Synthetic identities per dataset. */
  identities: { min: 1, max: 100_000 },
  /** Synthetic images per identity. */
  images: { min: 1, max: 1_000 },
  /** libtorch intra-op threads. */
  threads: { min: 1, max: 256 },
} as const satisfies Record<string, Range>;
