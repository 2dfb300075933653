// The photo pipeline on onnxruntime (its default) against libtorch: BlazeFace and FaceMesh exported from their
// tfjs graphs (TfjsGraph.toOnnx) give libtorch's raw outputs; the whole detection (one shared post-processing)
// gives the same faces on Human's sample photos (many faces each) and on LFW photos; and the model's onnx
// backend gives libtorch's embeddings on the same aligned crops.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { decodePhoto, type RgbImage } from '../src/data/decode.js';
import { BLAZEFACE_INPUT_SIZE, BLAZEFACE_OUTPUTS } from '../src/models/blazeface.js';
import { FACE_MESH_INPUT_SIZE, FACE_MESH_OUTPUTS } from '../src/models/face-mesh.js';
import { MeshFaceDetector, type MeshNetworks } from '../src/models/mesh-face-detector.js';
import { MeshDetector } from '../src/serve/face-detectors.js';
import { FaceModel } from '../src/serve/face-model.js';
import { alignForModel } from '../src/serve/face-recognizer.js';
import { OnnxMeshNetworks } from '../src/serve/onnx-face-detector.js';
import { OnnxFaceModel } from '../src/serve/onnx-face-model.js';
import * as torch from '../src/torch/index.js';
import { hasLfw, LFW } from './helpers/photo-fixtures.js';

const DEFAULT_MODEL = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'models', 'default');
const HUMAN_ASSETS = join(dirname(createRequire(import.meta.url).resolve('@vladmandic/human')), '..', 'assets');
const SAMPLES = ['samples.jpg', 'screenshot-facedetect.jpg', 'screenshot-faceid.jpg', 'screenshot-facematch.jpg'].map((f) =>
  join(HUMAN_ASSETS, f),
);
const OPTIONS = { minScore: 0.3, maxFaces: 20, maxSide: 1024 };

let torchNets: MeshFaceDetector;
let onnxNets: OnnxMeshNetworks;
let detectors: { torch: MeshDetector; onnx: MeshDetector };

before(async () => {
  torchNets = MeshFaceDetector.load();
  onnxNets = await OnnxMeshNetworks.open(1);
  detectors = { torch: await MeshDetector.create('libtorch', OPTIONS), onnx: await MeshDetector.create('onnx', OPTIONS, 1) };
});

after(async () => {
  torchNets?.dispose();
  await onnxNets?.dispose();
  await detectors?.torch.dispose();
  await detectors?.onnx.dispose();
});

/** A seeded NCHW input with values in [lo, hi]. */
function input(shape: number[], lo: number, hi: number, seed: number): torch.Tensor {
  let s = seed;
  const values = Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return lo + ((hi - lo) * s) / 2 ** 31;
  });
  return torch.fromTypedArray(values, shape);
}

async function maxRawDiff(network: keyof MeshNetworks, x: torch.Tensor, outputs: readonly string[]): Promise<number> {
  const [a, b] = [await torchNets[network](x, outputs), await onnxNets[network](x, outputs)];
  let worst = 0;
  outputs.forEach((_, i) => {
    assert.equal(a[i].length, b[i].length, `${network} ${outputs[i]}: sizes`);
    for (let k = 0; k < a[i].length; k++) worst = Math.max(worst, Math.abs(a[i][k] - b[i][k]));
  });
  return worst;
}

test('BlazeFace and FaceMesh on onnxruntime give libtorch’s raw outputs (noise and a real photo, a batch of 3 crops)', async (t) => {
  const photo = (await decodePhoto(readFileSync(SAMPLES[0]), SAMPLES[0])).full;
  const hwc = torch.fromTypedArray(photo.data, [1, photo.height, photo.width, 3]);
  const nchw = hwc.permute(0, 3, 1, 2).float();
  const real = nchw.div(127.5).sub(1);
  const blazeIn = [
    input([1, 3, BLAZEFACE_INPUT_SIZE, BLAZEFACE_INPUT_SIZE], -1, 1, 7),
    torch.F.interpolate(real, { size: [256, 256], mode: 'bilinear' }),
  ];
  const photoCrop = torch.F.interpolate(nchw, { size: [FACE_MESH_INPUT_SIZE, FACE_MESH_INPUT_SIZE], mode: 'bilinear' });
  const meshIn = [input([3, 3, FACE_MESH_INPUT_SIZE, FACE_MESH_INPUT_SIZE], 0, 1, 11), photoCrop.div(255)];
  let worst = 0;
  for (const x of blazeIn) {
    const d = await maxRawDiff('blazeFace', x, BLAZEFACE_OUTPUTS);
    t.diagnostic(`blazeface: max |Δ| ${d.toExponential(1)}`);
    worst = Math.max(worst, d);
  }
  for (const x of meshIn) {
    const d = await maxRawDiff('faceMesh', x, FACE_MESH_OUTPUTS);
    t.diagnostic(`facemesh (flag, mesh) [${x.shape}]: max |Δ| ${d.toExponential(1)}`);
    worst = Math.max(worst, d);
  }
  torch.dispose([hwc, nchw, real, photoCrop, ...blazeIn, ...meshIn]);
  assert.ok(worst <= 5e-4, `raw outputs ${worst} apart`);
});

