// data.trunkCache.mirrored: the cache also holds every chip flipped left-right (features and teacher embedding),
// and the batch source takes each sample in one orientation or the other, HQ, LQ twin and teacher alike. A cache
// without it batches exactly as before.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import type { FaceDataset } from '../src/data/dataset.js';
import { PHOTO_CAPTURE_DEFAULTS } from '../src/degrade/photo-capture.js';
import * as torch from '../src/torch/index.js';
import { buildTrunkCache, CachedTrunkSource, loadTrunkCache, type TrunkCacheSettings } from '../src/train/trunk-cache.js';

type Tensor = torch.Tensor;
const SIZE = 150;

/** Three 250×250 noise "photos", their 150×150 chips and an alignment manifest, in a temporary folder. */
async function fixture(root: string): Promise<FaceDataset> {
  const entries = [];
  const samples = [];
  for (let i = 0; i < 3; i++) {
    const id = `person${i}`;
    mkdirSync(join(root, 'photos', id), { recursive: true });
    mkdirSync(join(root, 'chips', id), { recursive: true });
    const noise = (w: number) => Buffer.from(Array.from({ length: w * w * 3 }, (_, k) => (k * 37 + i * 101 + ((k * k) % 251)) % 256));
    await sharp(noise(250), { raw: { width: 250, height: 250, channels: 3 } })
      .png()
      .toFile(join(root, 'photos', id, 'a.png'));
    const chip = join(root, 'chips', id, 'a.png');
    await sharp(noise(SIZE), { raw: { width: SIZE, height: SIZE, channels: 3 } })
      .png()
      .toFile(chip);
    entries.push({
      source: `${id}/a.png`,
      output: `${id}/a.png`,
      box: [70, 70, 110, 110],
      landmarks: [
        [100, 110],
        [150, 110],
        [125, 135],
        [105, 160],
        [145, 160],
      ],
    });
    samples.push({ image: { kind: 'file' as const, path: chip }, label: i, attributes: [i % 2] });
  }
  writeFileSync(join(root, 'manifest.json'), JSON.stringify({ entries }));
  return {
    samples,
    classes: ['person0', 'person1', 'person2'],
    attributeNames: ['male'],
    report: { skipped: [] } as unknown as FaceDataset['report'],
  };
}

const trunk = (images: Tensor) => torch.F.avgPool2d(images, 10); // left-right symmetric: the flip commutes with it
const teacher = { embed: (images: Tensor) => torch.F.normalize(torch.F.avgPool2d(images, 50).flatten(1), 2, 1) };

test('a mirrored cache holds the flipped chips, and batches take HQ, LQ and teacher in one orientation', async () => {
  const root = mkdtempSync(join(tmpdir(), 'catface-mirrored-'));
  try {
    const dataset = await fixture(root);
    const settings: TrunkCacheSettings = {
      dir: join(root, 'cache'),
      photos: join(root, 'photos'),
      faces: join(root, 'manifest.json'),
      blocks: 0,
      variants: 2,
      capture: PHOTO_CAPTURE_DEFAULTS,
      landmarks: 'clean',
      mirrored: true,
    };
    await buildTrunkCache(dataset, settings, { trunk, teacher, seed: 3, imageSize: SIZE });
    const cache = loadTrunkCache(settings.dir, dataset);
    try {
      const mirrored = cache.mirrored;
      assert.ok(mirrored, 'the mirrored features are loaded');
      assert.deepEqual(mirrored.hq.shape, cache.hq.shape);
      assert.deepEqual(mirrored.lq.shape, [3, 2, 3, 15, 15]);
      torch.tidy(() => {
        const close = (a: Tensor, b: Tensor) => a.float().sub(b.float()).abs().max().item();
        assert.ok(close(mirrored.hq, cache.hq.flip([3])) < 1e-2, 'HQ: the flipped chip');
        assert.ok(close(mirrored.lq, cache.lq.flip([4])) < 1e-2, 'LQ: the flipped twins');
        assert.ok(close(mirrored.teacher, cache.teacher) > 1e-3, "the teacher's embedding of the flipped chip differs");
      });

      const source = new CachedTrunkSource(cache, dataset, { seed: 1, mode: 'shuffled', imagesPerIdentity: 2, blocks: 0 });
      let flipped = 0;
      let plain = 0;
      for (let step = 0; step < 20; step++) {
        const batch = await source.next(6);
        torch.tidy(() => {
          const rows = Array.from(batch.rows?.dataSync() as BigInt64Array, Number);
          for (const [i, row] of rows.entries()) {
            const same = (a: Tensor, b: Tensor) => a.float().sub(b.float()).abs().max().item() < 1e-6;
            const isMirrored = same(batch.images.select(0, i), mirrored.hq.select(0, row));
            assert.ok(isMirrored || same(batch.images.select(0, i), cache.hq.select(0, row)));
            const bank = isMirrored ? mirrored : cache;
            assert.ok(same((batch.teacher as Tensor).select(0, i), bank.teacher.select(0, row)), 'teacher in the same orientation');
            const twins = [0, 1].map((k) => same((batch.lq as Tensor).select(0, i), bank.lq.select(0, row).select(0, k)));
            assert.ok(twins.some(Boolean), 'LQ twin in the same orientation');
            if (isMirrored) flipped++;
            else plain++;
          }
        });
        torch.dispose(batch);
      }
      assert.ok(flipped > 30 && plain > 30, `orientations drawn: ${flipped} flipped, ${plain} plain`);
    } finally {
      cache.dispose();
    }
    // a cache without mirrored chips is refused for a mirrored config: settings differ
    await assert.rejects(
      buildTrunkCache(dataset, { ...settings, mirrored: false }, { trunk, teacher, seed: 3, imageSize: SIZE }),
      /built with other settings/,
    );
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("a cache without mirrored chips: each batch row is its sample's plain features and one of its own twins", async () => {
  const n = 4;
  const cache = {
    hq: torch.arange(0, n, 1).view([n, 1, 1, 1]).float(),
    lq: torch
      .arange(0, n * 2, 1)
      .view([n, 2, 1, 1, 1])
      .float(),
    teacher: torch.arange(0, n, 1).view([n, 1]).float(),
  };
  const dataset = {
    samples: Array.from({ length: n }, (_, i) => ({ image: { kind: 'file' as const, path: `p${i}/a.png` }, label: i, attributes: [] })),
    classes: ['p0', 'p1', 'p2', 'p3'],
    attributeNames: [],
    report: { skipped: [] } as unknown as FaceDataset['report'],
  };
  const source = new CachedTrunkSource({ ...cache, dispose: () => torch.dispose(cache) }, dataset, {
    seed: 7,
    mode: 'shuffled',
    imagesPerIdentity: 2,
    blocks: 0,
  });
  const batch = await source.next(8);
  const rows = Array.from(batch.rows?.dataSync() as BigInt64Array, Number);
  assert.deepEqual(Array.from(batch.images.dataSync() as Float32Array), rows);
  // each LQ twin is one of its row's two
  for (const [i, twin] of Array.from((batch.lq as Tensor).dataSync() as Float32Array).entries())
    assert.equal(Math.floor(twin / 2), rows[i]);
  torch.dispose(batch);
  torch.dispose(cache);
});
