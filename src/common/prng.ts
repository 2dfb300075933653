// The one seeded PRNG of the project: xoshiro128** (seeded through splitmix32), a small JS generator we own, so
// a sampler's order, a synthetic identity, a degradation's parameters or a bootstrap resample never depend on
// anything else in the process. Its state is four uint32s, saved in checkpoints and restored exactly.

/** xoshiro128** seeded through splitmix32: fast, 2^128 period, plenty for parameter draws. */
export class Prng {
  private s: Uint32Array;

  constructor(seed: number) {
    if (!Number.isFinite(seed)) throw new RangeError(`Prng: seed must be a finite number, got ${seed}`);
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

  /** Integer uniform on [0, n): an index into n items. */
  index(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.uniform() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.index(items.length)];
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
      throw new RangeError('Prng.restore: state must be 4 unsigned 32-bit integers');
    }
    this.s.set(state);
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** Runs `fn` with Math.random replaced by a seeded stream (for libraries such as facesjs that draw from it). */
export function withSeededMathRandom<T>(prng: Prng, fn: () => T): T {
  const original = Math.random;
  Math.random = () => prng.uniform();
  try {
    return fn();
  } finally {
    Math.random = original;
  }
}

/** Hashes a seed and integers (epoch, identity, image index, …) into an unrelated 32-bit seed. */
export function mixSeed(seed: number, ...parts: number[]): number {
  let z = seed >>> 0;
  for (const part of parts) {
    z = (Math.imul(z ^ (z >>> 16), 0x85ebca6b) + Math.imul(part + 1, 0x9e3779b1)) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  }
  return (z ^ (z >>> 16)) >>> 0;
}
