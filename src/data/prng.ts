// A small seeded PRNG (mulberry32) whose whole state is one uint32, so samplers and generators can save
// and restore their exact position.

export class Prng {
  private s: number;

  constructor(seed: number) {
    this.s = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Uniform in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** Fisher–Yates shuffle in place. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [items[i], items[j]] = [items[j], items[i]];
    }
    return items;
  }

  get state(): number {
    return this.s;
  }

  set state(value: number) {
    this.s = value >>> 0;
  }
}

/** Runs `fn` with Math.random replaced by a seeded stream (for libraries such as facesjs that draw from it). */
export function withSeededMathRandom<T>(prng: Prng, fn: () => T): T {
  const original = Math.random;
  Math.random = () => prng.next();
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
