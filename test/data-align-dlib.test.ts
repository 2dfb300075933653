// dlib's face chip: the 5-point template is dlib's mean face (padding 0.25) scaled to the chip, and catface's
// detection + landmarks on real LFW photos land within a few pixels of it on the 150 chip
// (mean residual < 6 px; the eyes are ~53 px apart).
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { templateFor } from '../src/data/align/align-face.js';
import { detectAndAlign } from '../src/data/align/align-image.js';
import { FaceDetector } from '../src/data/align/detect.js';

const here = dirname(fileURLToPath(import.meta.url));
const LFW = join(here, '..', '..', '..', 'shared', 'data', 'lfw');

test("dlib template: dlib's padded mean face on the 150 chip", () => {
  const t = templateFor(150, 'dlib');
  // eyes level and symmetric about the chip's centre line; padding 0.25 maps the unit square to [25, 125]
  assert.ok(Math.abs(t[0][1] - t[1][1]) < 1e-9);
  assert.ok(Math.abs((t[0][0] + t[1][0]) / 2 - 74.0) < 0.5, `eye midpoint x ${(t[0][0] + t[1][0]) / 2}`);
  assert.ok(Math.abs(t[2][0] - (0.25 + 0.490127) * 100) < 1e-6);
  assert.throws(() => templateFor(150, 'other' as 'dlib'), /'arcface' or 'dlib'/);
});

test('catface detection + landmarks on LFW photos align onto the dlib chip template', async (t) => {
  if (!existsSync(LFW)) return t.skip(`LFW not found at ${LFW}: chip alignment test skipped`);
  const detector = await FaceDetector.create();
  const template = templateFor(150, 'dlib');
  for (const photo of ['Aaron_Peirsol/Aaron_Peirsol_0001.jpg', 'AJ_Cook/AJ_Cook_0001.jpg', 'Abba_Eban/Abba_Eban_0001.jpg']) {
    const outcome = await detectAndAlign(detector, readFileSync(join(LFW, photo)), photo, { template: 'dlib', size: 150 });
    assert.ok(outcome.face, `${photo}: no face`);
    if (!outcome.face) continue;
    assert.equal(outcome.aligned.pixels.length, 150 * 150 * 3);
    // a least-squares similarity leaves each face's own shape (a smile, a turned head) as residuals
    const errors = outcome.aligned.landmarks.map(([x, y], i) => Math.hypot(x - template[i][0], y - template[i][1]));
    const mean = errors.reduce((a, b) => a + b, 0) / errors.length;
    assert.ok(mean < 6 && Math.max(...errors) < 12, `${photo}: landmarks ${errors.map((e) => e.toFixed(1))} px from the template`);
    t.diagnostic(`${photo}: landmarks ${errors.map((e) => e.toFixed(1)).join(', ')} px from the dlib template (eye distance ~53 px)`);
  }
});
