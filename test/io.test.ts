// src/io: durable writes (a file or folder is replaced whole or not at all, and a crash in the middle of a folder
// swap still leaves a complete folder to read) and bounded concurrency.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { forEachBounded } from '../src/io/bounded.js';
import { makeTempDirBeside, readableDir, writeDirDurably, writeFileDurably, writeFileSynced } from '../src/io/durable.js';

const root = mkdtempSync(join(tmpdir(), 'catface-durable-'));
after(() => rmSync(root, { recursive: true, force: true }));

test('writeFileDurably replaces a file and leaves no temp file beside it', () => {
  const dir = join(root, 'files');
  const path = join(dir, 'a.txt');
  writeFileDurably(path, 'one');
  writeFileDurably(path, Buffer.from('two'));
  assert.equal(readFileSync(path, 'utf8'), 'two');
  assert.deepEqual(readdirSync(dir), ['a.txt']);
});

test('writeFileDurably into a path that is a folder fails and leaves the folder and no temp file', () => {
  const dir = join(root, 'clash');
  mkdirSync(join(dir, 'taken'), { recursive: true });
  assert.throws(() => writeFileDurably(join(dir, 'taken'), 'x'));
  assert.deepEqual(readdirSync(dir), ['taken']);
});

test('writeDirDurably swaps a folder in whole; a failing fill leaves the old folder untouched', () => {
  const dir = join(root, 'model');
  writeDirDurably(dir, (tmp) => writeFileSynced(join(tmp, 'w'), 'v1'));
  writeDirDurably(dir, (tmp) => writeFileSynced(join(tmp, 'w'), 'v2'));
  assert.equal(readFileSync(join(dir, 'w'), 'utf8'), 'v2');
  assert.throws(
    () =>
      writeDirDurably(dir, (tmp) => {
        writeFileSynced(join(tmp, 'w'), 'half');
        throw new Error('killed');
      }),
    /killed/,
  );
  assert.equal(readFileSync(join(dir, 'w'), 'utf8'), 'v2');
  assert.deepEqual(
    readdirSync(root).filter((n) => n.includes('model')),
    ['model'],
  );
});

test('a crash between the two renames of a folder swap leaves the previous folder readable, and the next swap cleans up', () => {
  const dir = join(root, 'swap');
  writeDirDurably(dir, (tmp) => writeFileSynced(join(tmp, 'w'), 'old'));
  // the state a kill -9 leaves after `dir → dir.previous` and before `tmp → dir`
  const tmp = makeTempDirBeside(dir);
  writeFileSynced(join(tmp, 'w'), 'new');
  renameSync(dir, `${dir}.previous`);
  assert.equal(existsSync(dir), false);
  const readable = readableDir(dir);
  assert.ok(readable);
  assert.equal(readFileSync(join(readable, 'w'), 'utf8'), 'old');
  writeDirDurably(dir, (t) => writeFileSynced(join(t, 'w'), 'newer'));
  assert.equal(readFileSync(join(dir, 'w'), 'utf8'), 'newer');
  assert.equal(existsSync(`${dir}.previous`), false);
  assert.equal(readableDir(join(root, 'never-written')), null);
});

test('forEachBounded never has more than `limit` calls in flight and visits every item once', async () => {
  let inFlight = 0;
  let most = 0;
  const seen: number[] = [];
  await forEachBounded([...Array(50).keys()], 4, async (item) => {
    inFlight++;
    most = Math.max(most, inFlight);
    await new Promise((resolve) => setTimeout(resolve, item % 3));
    seen.push(item);
    inFlight--;
  });
  assert.equal(most, 4);
  assert.deepEqual(
    seen.sort((a, b) => a - b),
    [...Array(50).keys()],
  );
  await assert.rejects(
    forEachBounded([1, 2, 3], 2, async (item) => {
      if (item === 2) throw new Error('boom');
    }),
    /boom/,
  );
});
