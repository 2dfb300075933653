// Detection + 5-point alignment: the similarity fit and warp on known transforms, then Yale through
// `alignFolder` (faces found, eye centres on the template, re-run skips, no-face and broken files reported).
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { type Affine, applyAffine, similarityTransform, templateFor, warpAffine } from '../src/data/align/align-face.js';
import { alignFolder } from '../src/data/align/align-folder.js';
import { FaceDetector, type Point } from '../src/data/align/detect.js';
import { readImageFolder } from '../src/data/readers/image-folder.js';

const here = dirname(fileURLToPath(import.meta.url));
const yale = join(here, '..', '..', '..', 'shared', 'data', 'yale');
// A sample keeps the test under a minute on 2 busy cores: 5 of Yale's 11 conditions (incl. side lighting), all 15 subjects.
const YALE_SAMPLE = /(centerlight|glasses|happy|leftlight|rightlight)\.png$/;

test('similarityTransform recovers a known similarity exactly and least-squares fits noisy points', () => {
  const [s, angle, tx, ty] = [1.7, 0.35, 12.5, -7.25];
  const truth: Affine = [s * Math.cos(angle), -s * Math.sin(angle), tx, s * Math.sin(angle), s * Math.cos(angle), ty];
  const src: Point[] = [
    [10, 20],
    [50, 22],
    [31, 40],
    [15, 60],
    [47, 61],
  ];
  const fitted = similarityTransform(
    src,
    src.map((p) => applyAffine(truth, p)),
  );
  fitted.forEach((v, i) => {
    assert.ok(Math.abs(v - truth[i]) < 1e-9, `m[${i}] ${v} vs ${truth[i]}`);
  });
  // Symmetric noise on a symmetric set leaves the fit unchanged in scale.
  const noisy = src.map((p, i) => applyAffine(truth, [p[0] + (i % 2 ? 0.5 : -0.5), p[1]]));
  const m = similarityTransform(src, noisy);
  assert.ok(Math.abs(Math.hypot(m[0], m[3]) - s) < 0.05);
  assert.throws(() => similarityTransform([[1, 1]], [[2, 2]]), /need ≥ 2 matching points/);
});

test('warpAffine moves a bright dot to where the transform sends it', () => {
  const [w, h] = [64, 48];
  const rgb = new Uint8Array(w * h * 3);
  const dot: Point = [20, 30];
  rgb.fill(255, (dot[1] * w + dot[0]) * 3, (dot[1] * w + dot[0]) * 3 + 3);
  const m = similarityTransform(
    [
      [0, 0],
      [10, 0],
    ],
    [
      [80, 3],
      [80, 23],
    ],
  ); // rotate 90°, scale 2, shift
  const out = warpAffine(rgb, w, h, m, 112, 112);
  const [ex, ey] = applyAffine(m, dot).map(Math.round);
  let best = 0;
  let at: Point = [-1, -1];
  for (let y = 0; y < 112; y++) {
    for (let x = 0; x < 112; x++) {
      if (out[(y * 112 + x) * 3] > best) {
        best = out[(y * 112 + x) * 3];
        at = [x, y];
      }
    }
  }
  assert.deepEqual(at, [ex, ey]);
  assert.equal(best, 255);
});

