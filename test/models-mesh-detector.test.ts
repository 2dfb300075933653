// BlazeFace + FaceMesh on libtorch against the same networks in @vladmandic/human on tfjs-wasm: TF's resamplers
// and both raw networks on a synthetic image (no data needed), then whole detections (boxes, 5 landmarks,
// scores) on real LFW photos and on a canvas with a face cut by the border and a small one; the tfjs weight
// formats they need; and FaceRecognizer with each detector.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import { FaceDetector, fivePointsFromMesh } from '../src/data/align/detect.js';
import { decodePhoto, type RgbImage } from '../src/data/decode.js';
import { BLAZEFACE_INPUT_SIZE, blazeFaceAnchors, nonMaxSuppression } from '../src/models/blazeface.js';
import { FACE_MESH_INPUT_SIZE } from '../src/models/face-mesh.js';
import { MeshFaceDetector } from '../src/models/mesh-face-detector.js';
import { cropAndResize, resizeBilinear } from '../src/models/tf-image.js';
import { TfjsGraph } from '../src/models/tfjs-graph.js';
import { parseTfjsWeights, type TfjsManifest } from '../src/models/tfjs-weights.js';
import { FaceRecognizer } from '../src/serve/face-recognizer.js';
import * as torch from '../src/torch/index.js';
import { hasLfw, LFW, lfw } from './helpers/photo-fixtures.js';
import { writeTinyModel } from './helpers/tiny-model.js';

// The members of Human's bundled tfjs used as the reference.
interface TfTensor {
  dataSync(): Float32Array;
  dispose(): void;
}
interface Tf {
  tensor4d(values: Float32Array, shape: number[]): TfTensor;
  image: {
    resizeBilinear(x: TfTensor, size: [number, number]): TfTensor;
    cropAndResize(x: TfTensor, boxes: number[][], indices: number[], size: [number, number]): TfTensor;
  };
  div(x: TfTensor, y: number): TfTensor;
  sub(x: TfTensor, y: number): TfTensor;
}
interface GraphModel {
  execute(x: TfTensor, outputs: string[]): TfTensor[];
}
interface Human {
  tf: Tf;
  models: { models: { blazeface: GraphModel; facemesh: GraphModel } };
}

const MIN_SCORE = 0.3;
let human: FaceDetector;
let tf: Tf;
let models: Human['models']['models'];
let ours: MeshFaceDetector;
let work: string;

before(async () => {
  human = await FaceDetector.create({ maxFaces: 20, minScore: MIN_SCORE });
  const h = (human as unknown as { human: Human }).human; // its Human instance: the tfjs reference
  tf = h.tf;
  models = h.models.models;
  ours = MeshFaceDetector.load();
  work = mkdtempSync(join(tmpdir(), 'catface-mesh-'));
});

after(() => {
  ours?.dispose();
  rmSync(work, { recursive: true, force: true });
});

/** A deterministic picture with smooth and sharp structure (gradients, a disc, seeded noise), H×W×3 uint8. */
function syntheticImage(width: number, height: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  let seed = 7;
  const noise = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return (seed / 2 ** 31) * 40;
  };
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const disc = (x - width / 2) ** 2 + (y - height / 2) ** 2 < (Math.min(width, height) / 3) ** 2 ? 90 : 0;
      const i = (y * width + x) * 3;
      data[i] = Math.min(255, (200 * x) / width + disc * 0.5 + noise());
      data[i + 1] = Math.min(255, (200 * y) / height + noise());
      data[i + 2] = Math.min(255, 120 + disc + noise());
    }
  return { data, width, height };
}

/** NHWC tfjs tensor and NCHW libtorch tensor of the same pixels. */
function both(image: RgbImage): { ref: TfTensor; mine: torch.Tensor } {
  const floats = Float32Array.from(image.data);
  return {
    ref: tf.tensor4d(floats, [1, image.height, image.width, 3]),
    mine: torch.fromTypedArray(floats, [1, image.height, image.width, 3]).permute(0, 3, 1, 2),
  };
}