interface Agreement {
  photos: number;
  faces: number;
  maxPx: number;
  maxScore: number;
}

/** Both detectors on one image: the same number of faces, boxes and landmarks within 1 px, scores within 0.01. */
async function agree(image: RgbImage, what: string, into: Agreement): Promise<void> {
  const [a, b] = [
    await detectors.torch.detect(image.data, image.width, image.height),
    await detectors.onnx.detect(image.data, image.width, image.height),
  ];
  assert.equal(b.length, a.length, `${what}: onnx found ${b.length} faces, libtorch ${a.length}`);
  into.photos++;
  for (let i = 0; i < a.length; i++) {
    into.faces++;
    for (let k = 0; k < 4; k++) into.maxPx = Math.max(into.maxPx, Math.abs(a[i].box[k] - b[i].box[k]));
    for (let k = 0; k < 5; k++)
      into.maxPx = Math.max(
        into.maxPx,
        Math.hypot(a[i].landmarks[k][0] - b[i].landmarks[k][0], a[i].landmarks[k][1] - b[i].landmarks[k][1]),
      );
    into.maxScore = Math.max(into.maxScore, Math.abs(a[i].score - b[i].score));
  }
}

const checkAgreement = (t: { diagnostic(s: string): void }, s: Agreement) => {
  t.diagnostic(
    `${s.photos} photos, ${s.faces} faces: max box/landmark distance ${s.maxPx.toFixed(3)} px, max |Δ score| ${s.maxScore.toFixed(3)}`,
  );
  assert.ok(s.maxPx <= 1, `faces ${s.maxPx} px apart`);
  assert.ok(s.maxScore <= 0.01, `scores ${s.maxScore} apart`);
};

test('onnx and libtorch detectors find the same faces on Human’s sample photos (≤ 1 px, ≤ 0.01 score)', async (t) => {
  const stats: Agreement = { photos: 0, faces: 0, maxPx: 0, maxScore: 0 };
  for (const path of SAMPLES) await agree((await decodePhoto(readFileSync(path), path, { detectionSide: 1024 })).small, path, stats);
  checkAgreement(t, stats);
  assert.ok(stats.faces >= 10, `only ${stats.faces} faces in Human's samples`);
});

/** 40 LFW photos, one per person spread over the people in name order. */
function lfwPhotos(): string[] {
  const people = readdirSync(LFW)
    .filter((p) => !p.includes('.'))
    .sort();
  return Array.from({ length: 40 }, (_, i) => people[Math.floor((i * people.length) / 40)]).map((p) => {
    const first = readdirSync(join(LFW, p))
      .filter((f) => f.endsWith('.jpg'))
      .sort()[0];
    return join(LFW, p, first);
  });
}

test('onnx and libtorch detectors find the same faces on 40 LFW photos (≤ 1 px, ≤ 0.01 score)', async (t) => {
  if (!hasLfw()) return t.skip('LFW not found in ../shared/data: the LFW comparison is skipped');
  const stats: Agreement = { photos: 0, faces: 0, maxPx: 0, maxScore: 0 };
  for (const path of lfwPhotos()) await agree((await decodePhoto(readFileSync(path), path)).full, path, stats);
  checkAgreement(t, stats);
  assert.ok(stats.faces >= 40, `only ${stats.faces} faces in 40 LFW photos`);
});

test('the shipped model on onnxruntime gives libtorch’s embeddings on the same aligned crops (cosine > 0.9999)', async (t) => {
  if (!existsSync(DEFAULT_MODEL)) return t.skip('models/default is absent');
  const libtorch = FaceModel.load(DEFAULT_MODEL);
  const onnx = await OnnxFaceModel.open(DEFAULT_MODEL, { threads: 1 });
  try {
    const crops: Uint8Array[] = [];
    const images = hasLfw() ? lfwPhotos().slice(0, 12) : SAMPLES;
    for (const path of images) {
      const image = (await decodePhoto(readFileSync(path), path)).full;
      for (const face of await detectors.onnx.detect(image.data, image.width, image.height))
        crops.push(alignForModel(image, face.landmarks, onnx.alignment));
    }
    assert.ok(crops.length >= 8, `${crops.length} crops`);
    const [a, b] = [await libtorch.analyzeCrops(crops), await onnx.analyzeCrops(crops)];
    let worst = 1;
    let quality = 0;
    for (let i = 0; i < crops.length; i++) {
      let [dot, na, nb] = [0, 0, 0];
      for (let k = 0; k < a[i].embedding.length; k++) {
        dot += a[i].embedding[k] * b[i].embedding[k];
        na += a[i].embedding[k] ** 2;
        nb += b[i].embedding[k] ** 2;
      }
      worst = Math.min(worst, dot / Math.sqrt(na * nb));
      quality = Math.max(quality, Math.abs(a[i].quality - b[i].quality));
    }
    t.diagnostic(`${crops.length} crops: min cosine ${worst.toFixed(6)}, max |Δ quality| ${quality.toExponential(1)}`);
    assert.ok(worst > 0.9999, `cosine ${worst}`);
  } finally {
    libtorch.dispose();
    await onnx.close();
  }
});
