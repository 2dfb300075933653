// The dlib ResNet-34 descriptor ported from face-api.js's npm weights gives face-api's own descriptors (run on
// tfjs's wasm backend, offline) within 1e-4 on the same 150×150 crops of ORL faces.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { pixelsToNormalized } from '../src/common/image-convention.js';
import { faceApiEmbedder } from '../src/eval/peer-faceapi.js';
import { dlibToMultiBranch } from '../src/models/dlib-multi-branch.js';
import { DLIB_INPUT_SIZE, DlibResNet, loadFaceApiDlibResNet } from '../src/models/dlib-resnet.js';
import { createMultiBranchNet } from '../src/models/multi-branch.js';
import { parseTfjsWeights, type TfjsManifest } from '../src/models/tfjs-weights.js';
import * as torch from '../src/torch/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const ORL = join(here, '..', '..', '..', 'shared', 'data', 'orl');

/** A 150×150 RGB crop (HWC bytes) of an ORL face: the 92×112 greyscale image stretched, grey in all channels. */
async function crop(file: string): Promise<Uint8Array> {
  const { data } = await sharp(file)
    .resize(DLIB_INPUT_SIZE, DLIB_INPUT_SIZE, { fit: 'fill' })
    .toColourspace('srgb')
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  assert.equal(data.length, DLIB_INPUT_SIZE * DLIB_INPUT_SIZE * 3);
  return new Uint8Array(data);
}

test('dlib ResNet descriptors equal face-api.js on ORL crops within 1e-4', async (t) => {
  if (!existsSync(ORL)) return t.skip(`ORL data not found at ${ORL}: descriptor parity skipped`);
  const files = ['s1/1.png', 's1/2.png', 's2/1.png', 's3/5.png'].map((f) => join(ORL, f));
  const crops = await Promise.all(files.map(crop));
  const peer = await faceApiEmbedder();
  const expected = await peer.embed(crops);
  const model = loadFaceApiDlibResNet();
  const s = DLIB_INPUT_SIZE;
  const ours = torch.tidy(() => {
    const batch = torch.stack(crops.map((c) => torch.fromTypedArray(c, [s, s, 3]).permute(2, 0, 1).float()));
    return torch.noGrad(() => model.forward(batch));
  });
  assert.deepEqual(ours.shape, [4, 128]);
  const got = ours.dataSync() as Float32Array;
  let maxDiff = 0;
  for (let i = 0; i < got.length; i++) maxDiff = Math.max(maxDiff, Math.abs(got[i] - expected.embeddings[i]));
  assert.ok(maxDiff <= 1e-4, `max |ours − face-api| = ${maxDiff}`);
  t.diagnostic(`max |ours − face-api| = ${maxDiff.toExponential(2)} over ${got.length} values`);
});

test('tfjs weight manifests are checked', () => {
  const manifest: TfjsManifest = [
    { paths: ['a.bin'], weights: [{ name: 'w', shape: [2], dtype: 'float32', quantization: { dtype: 'uint8', scale: 0.5, min: -1 } }] },
  ];
  const w = parseTfjsWeights(manifest, new Map([['a.bin', new Uint8Array([0, 4])]]));
  assert.deepEqual(w.get('w')?.toArray(), [-1, 1]);
  assert.throws(() => parseTfjsWeights(manifest, new Map()), /shard 'a\.bin' is missing/);
  assert.throws(() => parseTfjsWeights(manifest, new Map([['a.bin', new Uint8Array([0, 4, 1])]])), /1 bytes left after the last weight/);
  assert.throws(() => new DlibResNet().forward(torch.zeros([1, 3, 112, 112])), /expected RGB crops \[B, 3, 150, 150\]/);
});

test('the dlib backbone of the multi-branch network gives the standalone descriptor with dlib weights loaded', async (t) => {
  if (!existsSync(ORL)) return t.skip(`ORL data not found at ${ORL}: backbone parity skipped`);
  const crops = await Promise.all(['s1/1.png', 's4/3.png', 's7/9.png'].map((f) => crop(join(ORL, f))));
  const dlib = loadFaceApiDlibResNet();
  const network = createMultiBranchNet({ backbone: 'dlib', inputSize: DLIB_INPUT_SIZE, embeddingSize: 128, attributes: 1 });
  network.loadStateDict(dlibToMultiBranch(dlib.stateDict()), { strict: false, source: 'dlib' });
  network.eval();
  const s = DLIB_INPUT_SIZE;
  const [expected, got] = torch.tidy(() =>
    torch.noGrad(() => {
      // the network takes what the model directory feeds it (pixelsToNormalized), dlib 0–255 pixels
      const pixels = torch.stack(crops.map((c) => torch.fromTypedArray(c, [s, s, 3]).permute(2, 0, 1).float()));
      const out = network.forward(pixelsToNormalized(crops, s));
      return [dlib.forward(pixels), out.embedding.mul(out.norm)];
    }),
  );
  const a = expected.dataSync() as Float32Array;
  const b = got.dataSync() as Float32Array;
  let maxDiff = 0;
  for (let i = 0; i < a.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a[i] - b[i]));
  assert.ok(maxDiff <= 1e-6, `max |backbone − dlib| = ${maxDiff}`);
  t.diagnostic(`max |backbone − dlib| = ${maxDiff.toExponential(2)}`);
});
