// The photo commands spawned as a user runs them: verify, embed (folders, bad files, resume after a kill,
// --faces reuse, safetensors), attributes and detect, on a small test model.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { appendFileSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import type { EmbedRecord } from '../src/cli/embed.js';
import { loadSafetensors } from '../src/nn/safetensors.js';
import * as torch from '../src/torch/index.js';
import { brokenFiles, hasLfw, lfw, noFacePhoto } from './helpers/photo-fixtures.js';
import { TINY_ATTRIBUTES, writeTinyModel } from './helpers/tiny-model.js';

const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'cli', 'main.js');
const NO_LFW = 'LFW not found in ../shared/data: skipped';
const PEOPLE = ['Abdullah_Gul', 'Colin_Powell', 'Serena_Williams'];

let work: string;
let model: string;
let photos: string; // PEOPLE × 2 LFW photos in per-person folders (when LFW is there)

function catface(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', cwd: work, env: { ...process.env, CATFACE_THREADS: '1' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function readJsonl(path: string): EmbedRecord[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as EmbedRecord);
}

before(() => {
  work = mkdtempSync(join(tmpdir(), 'catface-cli-photos-'));
  model = join(work, 'model');
  writeTinyModel(model);
  photos = join(work, 'photos');
  if (hasLfw())
    for (const person of PEOPLE) {
      mkdirSync(join(photos, person), { recursive: true });
      for (const n of [1, 2]) copyFileSync(lfw(person, n), join(photos, person, `${n}.jpg`));
    }
});

after(() => rmSync(work, { recursive: true, force: true }));

test('verify: similarity and verdict at the model threshold, as a table or JSON', (t) => {
  if (!hasLfw()) return t.skip(NO_LFW);
  const a = join(photos, 'Colin_Powell', '1.jpg');
  const b = join(photos, 'Serena_Williams', '1.jpg');
  const json = catface('verify', a, b, '--model', model, '--json');
  assert.equal(json.code, 0, json.stderr);
  const result = JSON.parse(json.stdout);
  assert.ok(result.similarity >= -1 && result.similarity <= 1);
  assert.equal(result.threshold, 0.5);
  assert.equal(result.same, result.similarity >= 0.5);
  assert.deepEqual(
    result.faces.map((f: { file: string }) => f.file),
    [a, b],
  );
  for (const f of result.faces) {
    assert.equal(f.box.length, 4);
    assert.equal(f.landmarks.length, 5);
    assert.equal(f.embedding.length, 32);
    assert.deepEqual(Object.keys(f.attributes), TINY_ATTRIBUTES);
  }
  const text = catface('verify', a, b, '--model', model, '--threshold=-1');
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, new RegExp(`similarity ${result.similarity.toFixed(4)}: SAME person \\(threshold -1\\.0000\\)`));
  assert.match(text.stdout, /photo +face box +score +quality +male +big_nose/);
});

test('verify: a missing photo, a photo without a face, no model: a clear message and exit code 1', async () => {
  const blank = join(work, 'blank.png');
  await noFacePhoto(blank);
  const missing = catface('verify', blank, join(work, 'nope.jpg'), '--model', model);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /nope\.jpg: file not found/);
  const noFace = catface('verify', blank, blank, '--model', model);
  assert.equal(noFace.code, 1);
  assert.match(noFace.stderr, /blank\.png: no face found/);
  const noModel = catface('verify', blank, blank, '--model', join(work, 'no-model'));
  assert.equal(noModel.code, 1);
  assert.match(noModel.stderr, /no-model: not a catface model directory/);
  const usage = catface('verify', blank);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /expected two photos/);
});