test('Yale through alignFolder: ≥ 95% faces found, eyes on the template, re-run skips, bad files reported', async (t) => {
  if (!existsSync(yale)) return t.skip(`Yale not found at ${yale}`);
  const out = mkdtempSync(join(tmpdir(), 'catface-align-'));
  try {
    const first = await alignFolder(yale, out, { workers: 2, filter: (s) => YALE_SAMPLE.test(s) });
    const total = first.aligned + first.manifest.noFace.length + first.manifest.failed.length;
    assert.ok(total >= 70, `sampled ${total} images`);
    assert.ok(first.aligned >= 0.95 * total, `found ${first.aligned}/${total}`);
    assert.equal(first.manifest.failed.length, 0);
    const template = templateFor(112);
    const eyeError = (points: Point[], i: number) => Math.hypot(points[i][0] - template[i][0], points[i][1] - template[i][1]);
    const fitted: number[] = [];
    for (const entry of first.manifest.entries) {
      // Detected landmarks mapped by the fitted transform; a 5-point least-squares fit leaves residuals on the
      // eyes when the mouth moves (e.g. a wide smile), so a few may exceed 3 px.
      const m = similarityTransform(entry.landmarks as Point[], template);
      const mapped = (entry.landmarks as Point[]).map((p) => applyAffine(m, p));
      fitted.push(eyeError(mapped, 0), eyeError(mapped, 1));
      assert.ok(entry.score > 0.3 && entry.box.length === 4);
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    assert.ok(median(fitted) < 1.5, `median fitted eye error ${median(fitted)}`);
    assert.ok(fitted.filter((e) => e < 3).length >= 0.95 * fitted.length, `fitted eye errors ${fitted.map((e) => e.toFixed(1))}`);
    // Re-detection on the aligned crops (padded so the detector sees context) finds the eyes on the template.
    const detector = await FaceDetector.create();
    const errors: number[] = [];
    for (const entry of first.manifest.entries.slice(0, 20)) {
      const { data } = await sharp(join(out, entry.output))
        .extend({ top: 56, bottom: 56, left: 56, right: 56, background: '#808080' })
        .removeAlpha()
        .raw()
        .toBuffer({ resolveWithObject: true });
      const [face] = await detector.detect(data, 224, 224);
      assert.ok(face, `face re-detected in ${entry.output}`);
      for (const i of [0, 1])
        errors.push(Math.hypot(face.landmarks[i][0] - 56 - template[i][0], face.landmarks[i][1] - 56 - template[i][1]));
    }
    assert.ok(median(errors) < 2, `median re-detected eye error ${median(errors)}`);
    assert.ok(errors.filter((e) => e < 3).length >= 0.9 * errors.length, `eye errors ${errors.map((e) => e.toFixed(1))}`);
    // The cache reads as an image folder; a re-run does nothing.
    const ds = readImageFolder(out);
    assert.equal(ds.samples.length, first.aligned);
    const again = await alignFolder(yale, out, { workers: 0, filter: (s) => YALE_SAMPLE.test(s) });
    assert.equal(again.skipped, total);
    assert.equal(again.aligned, 0);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('images without a face and broken files are listed in the report, not dropped', async () => {
  const input = mkdtempSync(join(tmpdir(), 'catface-align-in-'));
  const out = mkdtempSync(join(tmpdir(), 'catface-align-out-'));
  try {
    mkdirSync(join(input, 'a'));
    await sharp({ create: { width: 120, height: 90, channels: 3, background: '#7f7f7f' } })
      .png()
      .toFile(join(input, 'a', 'blank.png'));
    writeFileSync(join(input, 'a', 'broken.jpg'), Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 16]));
    writeFileSync(join(input, 'a', 'empty.png'), '');
    const summary = await alignFolder(input, out, { workers: 0 });
    assert.deepEqual(summary.manifest.noFace, ['a/blank.png']);
    assert.deepEqual(summary.manifest.failed.map((f) => f.source).sort(), ['a/broken.jpg', 'a/empty.png']);
    assert.match(summary.manifest.failed.find((f) => f.source === 'a/empty.png')?.reason ?? '', /empty file/);
    const report = readFileSync(join(out, 'report.txt'), 'utf8');
    assert.match(report, /no face: a\/blank\.png/);
    assert.match(report, /failed: a\/broken\.jpg: cannot decode image/);
  } finally {
    rmSync(input, { recursive: true, force: true });
    rmSync(out, { recursive: true, force: true });
  }
});

test('align never damages its input: same folder, nested output, name collisions and foreign folders are refused before any write', async () => {
  const root = mkdtempSync(join(tmpdir(), 'catface-align-safe-'));
  try {
    const input = join(root, 'in');
    mkdirSync(join(input, 'a'), { recursive: true });
    const png = await sharp({ create: { width: 40, height: 30, channels: 3, background: '#7f7f7f' } })
      .png()
      .toBuffer();
    writeFileSync(join(input, 'a', 'x.png'), png);
    writeFileSync(join(input, 'a', 'x.jpg'), png);
    await assert.rejects(alignFolder(input, input, { workers: 0 }), /output folder .*in is the same path as input folder .*in/);
    await assert.rejects(alignFolder(input, join(input, 'aligned'), { workers: 0 }), /output folder .*aligned lies inside input folder/);
    await assert.rejects(alignFolder(join(input, 'a'), input, { workers: 0 }), /output folder .*in contains input folder .*in\/a/);
    await assert.rejects(
      alignFolder(input, join(root, 'out'), { workers: 0 }),
      (e: Error) =>
        /1 name collision/.test(e.message) && e.message.includes(`${join(input, 'a', 'x.jpg')} and ${join(input, 'a', 'x.png')}`),
    );
    assert.equal(existsSync(join(root, 'out')), false, 'nothing written before the collision was found');
    rmSync(join(input, 'a', 'x.jpg'));
    const foreign = join(root, 'photos');
    mkdirSync(foreign);
    writeFileSync(join(foreign, 'keep.txt'), 'mine');
    await assert.rejects(
      alignFolder(input, foreign, { workers: 0 }),
      /photos: holds 1 file\(s\) catface did not write \(keep\.txt\).*--force/,
    );
    // a symlink loop is reported and skipped, the rest is aligned; the output folder is then owned by align
    symlinkSync('..', join(input, 'a', 'loop'));
    const out = join(root, 'out');
    const summary = await alignFolder(input, out, { workers: 0 });
    assert.deepEqual(summary.manifest.noFace, ['a/x.png']);
    assert.match(summary.report.toString(), /a\/loop: symlink loop \(this folder was already listed\); skipped/);
    assert.deepEqual(readdirSync(input), ['a']);
    assert.deepEqual(readdirSync(join(input, 'a')).sort(), ['loop', 'x.png']);
    assert.deepEqual(readFileSync(join(input, 'a', 'x.png')), png);
    const again = await alignFolder(input, out, { workers: 0 });
    assert.equal(again.skipped, 1);
    await alignFolder(input, foreign, { workers: 0, force: true });
    assert.equal(readFileSync(join(foreign, 'keep.txt'), 'utf8'), 'mine');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
