// Photo in, answer out: FaceRecognizer on real photos (LFW, Yale from ../shared/data) and on every awkward or
// broken input a user hands over (generated here with sharp).
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import { DataError } from '../src/data/errors.js';
import { loadFaceApiDlibResNet } from '../src/models/dlib-resnet.js';
import { DEFAULT_MODEL_DIR } from '../src/models/model-dir.js';
import { FaceRecognizer, type RecognizedFace } from '../src/serve/face-recognizer.js';
import { dlibCropModel } from './helpers/dlib-crop-model.js';
import { awkwardCopies, brokenFiles, hasLfw, lfw, noFacePhoto, twoFacePhoto, YALE } from './helpers/photo-fixtures.js';
import { TINY_ATTRIBUTES, writeTinyModel } from './helpers/tiny-model.js';

let work: string;
let modelDir: string;
let recognizer: FaceRecognizer;
const NO_LFW = 'LFW not found in ../shared/data: real-photo checks skipped';

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'catface-recognizer-'));
  modelDir = join(work, 'model');
  writeTinyModel(modelDir);
  recognizer = await FaceRecognizer.open(modelDir);
});

after(async () => {
  await recognizer?.close();
  rmSync(work, { recursive: true, force: true });
});

/** Eyes level and above the nose, the nose above the mouth, image-left points left, all inside the box. */
function assertPlausibleLandmarks(face: RecognizedFace, what: string): void {
  const [le, re, nose, lm, rm] = face.landmarks;
  const [x, y, w, h] = face.box;
  assert.ok(le[0] < re[0] && lm[0] < rm[0], `${what}: left/right points swapped ${JSON.stringify(face.landmarks)}`);
  assert.ok(Math.max(le[1], re[1]) < nose[1] && nose[1] < Math.min(lm[1], rm[1]), `${what}: eyes, nose, mouth out of order`);
  const eyes = re[0] - le[0];
  assert.ok(eyes > 0.2 * w && eyes < 0.7 * w, `${what}: eye distance ${eyes} for a ${w}-px box`);
  for (const [px, py] of face.landmarks)
    assert.ok(px >= x - 0.05 * w && px <= x + 1.05 * w && py >= y - 0.05 * h && py <= y + 1.05 * h, `${what}: landmark outside the box`);
}

test('real photos: one face each with plausible landmarks, unit embedding, quality and attribute probabilities', async (t) => {
  const photos = [
    ...(hasLfw() ? [lfw('Abdullah_Gul', 1), lfw('Colin_Powell', 1), lfw('Serena_Williams', 1)] : []),
    ...(existsSync(YALE) ? [join(YALE, 'subject01', 'normal.png'), join(YALE, 'subject05', 'happy.png')] : []),
  ];
  if (photos.length === 0) return t.skip('no LFW or Yale in ../shared/data: skipped');
  for (const photo of photos) {
    const { width, height, faces } = await recognizer.analyze(photo);
    assert.equal(faces.length, 1, photo);
    const [face] = faces;
    assert.ok(face.score > 0.5, `${photo}: detection score ${face.score}`);
    assert.ok(face.box[2] > 0.25 * width && face.box[2] < width, `${photo}: face width ${face.box[2]} in a ${width}-px photo`);
    // LFW and Yale faces are roughly centred.
    const cx = face.box[0] + face.box[2] / 2;
    const cy = face.box[1] + face.box[3] / 2;
    assert.ok(Math.abs(cx - width / 2) < 0.2 * width && Math.abs(cy - height / 2) < 0.25 * height, `${photo}: box centre ${cx},${cy}`);
    assertPlausibleLandmarks(face, photo);
    assert.equal(face.embedding.length, 32);
    assert.ok(Math.abs(Math.hypot(...face.embedding) - 1) < 1e-4, 'unit embedding');
    assert.ok(face.quality > 0 && Number.isFinite(face.quality));
    assert.deepEqual(Object.keys(face.attributes), TINY_ATTRIBUTES);
    for (const p of Object.values(face.attributes)) assert.ok(p > 0 && p < 1);
  }
});