test('embed a folder: one line per photo with relative names, bad files reported at the end, exit code 1', async () => {
  const folder = join(work, 'mixed');
  mkdirSync(join(folder, 'sub'), { recursive: true });
  if (hasLfw()) copyFileSync(lfw('Colin_Powell', 3), join(folder, 'sub', 'powell.jpg'));
  await noFacePhoto(join(folder, 'gradient.png'));
  const broken = await brokenFiles(folder);
  const out = join(work, 'mixed.jsonl');
  const r = catface('embed', folder, '--out', out, '--model', model);
  assert.equal(r.code, 1, r.stderr);
  const records = readJsonl(out);
  const byFile = new Map(records.map((rec) => [rec.file, rec]));
  const failed = {
    'gradient.png': /no face found/,
    'empty.jpg': /empty file/,
    'notes.jpg': /not an image/, // bytes in no known image format (src/data/decode.ts)
    'truncated.jpg': /cannot decode/,
    'huge.png': /image too large/,
  };
  for (const [file, reason] of Object.entries(failed)) {
    const rec = byFile.get(file);
    assert.ok(rec && 'error' in rec, `${file}: ${JSON.stringify(rec)}`);
    assert.match(rec.error, reason);
    assert.match(r.stderr, new RegExp(`${join(folder, file).replace(/[.]/g, '\\.')}: `));
  }
  assert.match(r.stderr, new RegExp(`${Object.keys(failed).length} photo\\(s\\) failed`));
  if (hasLfw()) {
    const ok = byFile.get(join('sub', 'powell.jpg'));
    assert.ok(ok && 'faces' in ok && ok.faces.length === 1);
    assert.equal(ok.faces[0].embedding.length, 32);
  }
  assert.equal(records.length, Object.keys(broken).length + 1 + (hasLfw() ? 1 : 0));
});

