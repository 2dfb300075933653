// The randomised whole-photo capture of the trunk cache's LQ twins: every draw degrades, every value lies in its
// configured range, steps are drawn independently (combinations happen), and a one-step capture is exactly
// the validation condition of the same value.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Prng } from '../src/common/prng.js';
import { capturePhoto, drawCapture, PHOTO_CAPTURE_DEFAULTS } from '../src/degrade/photo-capture.js';
import { applyPhotoCondition, photoTurbulence, type RgbPhoto } from '../src/degrade/photo-conditions.js';

test('capture draws: never clean, within the ranges, sometimes combined, reproducible from the seed', () => {
  const c = PHOTO_CAPTURE_DEFAULTS;
  const prng = new Prng(4);
  const draws = Array.from({ length: 2000 }, () => drawCapture(prng));
  const inRange = (v: number | undefined, [lo, hi]: [number, number]) => v === undefined || (v >= lo && v <= hi);
  let combined = 0;
  const counts = { turbulence: 0, blurSigma: 0, faceWidth: 0, jpegQuality: 0 };
  for (const d of draws) {
    const steps = (['turbulence', 'blurSigma', 'faceWidth', 'jpegQuality'] as const).filter((k) => d[k] !== undefined);
    assert.ok(steps.length >= 1, `a draw without any step: ${JSON.stringify(d)}`);
    if (steps.length > 1) combined += 1;
    for (const k of steps) counts[k] += 1;
    assert.ok(inRange(d.turbulence, c.turbulence) && inRange(d.blurSigma, c.blurSigma) && inRange(d.faceWidth, c.faceWidth));
    assert.ok(inRange(d.jpegQuality, c.jpegQuality) && (d.jpegQuality === undefined || Number.isInteger(d.jpegQuality)));
  }
  assert.ok(combined > 200 && combined < 1500, `combined captures: ${combined}/2000`);
  // each step's frequency is near its probability (plus its share of the forced picks)
  assert.ok(Math.abs(counts.faceWidth / 2000 - c.probability.down) < 0.08, `down: ${counts.faceWidth}`);
  assert.ok(Math.abs(counts.turbulence / 2000 - c.probability.turbulence) < 0.08, `turbulence: ${counts.turbulence}`);
  assert.deepEqual(drawCapture(new Prng(9)), drawCapture(new Prng(9)));
});

test('a one-step capture equals the validation condition of the same value', async () => {
  const width = 64;
  const height = 48;
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < data.length; i++) data[i] = (i * 37 + ((i / 3) | 0) * 11) % 256;
  const photo: RgbPhoto = { data, width, height };
  const turbulence = photoTurbulence();
  try {
    const pairs = [
      [{ seed: 1, blurSigma: 3 }, 'blur3'],
      [{ seed: 1, jpegQuality: 10 }, 'jpeg10'],
      [{ seed: 1, faceWidth: 16 }, 'down16'],
      [{ seed: 5, turbulence: 2 }, 'turb2'],
    ] as const;
    for (const [draw, condition] of pairs) {
      const a = await capturePhoto(photo, draw, 40, turbulence);
      const b = await applyPhotoCondition(photo, condition, 40, turbulence, 5);
      assert.deepEqual([a.width, a.height], [width, height]);
      assert.deepEqual(Buffer.from(a.data), Buffer.from(b.data), condition);
      assert.notDeepEqual(Buffer.from(a.data), Buffer.from(data), `${condition} changed nothing`);
    }
  } finally {
    turbulence.dispose();
  }
});