test('same person scores higher than different people (dlib weights on libtorch, through the pipeline)', async (t) => {
  if (!hasLfw()) return t.skip(NO_LFW);
  const dlib = loadFaceApiDlibResNet();
  const pipeline = await FaceRecognizer.withModel(dlibCropModel(dlib));
  try {
    const people = ['Abdullah_Gul', 'Colin_Powell', 'Serena_Williams', 'Gerhard_Schroeder'];
    const embeddings = new Map<string, Float32Array[]>();
    for (const person of people) {
      const faces = await Promise.all([1, 2].map(async (n) => (await pipeline.analyze(lfw(person, n))).faces[0].embedding));
      embeddings.set(person, faces);
    }
    const cos = (a: Float32Array, b: Float32Array) => a.reduce((s, v, i) => s + v * b[i], 0);
    const genuine = people.map((p) => cos(...(embeddings.get(p) as [Float32Array, Float32Array])));
    const impostor = people.flatMap((p, i) =>
      people.slice(i + 1).map((q) => cos(embeddings.get(p)?.[0] as Float32Array, embeddings.get(q)?.[1] as Float32Array)),
    );
    t.diagnostic(`genuine ${genuine.map((s) => s.toFixed(3))}; impostor max ${Math.max(...impostor).toFixed(3)}`);
    assert.ok(Math.min(...genuine) > Math.max(...impostor), `genuine ${genuine} vs impostor ${impostor}`);
  } finally {
    dlib.dispose();
  }
});

test('the shipped default model tells the same person from different people', async (t) => {
  if (!existsSync(join(DEFAULT_MODEL_DIR, 'model.json'))) return t.skip(`no shipped model at ${DEFAULT_MODEL_DIR}: skipped`);
  if (!hasLfw()) return t.skip(NO_LFW);
  const shipped = await FaceRecognizer.open();
  try {
    const same = await shipped.verify(lfw('Colin_Powell', 1), lfw('Colin_Powell', 2));
    const different = await shipped.verify(lfw('Colin_Powell', 1), lfw('Serena_Williams', 1));
    assert.ok(same.similarity > different.similarity, `same ${same.similarity} vs different ${different.similarity}`);
    if (shipped.threshold !== null) {
      assert.equal(same.same, true);
      assert.equal(different.same, false);
    }
  } finally {
    await shipped.close();
  }
});

test('CMYK, greyscale with alpha, 16-bit and EXIF-rotated photos give the face of the plain photo', async (t) => {
  if (!hasLfw()) return t.skip(NO_LFW);
  const photo = lfw('Colin_Powell', 1);
  const [plain] = (await recognizer.analyze(photo)).faces;
  const copies = await awkwardCopies(photo, work);
  for (const [kind, path] of Object.entries(copies)) {
    const result = await recognizer.analyze(path);
    assert.equal(result.width, 250, `${kind}: upright width`);
    assert.equal(result.faces.length, 1, `${kind}: one face`);
    const [face] = result.faces;
    const shift = Math.max(...face.box.map((v, i) => Math.abs(v - plain.box[i])));
    assert.ok(shift < 6, `${kind}: box ${face.box} vs plain ${plain.box}`);
    const eyeShift = Math.hypot(face.landmarks[0][0] - plain.landmarks[0][0], face.landmarks[0][1] - plain.landmarks[0][1]);
    assert.ok(eyeShift < 4, `${kind}: left eye moved ${eyeShift} px`);
  }
});

