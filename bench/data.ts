// Data benchmark: images/s of (1) synthetic-identity generation, (2) decode + resize to 112 px + normalised
// batch tensors through the Loader (JPEG photos of 250×250, like CelebA's 178×218 crops), and (3) face
// detection + 5-point alignment of raw photos (Yale, 320×243, from ../shared/data) — each with 2 threads.
// No PyTorch anchor exists for these (the anchors cover training only, and Debian's python has no PIL), so
// the figures stand alone: each is the median over rounds with the min–max beside it — synthesis: --rounds
// datasets of --identities × --images; decoding: --batches timed batches; alignment: Yale's subjects in --rounds
// groups, each a fresh alignFolder run (worker start and model load included, as a user's run would pay them).
// Ends with one line `RESULT {json}`.
//   npm run bench:data [-- --threads 2 --rounds 5 --identities 20 --images 10 --batches 8]
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { alignFolder } from '../src/data/align/align-folder.js';
import { Loader } from '../src/data/loader/loader.js';
import { readImageFolder } from '../src/data/readers/image-folder.js';
import { generateSynthDataset } from '../src/data/synth/synth-dataset.js';
import * as torch from '../src/torch/index.js';
import { formatSpread, loadAverage, positiveFlags, rateSpread, spread, spreadFields } from './common.js';

const { values: args } = parseArgs({
  options: {
    threads: { type: 'string', default: '2' },
    rounds: { type: 'string', default: '5' },
    identities: { type: 'string', default: '20' },
    images: { type: 'string', default: '10' },
    batches: { type: 'string', default: '8' },
  },
});
const positive = positiveFlags('bench:data', args);
const threads = positive('threads');
const rounds = positive('rounds');
const identities = positive('identities');
const perIdentity = positive('images');
const batches = positive('batches');
const here = dirname(fileURLToPath(import.meta.url));
const yale = join(here, '..', '..', '..', 'shared', 'data', 'yale');
torch.setNumThreads(1);

const work = mkdtempSync(join(tmpdir(), 'catface-bench-data-'));
const result: Record<string, number | string | null> = { threads, rounds, load_average_start: loadAverage() };
try {
  // 1. Synthetic identities at 112 px, a fresh dataset (own seed) each round.
  for (const [workers, key] of [
    [0, 'synth_112_img_s'],
    [threads, 'synth_112_workers_img_s'],
  ] as const) {
    const rates: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const synth = await generateSynthDataset(
        join(work, `synth${workers}-${r}`),
        { identities, imagesPerIdentity: perIdentity, size: 112, seed: r + 1 },
        workers,
      );
      rates.push(synth.images / synth.seconds);
    }
    const s = spread(rates);
    Object.assign(result, spreadFields(key, '', s));
    const how = workers > 0 ? `${workers} worker threads` : "this thread + sharp on libuv's pool";
    console.log(`synth 112 px, ${rounds} rounds of ${identities * perIdentity} images: ${formatSpread(s, 1)} img/s (${how})`);
  }

  // 2. Decode + resize through the Loader: 250 px synthetic faces re-encoded as JPEG q90.
  const big = await generateSynthDataset(join(work, 'synth250'), { identities, imagesPerIdentity: perIdentity, size: 250, seed: 2 });
  const photos = join(work, 'jpeg');
  for (const id of big.identities) {
    mkdirSync(join(photos, id.name), { recursive: true });
    for (const file of readdirSync(join(work, 'synth250', id.name))) {
      writeFileSync(
        join(photos, id.name, file.replace('.png', '.jpg')),
        await sharp(join(work, 'synth250', id.name, file))
          .jpeg({ quality: 90 })
          .toBuffer(),
      );
    }
  }
  const dataset = readImageFolder(photos);
  for (const workers of [threads, 0]) {
    const loader = new Loader(dataset, { batchSize: 64, imageSize: 112, workers, seed: 1, prefetchBatches: 2 });
    try {
      torch.dispose(await loader.next()); // warm-up: worker start, first decodes
      const seconds: number[] = [];
      for (let i = 0; i < batches; i++) {
        const start = performance.now();
        torch.dispose(await loader.next());
        seconds.push((performance.now() - start) / 1000);
      }
      const s = rateSpread(64, seconds);
      Object.assign(result, spreadFields(workers > 0 ? 'decode_resize_112_img_s' : 'decode_resize_112_main_thread_img_s', '', s));
      console.log(
        `decode + resize 250→112 JPEG into [64,3,112,112] batches: ${formatSpread(s, 1)} img/s over ${batches} batches (${workers > 0 ? `${workers} workers` : 'main thread'})`,
      );
    } finally {
      await loader.close();
    }
  }

  // 3. Detection + alignment of raw photos.
  if (existsSync(yale)) {
    const warm = await alignFolder(yale, join(work, 'warm'), { workers: 1, filter: (s) => s === 'subject01/normal.png' });
    result.align_model_load_s = warm.seconds;
    const subjects = readdirSync(yale).sort();
    const rates: number[] = [];
    let found = 0;
    let processed = 0;
    for (let r = 0; r < rounds; r++) {
      const group = new Set(subjects.filter((_, i) => i % rounds === r));
      const aligned = await alignFolder(yale, join(work, `aligned${r}`), { workers: threads, filter: (s) => group.has(s.split('/')[0]) });
      if (aligned.processed > 0) rates.push(aligned.processed / aligned.seconds);
      found += aligned.aligned;
      processed += aligned.processed;
    }
    const s = spread(rates);
    Object.assign(result, spreadFields('detect_align_img_s', '', s));
    result.detect_align_found = `${found}/${processed}`;
    console.log(
      `detect + align Yale 320×243 → 112: ${processed} images in ${rates.length} rounds, ${formatSpread(s)} img/s (${threads} workers, each round incl. ~${warm.seconds.toFixed(1)} s model load per worker); found ${result.detect_align_found}`,
    );
  } else {
    result.detect_align_img_s = null;
    console.log(`detect + align skipped: Yale not found at ${yale}`);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
result.load_average_end = loadAverage();
console.log(`RESULT ${JSON.stringify(result)}`);
