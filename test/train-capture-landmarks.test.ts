// The LQ twins of a trunk cache are warped with the clean photo's landmarks, or (data.trunkCache.landmarks
// 'detected') with those the photo pipeline's detector finds on each capture, as validation aligns a degraded photo —
// falling back to the clean ones where no face overlapping the clean one is found, as validation does.
import assert from 'node:assert/strict';
import { dirname, relative } from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { alignFace } from '../src/data/align/align-face.js';
import { boxIoU, landmarksOnDegraded } from '../src/data/align/detect.js';
import { capturePhoto } from '../src/degrade/photo-capture.js';
import { photoTurbulence, type RgbPhoto } from '../src/degrade/photo-conditions.js';
import { detectorChoice } from '../src/serve/face-detectors.js';
import { parseTrainConfig } from '../src/train/config.js';
import { captureDetector, captureTwins } from '../src/train/trunk-cache.js';
import { hasLfw, LFW, lfw } from './helpers/photo-fixtures.js';
import { TRUNK_CACHE_CONFIG } from './helpers/trunk-cache-config.js';

test('landmarksOnDegraded: the detected face when it overlaps the clean one (IoU >= 0.3), else the clean landmarks', () => {
  const clean = { box: [100, 100, 100, 100], landmarks: [[130, 130] as [number, number]] };
  const near = { box: [110, 105, 100, 100] as [number, number, number, number], score: 0.9, landmarks: [[133, 131] as [number, number]] };
  const far = { ...near, box: [160, 160, 100, 100] as [number, number, number, number] };
  assert.ok(boxIoU(near.box, clean.box) > 0.7 && boxIoU(far.box, clean.box) < 0.3);
  assert.deepEqual(landmarksOnDegraded(near, clean), { landmarks: near.landmarks, fallback: false });
  assert.deepEqual(landmarksOnDegraded(far, clean), { landmarks: clean.landmarks, fallback: true });
  assert.deepEqual(landmarksOnDegraded(undefined, clean), { landmarks: clean.landmarks, fallback: true });
  assert.equal(boxIoU([0, 0, 10, 10], [20, 20, 10, 10]), 0);
});

test("data.trunkCache.landmarks defaults to 'clean' and takes only 'clean' or 'detected'", () => {
  const base = TRUNK_CACHE_CONFIG;
  assert.equal(parseTrainConfig(base).data.trunkCache?.landmarks, 'clean');
  const bad = { ...base, data: { ...base.data, trunkCache: { ...base.data.trunkCache, landmarks: 'mesh' } } };
  assert.throws(() => parseTrainConfig(bad), /data\.trunkCache\.landmarks/);
});

test('captureTwins: a JPEG capture of a real photo is warped with the landmarks detected on it; no face found falls back to the clean ones', async (t) => {
  if (!hasLfw()) return t.skip('LFW not found in ../shared/data: the capture-landmark test is skipped');
  const path = lfw('Colin_Powell', 1);
  const { data, info } = await sharp(path).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  const photo: RgbPhoto = { data: new Uint8Array(data), width: info.width, height: info.height };
  const detector = await captureDetector(detectorChoice('onnx'));
  const turbulence = photoTurbulence();
  try {
    const found = await detector.detect(photo);
    assert.ok(found, 'a face on the clean photo');
    const face = { source: relative(LFW, path), box: found.box, landmarks: found.landmarks };
    const chipWith = (p: RgbPhoto, landmarks: [number, number][]) =>
      alignFace(p.data, p.width, p.height, landmarks, { template: 'dlib', size: 150 }).pixels;
    const hq = chipWith(photo, face.landmarks);
    const sample = {
      path: `${dirname(face.source)}/chip.png`,
      bytes: await sharp(hq, { raw: { width: 150, height: 150, channels: 3 } })
        .png()
        .toBuffer(),
    };
    const draw = { jpegQuality: 10, seed: 7 };
    const captured = await capturePhoto(photo, draw, face.box[2], turbulence);
    const onCapture = await detector.detect(captured);
    assert.ok(onCapture && boxIoU(onCapture.box, face.box) >= 0.3, 'the face is found on the JPEG capture');
    assert.notDeepEqual(onCapture.landmarks, face.landmarks, 'JPEG moves the detected landmarks');

    const detected = await captureTwins(sample, face, LFW, [draw], 150, turbulence, detector.detect);
    assert.deepEqual(detected.hq, hq);
    assert.equal(detected.fallbacks, 0);
    assert.deepEqual(detected.lq[0], chipWith(captured, onCapture.landmarks));

    const clean = await captureTwins(sample, face, LFW, [draw], 150, turbulence);
    assert.deepEqual(clean.lq[0], chipWith(captured, face.landmarks));
    assert.notDeepEqual(clean.lq[0], detected.lq[0]);

    const nothing = await captureTwins(sample, face, LFW, [draw, draw], 150, turbulence, async () => undefined);
    assert.equal(nothing.fallbacks, 2);
    assert.deepEqual(nothing.lq[0], clean.lq[0]);
  } finally {
    await detector.dispose();
    turbulence.dispose();
  }
});
