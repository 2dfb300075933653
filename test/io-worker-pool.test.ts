// A worker that dies rejects only its own pending requests and is replaced, so later requests still settle
// (before, the dead worker stayed in the pool and every request sent to it waited forever).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { DecodePool } from '../src/data/loader/decode-pool.js';
import { WorkerDiedError, WorkerPool } from '../src/io/worker-pool.js';

/** Fails instead of hanging when a promise never settles. */
function within<T>(promise: Promise<T>, ms = 20_000): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`did not settle within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

test('WorkerPool: a dying worker rejects its request, is respawned, and later requests settle', async () => {
  const pool = new WorkerPool<{ value?: number; die?: boolean }, { id: number; doubled: number }>(
    new URL('./helpers/crash-worker.js', import.meta.url),
    1,
  );
  try {
    assert.equal((await within(pool.run({ value: 2 }))).doubled, 4);
    await assert.rejects(
      within(pool.run({ die: true })),
      (error: Error) => error instanceof WorkerDiedError && /exit code 3/.test(error.message),
    );
    const after = await within(Promise.all([pool.run({ value: 5 }), pool.run({ value: 7 })]));
    assert.deepEqual(
      after.map((r) => r.doubled),
      [10, 14],
    );
  } finally {
    await pool.close();
  }
});

test('DecodePool: a decode worker killed mid-run fails its image by name and the pool keeps decoding', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'catface-pool-'));
  try {
    const path = join(dir, 'face.png');
    await sharp({ create: { width: 8, height: 8, channels: 3, background: { r: 10, g: 20, b: 30 } } })
      .png()
      .toFile(path);
    const pool = new DecodePool(1);
    try {
      const options = { height: 8, width: 8 };
      assert.equal((await within(pool.decode({ kind: 'file', path }, options))).length, 8 * 8 * 3);
      const inner = (pool as unknown as { pool: { workers: { terminate(): Promise<number> }[] } }).pool;
      const doomed = pool.decode({ kind: 'file', path }, options);
      await inner.workers[0].terminate();
      await assert.rejects(within(doomed), /face\.png: not decoded: the decode worker died/);
      assert.equal((await within(pool.decode({ kind: 'file', path }, options))).length, 8 * 8 * 3);
    } finally {
      await pool.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
