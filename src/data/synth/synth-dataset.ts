// Writes a synthetic-identity dataset as an image folder (`<out>/<identity>/<k>.png`) with `attributes.csv`
// and `identities.json` (the facesjs parameters of each identity), rendering on worker threads.
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import sharp from 'sharp';
import { forEachBounded } from '../../io/bounded.js';
import { writeFileDurably } from '../../io/durable.js';
import { claimFolder, recordFolder } from '../../io/owned-folder.js';
import { DEFAULT_ATTRIBUTES, writeAttributesCsv } from '../readers/attributes.js';
import { rasterise, type SynthConfig, type SynthIdentity, synthIdentity, synthImageSvg } from './synth-identity.js';

void sharp.versions; // sharp must be loaded by the main thread before workers load it

export interface SynthJob {
  out: string;
  config: Required<Omit<SynthConfig, 'maxRotation'>> & Pick<SynthConfig, 'maxRotation'>;
  indices: number[];
}

function withDefaults(config: SynthConfig): SynthJob['config'] {
  return {
    identities: config.identities ?? 200,
    imagesPerIdentity: config.imagesPerIdentity ?? 20,
    size: config.size ?? 112,
    seed: config.seed ?? 1,
    maxRotation: config.maxRotation,
  };
}

/** Images rasterised at once per thread: enough to keep libuv's pool busy, few enough to bound memory. */
const RASTER_IN_FLIGHT = 8;

/** Where image `k` of an identity goes, relative to the dataset folder. */
const imagePath = (identity: string, k: number) => join(identity, `${String(k).padStart(3, '0')}.png`);

/** Renders and writes all images of identity `index`. */
export async function renderIdentity(out: string, config: SynthJob['config'], index: number): Promise<SynthIdentity> {
  const identity = synthIdentity(config.seed, index);
  // Rasterising runs on libuv's pool while this thread builds the next SVG, so the two overlap.
  await forEachBounded([...Array(config.imagesPerIdentity).keys()], RASTER_IN_FLIGHT, async (k) => {
    const file = join(out, imagePath(identity.name, k));
    writeFileDurably(file, await rasterise(synthImageSvg(identity, config.seed, index, k, config)));
  });
  return identity;
}

export interface SynthResult {
  identities: SynthIdentity[];
  images: number;
  seconds: number;
}

/**
 * Generates the dataset into `out`. With `workers` 0 (default) this thread builds the SVGs while sharp
 * rasterises them on libuv's pool — on 2 cores that measured as fast as worker threads and used less CPU
 * (each worker pays ~1 s to load facesjs and sharp); workers > 0 split the identities over threads.
 */
export async function generateSynthDataset(
  out: string,
  config: SynthConfig = {},
  workers = 0,
  onProgress?: (done: number) => void,
  force = false,
): Promise<SynthResult> {
  const full = withDefaults(config);
  // writes only into a new, empty or earlier synth folder (see src/io/owned-folder.ts)
  const folder = claimFolder(out, 'synth', force);
  if (!Number.isInteger(full.identities) || full.identities < 1)
    throw new RangeError(`identities must be a positive integer, got ${full.identities}`);
  if (!Number.isInteger(full.imagesPerIdentity) || full.imagesPerIdentity < 1)
    throw new RangeError(`images per identity must be a positive integer, got ${full.imagesPerIdentity}`);
  if (!Number.isInteger(full.size) || full.size < 16) throw new RangeError(`size must be an integer ≥ 16, got ${full.size}`);
  const start = performance.now();
  const indices = [...Array(full.identities).keys()];
  let done = 0;
  if (workers <= 0) {
    for (const index of indices) {
      await renderIdentity(out, full, index);
      onProgress?.(++done);
    }
  } else {
    const jobs = Array.from({ length: Math.min(workers, indices.length) }, (_, w) => indices.filter((i) => i % workers === w));
    await Promise.all(
      jobs.map(
        (jobIndices) =>
          new Promise<void>((resolve, reject) => {
            const worker = new Worker(new URL('./synth-worker.js', import.meta.url));
            worker.on('message', (m: { done?: number; finished?: boolean; error?: string }) => {
              if (m.done !== undefined) onProgress?.(++done);
              if (m.error) reject(new Error(`synth worker: ${m.error}`));
              if (m.finished || m.error) void worker.terminate();
              if (m.finished) resolve();
            });
            worker.on('error', reject);
            // settled already when it finished; otherwise it died without a word
            worker.on('exit', (code) => reject(new Error(`synth worker exited (code ${code}) before finishing`)));
            worker.postMessage({ out, config: full, indices: jobIndices } satisfies SynthJob);
          }),
      ),
    );
  }
  // Identities are cheap to regenerate (no rendering), so the label files do not wait on worker replies.
  const identities = indices.map((i) => synthIdentity(full.seed, i));
  writeAttributesCsv(join(out, 'attributes.csv'), {
    names: [...DEFAULT_ATTRIBUTES],
    rows: new Map(identities.map((id) => [id.name, id.attributes])),
  });
  writeFileDurably(join(out, 'identities.json'), `${JSON.stringify({ config: full, identities }, null, 1)}\n`);
  // images of a larger earlier run are removed, so the folder is exactly this dataset
  recordFolder(folder, [
    'attributes.csv',
    'identities.json',
    ...identities.flatMap((id) => Array.from({ length: full.imagesPerIdentity }, (_, k) => imagePath(id.name, k))),
  ]);
  return { identities, images: full.identities * full.imagesPerIdentity, seconds: (performance.now() - start) / 1000 };
}