/** Largest |a − b| between a tfjs NHWC result and a libtorch NCHW one (or flat outputs). */
function maxDiff(ref: TfTensor, mine: torch.Tensor, nchw = true): number {
  const a = ref.dataSync();
  const b = (nchw ? mine.permute(0, 2, 3, 1).contiguous() : mine).dataSync() as Float32Array;
  assert.equal(a.length, b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

test("TF's resizeBilinear and cropAndResize (box partly outside) equal tfjs within 0.01 on 0–255 pixels", (t) => {
  for (const [w, h] of [
    [250, 250], // upsampled to 256: the last row and column clamp to the border
    [640, 427], // downsampled
  ]) {
    const { ref, mine } = both(syntheticImage(w, h));
    const resized = maxDiff(tf.image.resizeBilinear(ref, [BLAZEFACE_INPUT_SIZE, BLAZEFACE_INPUT_SIZE]), resizeBilinear(mine, 256, 256));
    const box = [-0.1, 0.3, 0.7, 1.15]; // y1, x1, y2, x2: off the top and the right
    const size: [number, number] = [FACE_MESH_INPUT_SIZE, FACE_MESH_INPUT_SIZE];
    const cropped = maxDiff(
      tf.image.cropAndResize(ref, [box], [0], size),
      cropAndResize(mine, box as [number, number, number, number], 192, 192),
    );
    t.diagnostic(`${w}×${h}: resize max |Δ| ${resized.toExponential(1)}, crop max |Δ| ${cropped.toExponential(1)}`);
    // grid_sample's float32 positions are ~1e-5 px off TF's; on this noisy image that moves a pixel by ~3e-3
    assert.ok(resized <= 1e-2 && cropped <= 1e-2, `resize ${resized}, crop ${cropped}`);
  }
});

test('BlazeFace and FaceMesh networks equal tfjs on the same input (synthetic image)', (t) => {
  const { ref, mine } = both(syntheticImage(256, 256));
  const refIn = tf.sub(tf.div(ref, 127.5), 1);
  const mineIn = mine.div(127.5).sub(1);
  const names = ['Identity', 'Identity_1', 'Identity_2', 'Identity_3'];
  const refOut = models.blazeface.execute(refIn, names);
  const mineOut = ours.graphs.blazeFace.run(mineIn, names);
  for (let i = 0; i < names.length; i++) {
    const d = maxDiff(refOut[i], mineOut[i], false);
    t.diagnostic(`blazeface ${names[i]} [${mineOut[i].shape}]: max |Δ| ${d.toExponential(1)}`);
    assert.ok(d <= 1e-3, `${names[i]}: ${d}`);
  }
  const crop = both(syntheticImage(192, 192));
  const meshNames = ['Identity', 'Identity_1', 'Identity_2']; // contours, face flag, mesh (crop pixels)
  const refMesh = models.facemesh.execute(tf.div(crop.ref, 255), meshNames);
  const mineMesh = ours.graphs.faceMesh.run(crop.mine.div(255), meshNames);
  for (let i = 0; i < meshNames.length; i++) {
    const d = maxDiff(refMesh[i], mineMesh[i], false);
    t.diagnostic(`facemesh ${meshNames[i]} [${mineMesh[i].shape}]: max |Δ| ${d.toExponential(1)}`);
    assert.ok(d <= 1e-3, `${meshNames[i]}: ${d}`);
  }
  for (const x of [...refOut, ...refMesh, ref, refIn, crop.ref]) x.dispose();
  torch.dispose([...mineOut, ...mineMesh, mine, mineIn, crop.mine]);
});

test('anchors and non-maximum suppression follow Human and tfjs', () => {
  const anchors = blazeFaceAnchors();
  assert.equal(anchors.length, 896);
  assert.deepEqual(anchors.slice(0, 3), [
    [8, 8],
    [8, 8],
    [24, 8],
  ]);
  assert.deepEqual(anchors[512], [16, 16]); // the 8×8 grid (stride 32, 6 per cell) follows the 16×16 one
  const boxes = [
    [0, 0, 10, 10],
    [1, 1, 11, 11], // IoU 0.68 with the first: suppressed
    [20, 20, 30, 30],
    [0, 0, 10, 10.5], // better score than the first
  ];
  assert.deepEqual(nonMaxSuppression(boxes, [0.9, 0.8, 0.5, 0.95], 10, 0.1, 0.3), [3, 2]);
  assert.deepEqual(nonMaxSuppression(boxes, [0.9, 0.8, 0.5, 0.95], 1, 0.1, 0.3), [3]);
  assert.deepEqual(nonMaxSuppression(boxes, [0.9, 0.8, 0.3, 0.2], 10, 0.1, 0.3), [0]); // scores ≤ 0.3 never kept
});

interface Compared {
  faces: number;
  minIou: number;
  maxLandmarkPx: number;
  maxScoreDiff: number;
}

const iouOf = (a: number[], b: number[]) => {
  const w = Math.max(0, Math.min(a[0] + a[2], b[0] + b[2]) - Math.max(a[0], b[0]));
  const h = Math.max(0, Math.min(a[1] + a[3], b[1] + b[3]) - Math.max(a[1], b[1]));
  return (w * h) / (a[2] * a[3] + b[2] * b[3] - w * h);
};

async function compare(image: RgbImage, what: string, into: Compared): Promise<void> {
  const expected = await human.detect(image.data, image.width, image.height);
  const got = await ours.detect(image.data, image.width, image.height, { minScore: MIN_SCORE, maxFaces: 20 });
  assert.equal(got.length, expected.length, `${what}: ${got.length} faces, Human found ${expected.length}`);
  for (let i = 0; i < got.length; i++) {
    const landmarks = fivePointsFromMesh(got[i].mesh);
    into.faces++;
    into.minIou = Math.min(into.minIou, iouOf(got[i].box, expected[i].box));
    for (let k = 0; k < 5; k++)
      into.maxLandmarkPx = Math.max(
        into.maxLandmarkPx,
        Math.hypot(landmarks[k][0] - expected[i].landmarks[k][0], landmarks[k][1] - expected[i].landmarks[k][1]),
      );
    into.maxScoreDiff = Math.max(into.maxScoreDiff, Math.abs(got[i].score - expected[i].score));
  }
}

test('detections equal Human on LFW photos and a two-face canvas (IoU ≥ 0.95, landmarks ≤ 1 px, scores)', async (t) => {
  if (!hasLfw()) return t.skip('LFW not found in ../shared/data: detection parity on real photos skipped');
  const people = readdirSync(LFW)
    .filter((p) => !p.includes('.'))
    .sort();
  const photos = Array.from({ length: 8 }, (_, i) => people[Math.floor((i * people.length) / 8)]).map((p) => lfw(p, 1));
  const stats: Compared = { faces: 0, minIou: 1, maxLandmarkPx: 0, maxScoreDiff: 0 };
  for (const photo of photos) await compare((await decodePhoto(readFileSync(photo), photo)).full, photo, stats);
  // A 700×460 canvas (BlazeFace downsamples): a face enlarged to 320 px and cut by the right border, a 100-px one.
  const face = (p: string, size: number) => sharp(p).extract({ left: 50, top: 50, width: 150, height: 150 }).resize(size, size).toBuffer();
  const canvas = join(work, 'canvas.png');
  await sharp({ create: { width: 700, height: 460, channels: 3, background: '#b4b4b4' } })
    .composite([
      { input: await face(photos[0], 320), left: 460, top: 60 },
      { input: await face(photos[1], 100), left: 60, top: 200 },
    ])
    .png()
    .toFile(canvas);
  const before = stats.faces;
  await compare((await decodePhoto(readFileSync(canvas), canvas)).full, 'canvas', stats);
  assert.ok(stats.faces - before >= 1, 'the canvas has faces to compare');
  t.diagnostic(
    `${stats.faces} faces: min IoU ${stats.minIou.toFixed(4)}, max landmark distance ${stats.maxLandmarkPx.toFixed(2)} px, ` +
      `max |score − Human's| ${stats.maxScoreDiff.toExponential(1)}`,
  );
  assert.ok(stats.faces >= photos.length, `${stats.faces} faces in ${photos.length} photos`);
  assert.ok(stats.minIou >= 0.95, `IoU ${stats.minIou}`);
  assert.ok(stats.maxLandmarkPx <= 1, `landmarks ${stats.maxLandmarkPx} px apart`);
  assert.ok(stats.maxScoreDiff <= 1e-3, `scores ${stats.maxScoreDiff} apart`);
});

test('tfjs weights: float16 storage and int32 constants decode; a truncated shard is refused', () => {
  const manifest: TfjsManifest = [
    {
      paths: ['w.bin'],
      weights: [
        { name: 'half', shape: [3], dtype: 'float32', quantization: { dtype: 'float16' } },
        { name: 'shape', shape: [2], dtype: 'int32' },
      ],
    },
  ];
  const bytes = new Uint8Array(new Uint16Array([0x3c00, 0xc000, 0x3555]).buffer).slice(); // 1, −2, 0.33325
  const ints = new Uint8Array(new Int32Array([-1, 1404]).buffer);
  const w = parseTfjsWeights(manifest, new Map([['w.bin', new Uint8Array([...bytes, ...ints])]]));
  const half = w.get('half')?.toArray() as number[];
  assert.deepEqual(half.slice(0, 2), [1, -2]);
  assert.ok(Math.abs(half[2] - 0.33325) < 1e-5);
  assert.equal(w.get('shape')?.dtype, 'int32');
  assert.deepEqual(w.get('shape')?.toArray(), [-1, 1404]);
  torch.dispose([...w.values()]);
  assert.throws(() => parseTfjsWeights(manifest, new Map([['w.bin', bytes]])), /shards end before weight 'shape'/);
});

test('FaceRecognizer: the onnx (default), libtorch and Human detectors find the same face on an LFW photo', async (t) => {
  if (!hasLfw()) return t.skip('LFW not found in ../shared/data: skipped');
  const dir = join(work, 'model');
  writeTinyModel(dir);
  const photo = lfw('Colin_Powell', 1);
  const results = [];
  for (const detector of [undefined, 'libtorch', 'human'] as const) {
    const recognizer = await FaceRecognizer.open(dir, { detector });
    results.push((await recognizer.detect(photo)).faces);
    await recognizer.close();
  }
  assert.equal(results[0].length, 1);
  assert.deepEqual(results[0], results[1]);
  assert.deepEqual(results[1], results[2]);
});

test('a tfjs graph with an op it does not implement is refused at load, naming the op', () => {
  const json = {
    modelTopology: {
      node: [
        { name: 'input', op: 'Placeholder' },
        { name: 'soft', op: 'Softmax', input: ['input'] },
      ],
    },
    weightsManifest: [],
  };
  assert.throws(() => TfjsGraph.fromJson(json, new Map(), 'toy.json'), /toy\.json: op Softmax \(soft\) is not supported/);
});
