// The loader's endless, seeded stream of sample indices. Each epoch's order is a pure function of
// (seed, epoch), so a position — one integer — restores the stream exactly.
import { mixSeed, Prng } from '../../common/prng.js';

/** The one place the sampler's defaults live. */
export const SAMPLER_DEFAULTS = { mode: 'shuffled', seed: 0, imagesPerIdentity: 4 } as const;

export interface SamplerConfig {
  /** 'shuffled' (default): a fresh permutation each epoch; 'sequential': dataset order; 'balanced':
   *  identities in random order, `imagesPerIdentity` images each (cycled when an identity has fewer). */
  mode?: 'shuffled' | 'sequential' | 'balanced';
  /** Default 0. */
  seed?: number;
  /** Images drawn per identity in 'balanced' mode (default 4; use a batch size that is a multiple of it). */
  imagesPerIdentity?: number;
  /**
   * Data-parallel shard (DistributedSampler's semantics): every rank walks the same seeded stream and takes
   * positions rank, rank + worldSize, … — disjoint shards whose union, batch by batch, is the one-process stream.
   */
  shard?: { rank: number; worldSize: number };
}

export class IndexStream {
  private readonly mode: NonNullable<SamplerConfig['mode']>;
  private readonly seed: number;
  private readonly perIdentity: number;
  private readonly byIdentity: number[][];
  private cached: { epoch: number; order: number[] } | undefined;
  private readonly shard: { rank: number; worldSize: number };

  /** `labels[i]` is sample i's identity. */
  constructor(
    private readonly labels: readonly number[],
    config: SamplerConfig = {},
  ) {
    if (labels.length === 0) throw new RangeError('IndexStream: the dataset has no samples');
    this.mode = config.mode ?? SAMPLER_DEFAULTS.mode;
    this.seed = config.seed ?? SAMPLER_DEFAULTS.seed;
    this.perIdentity = config.imagesPerIdentity ?? SAMPLER_DEFAULTS.imagesPerIdentity;
    this.shard = config.shard ?? { rank: 0, worldSize: 1 };
    const { rank, worldSize } = this.shard;
    if (!Number.isInteger(worldSize) || worldSize < 1 || !Number.isInteger(rank) || rank < 0 || rank >= worldSize)
      throw new RangeError(`shard: rank ${rank} is not in a world of ${worldSize}`);
    if (!Number.isInteger(this.perIdentity) || this.perIdentity < 1)
      throw new RangeError(`imagesPerIdentity must be a positive integer, got ${this.perIdentity}`);
    const groups = new Map<number, number[]>();
    labels.forEach((label, i) => {
      const list = groups.get(label);
      if (list) list.push(i);
      else groups.set(label, [i]);
    });
    this.byIdentity = [...groups.keys()].sort((a, b) => a - b).map((k) => groups.get(k) as number[]);
  }

  /** Samples per epoch. */
  get epochLength(): number {
    return this.mode === 'balanced' ? this.byIdentity.length * this.perIdentity : this.labels.length;
  }

  /** The sample index at this shard's stream position `position` (0, 1, 2, … across epochs). */
  at(position: number): number {
    return this.atGlobal(position * this.shard.worldSize + this.shard.rank);
  }

  private atGlobal(position: number): number {
    const epoch = Math.floor(position / this.epochLength);
    return this.order(epoch)[position - epoch * this.epochLength];
  }

  private order(epoch: number): number[] {
    if (this.cached?.epoch === epoch) return this.cached.order;
    const prng = new Prng(mixSeed(this.seed, epoch));
    let order: number[];
    if (this.mode === 'sequential') order = this.labels.map((_, i) => i);
    else if (this.mode === 'shuffled') order = prng.shuffle(this.labels.map((_, i) => i));
    else {
      order = [];
      for (const identity of prng.shuffle(this.byIdentity.map((_, i) => i))) {
        const images = prng.shuffle([...this.byIdentity[identity]]);
        for (let k = 0; k < this.perIdentity; k++) order.push(images[k % images.length]);
      }
    }
    this.cached = { epoch, order };
    return order;
  }
}
