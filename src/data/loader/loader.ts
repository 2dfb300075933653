// The training loader: an endless, seeded stream of [B,3,H,W] batches in the unit range [0, 1] (what the
// Degrader takes; common/image-convention.ts normalises them for the network), decoded ahead of
// time in worker threads, with optional LQ twins from a degrader. Its position is one integer, saved with a
// checkpoint and restored exactly (the resumed loader yields the same next batches).
import { pixelsToUnit } from '../../common/image-convention.js';
import * as torch from '../../torch/index.js';
import type { FaceDataset } from '../dataset.js';
import { describeLocator } from '../dataset.js';
import { DEFAULT_MAX_PIXELS, type DecodeOptions } from '../decode.js';
import { BadInputReport, DataError, type OnError } from '../errors.js';
import { DecodePool } from './decode-pool.js';
import { IndexStream, type SamplerConfig } from './sampler.js';

/** Makes the low-quality twin of a unit-range HQ batch. */
export interface Degrader {
  degrade(images: torch.Tensor): Promise<torch.Tensor> | torch.Tensor;
}

/** The one place the loader's defaults live. */
export const LOADER_DEFAULTS = { batchSize: 64, imageSize: 112, fit: 'fill', workers: 2, prefetchBatches: 2, onError: 'throw' } as const;

export interface LoaderConfig extends SamplerConfig {
  /** Samples per `next()` when no size is given (default 64). */
  batchSize?: number;
  /** Output size in pixels (default 112). */
  imageSize?: number;
  fit?: DecodeOptions['fit'];
  /** Decode worker threads (default 2; 0 decodes on the main thread). */
  workers?: number;
  /** Batches decoded ahead (default 2). */
  prefetchBatches?: number;
  maxPixels?: number;
  /** 'throw' (default): a bad image rejects `next()` with its name; 'skip': it is replaced by the next sample and reported. */
  onError?: OnError;
  degrader?: Degrader;
}

export interface LoaderBatch {
  /** [B,3,H,W] float32 in [0, 1] (x/255). */
  images: torch.Tensor;
  /** [B] int64. */
  labels: torch.Tensor;
  /** [B,K] float32 0/1 (K = 0 when the dataset has no attributes). */
  attributes: torch.Tensor;
  /** [B,3,H,W] LQ twins when a degrader is set. */
  lq?: torch.Tensor;
  /** Dataset indices of the batch's samples. */
  indices: number[];
}

export interface LoaderState {
  position: number;
  seed: number;
  /** Dataset size when saved, to catch a resume on different data. */
  samples: number;
}

export class Loader {
  readonly report = new BadInputReport();
  private readonly stream: IndexStream;
  private readonly pool: DecodePool;
  private readonly decodeOptions: DecodeOptions;
  private readonly prefetched = new Map<number, Promise<Uint8Array>>();
  private position = 0;
  private readonly batchSize: number;
  private readonly prefetchBatches: number;
  private readonly onError: OnError;
  private readonly seed: number;

  constructor(
    readonly dataset: FaceDataset,
    private readonly config: LoaderConfig = {},
  ) {
    if (dataset.samples.length === 0) throw new DataError('loader', 'dataset has no samples');
    this.batchSize = config.batchSize ?? LOADER_DEFAULTS.batchSize;
    this.prefetchBatches = config.prefetchBatches ?? LOADER_DEFAULTS.prefetchBatches;
    this.onError = config.onError ?? LOADER_DEFAULTS.onError;
    this.seed = config.seed ?? 0;
    const size = config.imageSize ?? LOADER_DEFAULTS.imageSize;
    this.decodeOptions = {
      height: size,
      width: size,
      fit: config.fit ?? LOADER_DEFAULTS.fit,
      maxPixels: config.maxPixels ?? DEFAULT_MAX_PIXELS,
    };
    this.stream = new IndexStream(
      dataset.samples.map((s) => s.label),
      config,
    );
    this.pool = new DecodePool(config.workers ?? LOADER_DEFAULTS.workers);
  }

  get imageSize(): number {
    return this.decodeOptions.height;
  }

  /** Samples per epoch (dataset size, or identities × imagesPerIdentity when balanced). */
  get epochLength(): number {
    return this.stream.epochLength;
  }

  private fetch(position: number): Promise<Uint8Array> {
    let promise = this.prefetched.get(position);
    if (!promise) {
      promise = this.pool.decode(this.dataset.samples[this.stream.at(position)].image, this.decodeOptions);
      promise.catch(() => undefined); // awaited later; avoid an unhandled-rejection crash meanwhile
      this.prefetched.set(position, promise);
    }
    return promise;
  }

  private prefetch(): void {
    const end = this.position + this.prefetchBatches * this.batchSize;
    for (let p = this.position; p < end; p++) this.fetch(p);
  }

  /** The next batch of `batchSize` samples (default the configured size). */
  async next(batchSize = this.batchSize): Promise<LoaderBatch> {
    const pixels: Uint8Array[] = [];
    const indices: number[] = [];
    let skippedInARow = 0;
    while (pixels.length < batchSize) {
      const position = this.position;
      const index = this.stream.at(position);
      const promise = this.fetch(position);
      this.position++;
      this.prefetch();
      try {
        pixels.push(await promise);
        indices.push(index);
        skippedInARow = 0;
      } catch (error) {
        const e = error instanceof DataError ? error : new DataError(describeLocator(this.dataset.samples[index].image), String(error));
        if (this.onError === 'throw') throw e;
        this.report.add(e);
        if (++skippedInARow >= this.stream.epochLength) throw new DataError('loader', 'every sample failed to decode; see the report');
      } finally {
        this.prefetched.delete(position);
      }
    }
    const batch = this.assemble(pixels, indices);
    if (this.config.degrader) batch.lq = await this.config.degrader.degrade(batch.images);
    return batch;
  }

  private assemble(pixels: Uint8Array[], indices: number[]): LoaderBatch {
    const { height, width } = this.decodeOptions;
    const images = pixelsToUnit(pixels, height, width);
    const labels = torch.fromTypedArray(BigInt64Array.from(indices, (i) => BigInt(this.dataset.samples[i].label)));
    const k = this.dataset.attributeNames.length;
    const attributeValues = new Float32Array(indices.length * k);
    indices.forEach((i, row) => {
      attributeValues.set(this.dataset.samples[i].attributes ?? new Array(k).fill(0), row * k);
    });
    const attributes = torch.fromTypedArray(attributeValues, [indices.length, k]);
    return { images, labels, attributes, indices };
  }

  /** The loader's position, to save in a checkpoint. */
  state(): LoaderState {
    return { position: this.position, seed: this.seed, samples: this.dataset.samples.length };
  }

  /** Moves to a saved position; the next batches equal those that followed it when it was saved. */
  restore(state: unknown): void {
    const s = state as Partial<LoaderState> | null;
    if (!s || !Number.isInteger(s.position) || (s.position as number) < 0)
      throw new DataError('loader state', `expected {position, seed, samples}, got ${JSON.stringify(state)}`);
    if (s.seed !== this.seed) throw new DataError('loader state', `saved with seed ${s.seed} but this loader uses seed ${this.seed}`);
    if (s.samples !== this.dataset.samples.length) {
      throw new DataError('loader state', `saved on a dataset of ${s.samples} samples but this one has ${this.dataset.samples.length}`);
    }
    this.prefetched.clear();
    this.position = s.position as number;
  }

  async close(): Promise<void> {
    await this.pool.close();
  }
}