test('embed resumes after a kill: finished lines kept, a torn line dropped, the rest done once', async (t) => {
  if (!hasLfw()) return t.skip(NO_LFW);
  const out = join(work, 'resume.jsonl');
  const child: ChildProcess = spawn(process.execPath, [CLI, 'embed', photos, '--out', out, '--model', model], {
    cwd: work,
    stdio: 'ignore',
    env: { ...process.env, CATFACE_THREADS: '1' },
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  // Kill it as soon as the first photo is written.
  while (!(existsSync(out) && statSync(out).size > 0) && child.exitCode === null) await new Promise((r) => setTimeout(r, 20));
  child.kill('SIGKILL');
  await exited;
  const before = readJsonl(out);
  assert.ok(before.length >= 1 && before.length < 6, `lines before the kill: ${before.length}`);
  appendFileSync(out, '{"file":"Colin_Powell/2.jpg","faces":[{"box":[1,'); // what a kill mid-line would leave
  const r = catface('embed', photos, '--out', out, '--model', model);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, new RegExp(`${before.length} photo\\(s\\) already done, ${6 - before.length} to go`));
  const records = readJsonl(out);
  assert.equal(records.length, 6);
  assert.deepEqual(records.map((rec) => rec.file).sort(), PEOPLE.flatMap((p) => [join(p, '1.jpg'), join(p, '2.jpg')]).sort());
  assert.deepEqual(records.slice(0, before.length), before);
  // A third run has nothing to do.
  const again = catface('embed', photos, '--out', out, '--model', model);
  assert.match(again.stderr, /6 photo\(s\) already done, 0 to go/);
  assert.equal(readJsonl(out).length, 6);
});

test('embed --faces: degraded copies reuse the clean photos’ faces; --format safetensors writes a matrix + index', async (t) => {
  if (!hasLfw()) return t.skip(NO_LFW);
  const clean = join(work, 'clean.jsonl');
  assert.equal(catface('embed', photos, '--out', clean, '--model', model).code, 0);
  const degraded = join(work, 'degraded');
  for (const person of PEOPLE)
    for (const n of [1, 2]) {
      mkdirSync(join(degraded, person), { recursive: true });
      await sharp(join(photos, person, `${n}.jpg`))
        .resize(16)
        .resize(250, 250, { kernel: 'linear' })
        .jpeg({ quality: 10 })
        .toFile(join(degraded, person, `${n}.jpg`));
    }
  const reused = join(work, 'reused.jsonl');
  const r = catface('embed', degraded, '--out', reused, '--faces', clean, '--model', model);
  assert.equal(r.code, 0, r.stderr);
  for (const rec of readJsonl(reused)) {
    assert.ok('faces' in rec, JSON.stringify(rec));
    const cleanRec = readJsonl(clean).find((c) => c.file === rec.file);
    assert.ok(cleanRec && 'faces' in cleanRec);
    assert.deepEqual(rec.faces[0].box, cleanRec.faces[0].box);
    assert.deepEqual(rec.faces[0].landmarks, cleanRec.faces[0].landmarks);
    assert.notDeepEqual(rec.faces[0].embedding, cleanRec.faces[0].embedding);
  }
  assert.equal(readJsonl(reused).length, 6);

  const matrix = join(work, 'faces.safetensors');
  const st = catface('embed', photos, '--out', matrix, '--format', 'safetensors', '--model', model);
  assert.equal(st.code, 0, st.stderr);
  const { tensors, metadata } = loadSafetensors(matrix);
  try {
    assert.deepEqual(tensors.get('embedding')?.shape, [6, 32]);
    assert.deepEqual(tensors.get('landmarks')?.shape, [6, 5, 2]);
    assert.deepEqual(tensors.get('attributes')?.shape, [6, TINY_ATTRIBUTES.length]);
    const index = JSON.parse(metadata.index) as [string, number][];
    const cleanRecords = readJsonl(clean);
    const rows = tensors.get('embedding')?.dataSync() as Float32Array;
    for (const [i, [file, face]] of index.entries()) {
      const rec = cleanRecords.find((c) => c.file === file);
      assert.ok(rec && 'faces' in rec);
      const expected = rec.faces[face].embedding;
      assert.ok(
        expected.every((v, j) => Math.abs(v - rows[i * 32 + j]) < 1e-6),
        `row ${i} (${file})`,
      );
    }
    assert.deepEqual(JSON.parse(metadata.attributes), TINY_ATTRIBUTES);
  } finally {
    torch.dispose([...tensors.values()]);
  }
});

test('attributes and detect: a table, JSON lines and an annotated PNG', async (t) => {
  if (!hasLfw()) return t.skip(NO_LFW);
  const photo = join(photos, 'Serena_Williams', '1.jpg');
  const table = catface('attributes', join(photos, 'Serena_Williams'), '--model', model);
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /photo +face box +score +quality +male +big_nose\n/);
  assert.equal(table.stdout.trim().split('\n').length, 4);
  const json = catface('attributes', photo, '--model', model, '--json');
  const [line] = json.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.equal(line.file, photo);
  assert.deepEqual(Object.keys(line.faces[0].attributes), TINY_ATTRIBUTES);

  const annotated = join(work, 'annotated.png');
  const r = catface('detect', photo, '--out', annotated, '--model', model, '--json');
  assert.equal(r.code, 0, r.stderr);
  const { faces } = JSON.parse(r.stdout);
  assert.equal(faces.length, 1);
  const drawn = await sharp(annotated).raw().toBuffer({ resolveWithObject: true });
  const original = await sharp(photo).raw().toBuffer({ resolveWithObject: true });
  assert.deepEqual([drawn.info.width, drawn.info.height], [original.info.width, original.info.height]);
  // The box's top edge is drawn; the photo's corner is untouched.
  const [x, y, w] = faces[0].box.map(Math.round);
  const at = (img: typeof drawn, px: number, py: number) => [
    ...img.data.subarray((py * img.info.width + px) * 3, (py * img.info.width + px) * 3 + 3),
  ];
  assert.notDeepEqual(at(drawn, x + Math.round(w / 2), y), at(original, x + Math.round(w / 2), y));
  assert.deepEqual(at(drawn, 1, 1), at(original, 1, 1));
});
