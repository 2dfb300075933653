// Data benchmark: images/s of (1) synthetic-identity generation, (2) decode + resize to 112 px + normalised
// batch tensors through the Loader (JPEG photos of 250×250, like CelebA's 178×218 crops), and (3) face
// detection + 5-point alignment of raw photos (Yale, 320×243, from ../shared/data) — each with 2 threads.
// No PyTorch anchor exists for these (the anchors cover training only, and Debian's python has no PIL), so
// the figures stand alone. Ends with one line `RESULT {json}`.
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

const { values: args } = parseArgs({
  options: {
    threads: { type: 'string', default: '2' },
    identities: { type: 'string', default: '20' },
    images: { type: 'string', default: '10' },
    batches: { type: 'string', default: '8' },
  },
});
const threads = Number(args.threads);
const identities = Number(args.identities);
const perIdentity = Number(args.images);
const batches = Number(args.batches);
const here = dirname(fileURLToPath(import.meta.url));
const yale = join(here, '..', '..', '..', 'shared', 'data', 'yale');
torch.setNumThreads(1);

const work = mkdtempSync(join(tmpdir(), 'catface-bench-data-'));
const result: Record<string, number | string | null> = { threads };
try {
  // 1. Synthetic identities at 112 px.
  for (const [workers, key] of [
    [0, 'synth_112_img_s'],
    [threads, 'synth_112_workers_img_s'],
  ] as const) {
    const synth = await generateSynthDataset(
      join(work, `synth${workers}`),
      { identities, imagesPerIdentity: perIdentity, size: 112, seed: 1 },
      workers,
    );
    result[key] = synth.images / synth.seconds;
    const how = workers > 0 ? `${workers} worker threads` : "this thread + sharp on libuv's pool";
    console.log(
      `synth 112 px: ${synth.images} images in ${synth.seconds.toFixed(2)} s = ${(synth.images / synth.seconds).toFixed(1)} img/s (${how})`,
    );
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
      const start = performance.now();
      for (let i = 0; i < batches; i++) torch.dispose(await loader.next());
      const rate = (batches * 64) / ((performance.now() - start) / 1000);
      result[workers > 0 ? 'decode_resize_112_img_s' : 'decode_resize_112_main_thread_img_s'] = rate;
      console.log(
        `decode + resize 250→112 JPEG into [64,3,112,112] batches: ${rate.toFixed(1)} img/s (${workers > 0 ? `${workers} workers` : 'main thread'})`,
      );
    } finally {
      await loader.close();
    }
  }

  // 3. Detection + alignment of raw photos.
  if (existsSync(yale)) {
    const warm = await alignFolder(yale, join(work, 'warm'), { workers: 1, filter: (s) => s === 'subject01/normal.png' });
    result.align_model_load_s = warm.seconds;
    const aligned = await alignFolder(yale, join(work, 'aligned'), { workers: threads });
    result.detect_align_img_s = aligned.processed / aligned.seconds;
    result.detect_align_found = `${aligned.aligned}/${aligned.processed}`;
    console.log(
      `detect + align Yale 320×243 → 112: ${aligned.processed} images in ${aligned.seconds.toFixed(1)} s = ${result.detect_align_img_s.toFixed(2)} img/s (${threads} workers, incl. ~${warm.seconds.toFixed(1)} s model load per worker); found ${result.detect_align_found}`,
    );
  } else {
    result.detect_align_img_s = null;
    console.log(`detect + align skipped: Yale not found at ${yale}`);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
console.log(`RESULT ${JSON.stringify(result)}`);
