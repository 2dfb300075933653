// `catface align --detector onnx|libtorch|human`: the three engines run the same BlazeFace + FaceMesh, so on the same
// LFW photos they find the same faces, landmarks within 1 px and chips within a few grey levels. onnx runs on a
// worker thread (the factory module the thread loads), libtorch in the main thread (--workers 0), human as before.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import type { AlignManifest } from '../src/data/align/align-folder.js';
import { hasLfw, lfw } from './helpers/photo-fixtures.js';

const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'cli', 'main.js');
const PHOTOS: [string, number][] = [
  ['Abdullah_Gul', 1],
  ['Colin_Powell', 2],
  ['Serena_Williams', 3],
  ['AJ_Cook', 1],
  ['Aaron_Peirsol', 1],
  ['Abba_Eban', 1],
];

const work = mkdtempSync(join(tmpdir(), 'catface-align-detectors-'));
after(() => rmSync(work, { recursive: true, force: true }));

function align(detector: string, workers: string): AlignManifest {
  const out = join(work, detector);
  const r = spawnSync(
    process.execPath,
    [CLI, 'align', join(work, 'in'), out, '--template', 'dlib', '--size', '150', '--detector', detector, '--workers', workers],
    { encoding: 'utf8', env: { ...process.env, CATFACE_THREADS: '1' } },
  );
  assert.equal(r.status, 0, `align --detector ${detector}: ${r.stderr}`);
  assert.match(r.stdout, new RegExp(`processed ${PHOTOS.length} image\\(s\\), ${PHOTOS.length} aligned`));
  const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as AlignManifest;
  assert.equal(manifest.detector, detector, 'the manifest records the detector');
  return manifest;
}

async function pixels(path: string): Promise<Buffer> {
  return (await sharp(path).raw().toBuffer({ resolveWithObject: true })).data;
}

test('catface align: onnx, libtorch and human give the same landmarks (≤ 1 px) and chips (mean |Δ| ≤ 2 levels)', async (t) => {
  if (!hasLfw()) return t.skip('LFW not found in ../shared/data: detector equivalence of catface align skipped');
  for (const [person, n] of PHOTOS) {
    mkdirSync(join(work, 'in', person), { recursive: true });
    copyFileSync(lfw(person, n), join(work, 'in', person, `${person}_${n}.jpg`));
  }
  const human = align('human', '1');
  for (const [detector, workers] of [
    ['onnx', '1'],
    ['libtorch', '0'],
  ]) {
    const other = align(detector, workers);
    assert.deepEqual(
      other.entries.map((e) => e.source),
      human.entries.map((e) => e.source),
    );
    let worstPoint = 0;
    let worstChip = 0;
    for (const [i, entry] of other.entries.entries()) {
      const reference = human.entries[i];
      for (const [k, [x, y]] of entry.landmarks.entries())
        worstPoint = Math.max(worstPoint, Math.hypot(x - reference.landmarks[k][0], y - reference.landmarks[k][1]));
      const [a, b] = await Promise.all([pixels(join(work, detector, entry.output)), pixels(join(work, 'human', reference.output))]);
      assert.equal(a.length, b.length);
      let sum = 0;
      for (let j = 0; j < a.length; j++) sum += Math.abs(a[j] - b[j]);
      worstChip = Math.max(worstChip, sum / a.length);
    }
    assert.ok(worstPoint <= 1, `${detector} vs human: a landmark ${worstPoint.toFixed(2)} px apart`);
    assert.ok(worstChip <= 2, `${detector} vs human: a chip's mean |Δ| is ${worstChip.toFixed(2)} grey levels`);
    t.diagnostic(
      `${detector} vs human on ${PHOTOS.length} LFW photos: landmarks ≤ ${worstPoint.toFixed(3)} px, chips mean |Δ| ≤ ${worstChip.toFixed(3)}`,
    );
  }
  const mixed = spawnSync(process.execPath, [CLI, 'align', join(work, 'in'), join(work, 'human'), '--template', 'dlib', '--size', '150'], {
    encoding: 'utf8',
  });
  assert.equal(mixed.status, 1, 'resuming a cache with another detector is refused');
  assert.match(mixed.stderr, /manifest\.json: cache's faces were found by the human detector, not onnx; use another output folder/);
});