test('broken files, missing files and huge dimensions fail with a message naming the file', async () => {
  const files = await brokenFiles(work, hasLfw() ? lfw('Colin_Powell', 1) : undefined);
  const expected: Record<string, RegExp> = {
    empty: /empty file/,
    text: /not an image \(no known image format in its bytes\)/,
    truncated: /cannot decode image/,
    huge: /image too large: more than 50000000 pixels/,
  };
  for (const [kind, path] of Object.entries(files)) {
    await assert.rejects(recognizer.analyze(path), (err: Error) => {
      assert.ok(err instanceof DataError, `${kind}: ${err}`);
      assert.equal(err.file, path);
      assert.match(err.message, expected[kind], kind);
      return true;
    });
  }
  await assert.rejects(recognizer.analyze(join(work, 'nowhere.jpg')), /nowhere\.jpg: file not found/);
  await assert.rejects(recognizer.analyze(work), /is a folder, not a photo/);
  await assert.rejects(recognizer.analyze(new Uint8Array([1, 2, 3]), { source: 'upload #7' }), /^DataError: upload #7: not an image/);
});

test('a photo without a face gives no faces; verify says which photo had none', async () => {
  const blank = join(work, 'gradient.png');
  await noFacePhoto(blank);
  assert.deepEqual((await recognizer.analyze(blank)).faces, []);
  await assert.rejects(recognizer.verify(blank, blank), new RegExp(`${blank.replace(/[.]/g, '\\.')}: no face found`));
});

test('several faces: the largest by default, every face with allFaces', async (t) => {
  if (!hasLfw()) return t.skip(NO_LFW);
  const path = join(work, 'two.jpg');
  const { bigAt, smallAt } = await twoFacePhoto(lfw('Colin_Powell', 1), lfw('Serena_Williams', 1), path);
  const centre = (f: RecognizedFace) => [f.box[0] + f.box[2] / 2, f.box[1] + f.box[3] / 2];
  const near = (f: RecognizedFace, at: [number, number]) => Math.hypot(centre(f)[0] - at[0], centre(f)[1] - at[1]) < 30;
  const largest = (await recognizer.analyze(path)).faces;
  assert.equal(largest.length, 1);
  assert.ok(near(largest[0], bigAt), `largest face at ${centre(largest[0])}`);
  const all = (await recognizer.analyze(path, { allFaces: true })).faces;
  assert.equal(all.length, 2);
  assert.ok(near(all[0], bigAt) && near(all[1], smallAt), `faces at ${all.map(centre)}`);
  assert.ok(all[0].box[2] > all[1].box[2]);
});

test('given faces replace detection: same embedding on the same photo, and kept on a photo too blurred to detect', async (t) => {
  if (!hasLfw()) return t.skip(NO_LFW);
  const photo = lfw('Abdullah_Gul', 2);
  const [detected] = (await recognizer.analyze(photo)).faces;
  const [reused] = (await recognizer.analyze(photo, { faces: [detected] })).faces;
  assert.deepEqual(Array.from(reused.embedding), Array.from(detected.embedding));
  const blurred = join(work, 'blurred.png');
  await sharp(photo).blur(12).png().toFile(blurred);
  const [kept] = (await recognizer.analyze(blurred, { faces: [detected] })).faces;
  assert.deepEqual(kept.box, detected.box);
  assert.notDeepEqual(Array.from(kept.embedding), Array.from(detected.embedding));
  await assert.rejects(recognizer.analyze(photo, { faces: [{ box: [0, 0, 1, 1], landmarks: [[0, 0]], score: 1 }] }), /5 \[x, y\] points/);
});

test('with worker: true (detector and model on worker threads) the answer is the in-process one', async (t) => {
  if (!hasLfw() && !existsSync(YALE)) return t.skip('no LFW or Yale in ../shared/data: skipped');
  const photo = hasLfw() ? lfw('Serena_Williams', 1) : join(YALE, 'subject01', 'normal.png');
  const inWorker = await FaceRecognizer.open(modelDir, { worker: true });
  try {
    const [a] = (await recognizer.analyze(photo)).faces;
    const [b] = (await inWorker.analyze(photo)).faces;
    assert.deepEqual(b.box, a.box);
    const diff = Math.max(...a.embedding.map((v, i) => Math.abs(v - b.embedding[i])));
    assert.ok(diff < 1e-5, `max embedding difference ${diff}`);
  } finally {
    await inWorker.close();
  }
});

test('no model given and none shipped: a clear error', async (t) => {
  if (existsSync(join(DEFAULT_MODEL_DIR, 'model.json'))) return t.skip('a default model ships: nothing to check');
  await assert.rejects(FaceRecognizer.open(), /no model given and the default model is missing .*--model DIR/);
});
