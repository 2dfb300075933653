// Seeded randomness for degradations. Scalar parameters (strengths, orders, JPEG qualities) come from a small
// JS generator we own (xoshiro128**), so a Degrader's draws never depend on anything else in the process.
// Noise fields come from libtorch's generator, reseeded from our stream for each synchronous block and
// restored afterwards (`withTorchSeed`), so other users of the global torch generator are left undisturbed.
import { getRngState, manualSeed, setRngState } from '../torch/index.js';

/** xoshiro128** seeded through splitmix32: fast, 2^128 period, plenty for parameter draws. */
export class Rng {
  private s: Uint32Array;

  constructor(seed: number) {
    if (!Number.isFinite(seed)) throw new RangeError(`Rng: seed must be a finite number, got ${seed}`);
    this.s = new Uint32Array(4);
    let x = Math.floor(Math.abs(seed)) >>> 0;
    x = (x ^ Math.floor(Math.abs(seed) / 2 ** 32)) >>> 0;
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      this.s[i] = (z ^ (z >>> 16)) >>> 0;
    }
  }

  /** A uniformly distributed unsigned 32-bit integer. */
  nextUint32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** Uniform on [lo, hi). */
  uniform(lo = 0, hi = 1): number {
    return lo + (hi - lo) * (this.nextUint32() / 2 ** 32);
  }

  /** Log-uniform on [lo, hi] (lo > 0): as many draws in [0.1, 1] as in [1, 10]. */
  logUniform(lo: number, hi: number): number {
    return Math.exp(this.uniform(Math.log(lo), Math.log(hi)));
  }

  /** Integer uniform on [lo, hi] inclusive. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.uniform() * (hi - lo + 1));
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.uniform() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.uniform() * items.length)];
  }

  /** A shuffled copy (Fisher–Yates). */
  shuffle<T>(items: readonly T[]): T[] {
    const out = [...items];
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(this.uniform() * (i + 1));
      [out[i], out[j]] = [out[j], out[i]];
    }
    return out;
  }

  /** Generator state, for checkpoints; `restore` puts it back exactly. */
  state(): number[] {
    return [...this.s];
  }

  restore(state: readonly number[]): void {
    if (state.length !== 4 || state.some((v) => !Number.isInteger(v) || v < 0 || v > 0xffffffff)) {
      throw new RangeError('Rng.restore: state must be 4 unsigned 32-bit integers');
    }
    this.s.set(state);
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/**
 * Runs `fn` (synchronous) with libtorch's default generator seeded to `seed`, then restores the generator's
 * previous state, so torch draws inside are reproducible and invisible to everyone else.
 */
export function withTorchSeed<T>(seed: number, fn: () => T): T {
  const saved = getRngState();
  manualSeed(seed);
  try {
    return fn();
  } finally {
    setRngState(saved);
  }
}
