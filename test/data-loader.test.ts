// The loader: SPEC §1 normalisation, greyscale → 3 channels, seeded order, balanced sampling, exact resume,
// worker-thread decoding, degrader twins and the skip policy.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import { decodeImage } from '../src/data/decode.js';
import { Loader } from '../src/data/loader/loader.js';
import { readImageFolder } from '../src/data/readers/image-folder.js';
import { readRecordIO, writeRecordIO } from '../src/data/readers/recordio.js';
import * as torch from '../src/torch/index.js';
import { pythonUnavailable, runPython } from './helpers/oracle.js';

let root: string;

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'catface-loader-'));
  for (let id = 0; id < 5; id++) {
    mkdirSync(join(root, `id${id}`));
    for (let k = 0; k < 4; k++) {
      const channels = id === 4 ? 1 : 3;
      const raw = Buffer.alloc(20 * 24 * channels);
      for (let i = 0; i < raw.length; i++) raw[i] = (i * (id + 3) + k * 50) & 255;
      await sharp(raw, { raw: { width: 20, height: 24, channels } })
        .png()
        .toFile(join(root, `id${id}`, `${k}.png`));
    }
  }
  writeFileSync(join(root, 'attributes.csv'), 'identity,Male,Bald\nid0,1,0\nid1,0,0\nid2,1,1\nid3,0,1\nid4,1,0\n');
});

after(() => rmSync(root, { recursive: true, force: true }));

test('batches are [B,3,H,W] float32 normalised as (x/255-0.5)/0.5 with labels and attributes', async () => {
  const ds = readImageFolder(root);
  const loader = new Loader(ds, { batchSize: 6, imageSize: 16, mode: 'sequential', workers: 2 });
  try {
    const batch = await loader.next();
    assert.deepEqual(batch.images.shape, [6, 3, 16, 16]);
    assert.equal(batch.images.dtype, 'float32');
    assert.deepEqual(batch.indices, [0, 1, 2, 3, 4, 5]);
    assert.deepEqual(batch.labels.toArray(), [0, 0, 0, 0, 1, 1]);
    assert.deepEqual(batch.attributes.toArray(), [
      [1, 0],
      [1, 0],
      [1, 0],
      [1, 0],
      [0, 0],
      [0, 0],
    ]);
    const path = ds.samples[5].image.kind === 'file' ? ds.samples[5].image.path : '';
    const expected = await sharp(path).resize(16, 16, { fit: 'fill', kernel: 'lanczos3' }).raw().toBuffer();
    const got = batch.images.select(0, 5).permute([1, 2, 0]).contiguous().toFloat64Array();
    for (let i = 0; i < expected.length; i++) assert.ok(Math.abs(got[i] - expected[i] / 255) < 1e-7, `pixel ${i}`);
    // Greyscale identity id4 (samples 16..19) comes out with three equal channels.
    const grey = await loader.next(14);
    const g = grey.images.select(0, 13);
    assert.equal(g.select(0, 0).sub(g.select(0, 2)).abs().max().item(), 0);
    assert.ok(g.std().item() > 0.05);
  } finally {
    await loader.close();
  }
});

test('shuffled order is seeded, covers each epoch once, and resumes exactly from state()', async () => {
  const ds = readImageFolder(root);
  const a = new Loader(ds, { batchSize: 4, imageSize: 12, seed: 7, workers: 2 });
  const b = new Loader(ds, { batchSize: 4, imageSize: 12, seed: 7, workers: 0 });
  const c = new Loader(ds, { batchSize: 4, imageSize: 12, seed: 8, workers: 0 });
  try {
    const epoch: number[] = [];
    for (let i = 0; i < 5; i++) epoch.push(...(await a.next()).indices);
    assert.deepEqual(
      [...epoch].sort((x, y) => x - y),
      [...Array(20).keys()],
    );
    assert.notDeepEqual(epoch, [...Array(20).keys()]);
    const other: number[] = [];
    for (let i = 0; i < 5; i++) other.push(...(await c.next()).indices);
    assert.notDeepEqual(other, epoch);
    await a.next();
    const saved = JSON.parse(JSON.stringify(a.state()));
    const following = [await a.next(), await a.next(3), await a.next()];
    b.restore(saved);
    for (const expected of following) {
      const got = await b.next(expected.indices.length);
      assert.deepEqual(got.indices, expected.indices);
      assert.ok(got.images.equal(expected.images), 'identical pixels after resume');
      assert.deepEqual(got.labels.toArray(), expected.labels.toArray());
    }
    assert.throws(() => c.restore(saved), /saved with seed 7 but this loader uses seed 8/);
    const smaller = new Loader({ ...ds, samples: ds.samples.slice(1) }, { seed: 7, workers: 0 });
    assert.throws(() => smaller.restore(saved), /saved on a dataset of 20 samples but this one has 19/);
    await smaller.close();
  } finally {
    await Promise.all([a.close(), b.close(), c.close()]);
  }
});

test('balanced sampling draws imagesPerIdentity images from each identity', async () => {
  const ds = readImageFolder(root);
  const loader = new Loader(ds, { batchSize: 6, imageSize: 8, mode: 'balanced', imagesPerIdentity: 2, seed: 3, workers: 0 });
  try {
    assert.equal(loader.epochLength, 10);
    const batch = await loader.next();
    const labels = batch.labels.toArray() as number[];
    for (let i = 0; i < 6; i += 2) assert.equal(labels[i], labels[i + 1]);
    assert.equal(new Set(labels).size, 3);
  } finally {
    await loader.close();
  }
});

test('a degrader makes LQ twins; bad images are skipped and reported, or rejected by name', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'catface-loader-bad-'));
  try {
    mkdirSync(join(dir, 'a'));
    await sharp({ create: { width: 10, height: 10, channels: 3, background: '#808080' } })
      .png()
      .toFile(join(dir, 'a', '1.png'));
    writeFileSync(join(dir, 'a', '2.png'), 'not a png');
    const ds = readImageFolder(dir);
    const halve = { degrade: (x: torch.Tensor) => x.mul(0.5) };
    const skipping = new Loader(ds, { batchSize: 3, imageSize: 8, mode: 'sequential', onError: 'skip', degrader: halve, workers: 1 });
    const throwing = new Loader(ds, { batchSize: 2, imageSize: 8, mode: 'sequential', workers: 1 });
    try {
      const batch = await skipping.next();
      assert.deepEqual(batch.indices, [0, 0, 0]);
      assert.ok((batch.lq as torch.Tensor).equal(batch.images.mul(0.5)));
      assert.match(skipping.report.toString(), /a\/2\.png: not an image/);
      await assert.rejects(throwing.next(), /a\/2\.png: not an image/);
    } finally {
      await Promise.all([skipping.close(), throwing.close()]);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a RecordIO pack loads through worker threads to the same pixels as its image folder', async () => {
  const ds = readImageFolder(root);
  const dir = mkdtempSync(join(tmpdir(), 'catface-loader-rec-'));
  try {
    const rec = join(dir, 'train.rec');
    writeRecordIO(
      rec,
      ds.samples.map((s) => ({ bytes: readFileSync(s.image.kind === 'file' ? s.image.path : ''), label: s.label })),
    );
    const packed = readRecordIO(rec);
    const fromFolder = new Loader(ds, { batchSize: 20, imageSize: 16, mode: 'sequential', workers: 0 });
    const fromPack = new Loader(packed, { batchSize: 20, imageSize: 16, mode: 'sequential', workers: 2 });
    try {
      const [a, b] = [await fromFolder.next(), await fromPack.next()];
      assert.ok(a.images.equal(b.images));
      assert.deepEqual(a.labels.toArray(), b.labels.toArray());
    } finally {
      await Promise.all([fromFolder.close(), fromPack.close()]);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('decode + resize down-sizes like an independent Lanczos-3 in numpy (within one grey level)', async (t) => {
  if (pythonUnavailable) return t.skip(pythonUnavailable);
  // Smooth colour patterns (a face crop's content, not single-pixel noise) at the shrink ratios the tools use:
  // 250 → 112 (LFW to the ArcFace crop), 48 → 16, a non-square 30×45 → 20×20, and greyscale 92×112 → 56×64.
  const cases = [
    { width: 250, height: 250, channels: 3, out: [112, 112] },
    { width: 48, height: 48, channels: 3, out: [16, 16] },
    { width: 30, height: 45, channels: 3, out: [20, 20] },
    { width: 92, height: 112, channels: 1, out: [64, 56] },
  ];
  const inputs: Record<string, torch.Tensor> = {};
  const decoded: Uint8Array[] = [];
  for (const [i, c] of cases.entries()) {
    const raw = new Uint8Array(c.width * c.height * c.channels);
    for (let y = 0; y < c.height; y++)
      for (let x = 0; x < c.width; x++)
        for (let ch = 0; ch < c.channels; ch++)
          raw[(y * c.width + x) * c.channels + ch] = Math.round(
            128 + 70 * Math.sin((2 * Math.PI * x * (ch + 1)) / c.width) * Math.cos((3 * y) / c.height + ch) + (40 * y) / c.height - 20,
          );
    const png = await sharp(Buffer.from(raw), { raw: { width: c.width, height: c.height, channels: c.channels as 1 | 3 } })
      .png()
      .toBuffer();
    decoded.push(await decodeImage(png, `case ${i}`, { height: c.out[0], width: c.out[1] }));
    // numpy sees the decoded RGB: grey replicated to three channels.
    const rgb = c.channels === 3 ? raw : Uint8Array.from({ length: raw.length * 3 }, (_, j) => raw[Math.floor(j / 3)]);
    inputs[`x${i}`] = torch.fromTypedArray(rgb).reshape(c.height, c.width, 3);
  }
  const py = runPython(
    `import resize_ref, numpy as np
for i, (h, w) in enumerate(${JSON.stringify(cases.map((c) => c.out))}):
    out['y%d' % i] = torch.from_numpy(resize_ref.lanczos3(inp['x%d' % i].numpy(), h, w)).float()`,
    inputs,
  );
  for (const [i, c] of cases.entries()) {
    const expected = (py.get(`y${i}`) as torch.Tensor).toFloat64Array();
    assert.equal(expected.length, decoded[i].length);
    let worst = 0;
    let total = 0;
    decoded[i].forEach((v, j) => {
      const d = Math.abs(v - Math.min(255, Math.max(0, expected[j])));
      worst = Math.max(worst, d);
      total += d;
    });
    assert.ok(worst <= 1.5, `${c.width}×${c.height} → ${c.out[1]}×${c.out[0]}: largest difference ${worst.toFixed(2)} grey levels`);
    assert.ok(total / expected.length < 0.5, `${c.width}×${c.height}: mean difference ${(total / expected.length).toFixed(3)}`);
  }
  torch.dispose([...Object.values(inputs), ...py.values()]);
});
