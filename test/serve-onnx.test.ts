// `catface serve --backend onnx`: the same service with the model's forward on onnxruntime. On real photos its
// answers equal the libtorch backend's (same boxes, embeddings and quality within 1e-4), and the gallery works
// through it, with the shipped model.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Service } from '../src/serve/http/service.js';
import { hasLfw, lfw } from './helpers/photo-fixtures.js';
import { auth, type Fixture, form, makeFixture, readPhoto, startTestService } from './helpers/serve-fixture.js';

const DEFAULT_MODEL = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'models', 'default');
const skip = !hasLfw() ? 'LFW not found in ../shared/data' : !existsSync(DEFAULT_MODEL) ? 'models/default is absent' : false;

let fixture: Fixture;
let onnx: Service;
let libtorch: Service;

before(async () => {
  if (skip) return;
  fixture = makeFixture('catface-serve-onnx-');
  const pool = { modelDir: DEFAULT_MODEL, recognizer: { maxPixels: 20_000_000, threads: 1 } };
  onnx = await startTestService(fixture, { pool: { ...pool, backend: 'onnx' } });
  libtorch = await startTestService({ ...fixture, galleryFile: join(fixture.work, 'libtorch.sqlite') }, { pool });
});

after(async () => {
  await onnx?.close();
  await libtorch?.close();
  fixture?.cleanup();
});

const post = (service: Service, path: string, body: BodyInit, headers: Record<string, string> = {}) =>
  fetch(`${service.url}${path}`, { method: 'POST', body, headers });

test('analyze through the onnx backend gives the libtorch backend’s faces, embeddings and quality', { skip }, async () => {
  for (const [name, i] of [
    ['Abdullah_Gul', 1],
    ['Colin_Powell', 1],
  ] as const) {
    const photo = readPhoto(lfw(name, i));
    const [a, b] = await Promise.all([onnx, libtorch].map(async (s) => (await post(s, '/v1/analyze', form({ photo }))).json()));
    assert.equal(a.faces.length, b.faces.length);
    const [fa, fb] = [a.faces[0], b.faces[0]];
    assert.deepEqual(fa.box, fb.box);
    assert.equal(fa.embedding, undefined, 'analyze does not return embeddings');
    assert.ok(Math.abs(fa.quality - fb.quality) <= 1e-4 * Math.max(1, fb.quality), `quality ${fa.quality} vs ${fb.quality}`);
    for (const key of Object.keys(fb.attributes)) assert.ok(Math.abs(fa.attributes[key] - fb.attributes[key]) <= 1e-4);
    const [ea, eb] = await Promise.all(
      [onnx, libtorch].map(
        async (s) => (await (await post(s, '/v1/embed', photo, { 'content-type': 'image/jpeg' })).json()).faces[0].embedding,
      ),
    );
    assert.equal(ea.length, 128);
    const worst = Math.max(...ea.map((v: number, j: number) => Math.abs(v - eb[j])));
    assert.ok(worst <= 1e-4, `${name}: embedding max abs difference ${worst}`);
  }
});

test('verify, enrol and identify work on the onnx backend', { skip }, async () => {
  const [gul1, gul2, powell] = [lfw('Abdullah_Gul', 1), lfw('Abdullah_Gul', 2), lfw('Colin_Powell', 1)].map(readPhoto);
  const same = await (await post(onnx, '/v1/verify', form({ a: gul1, b: gul2 }))).json();
  const ref = await (await post(libtorch, '/v1/verify', form({ a: gul1, b: gul2 }))).json();
  assert.ok(Math.abs(same.similarity - ref.similarity) <= 1e-4, `similarity ${same.similarity} vs ${ref.similarity}`);
  assert.equal(same.same, ref.same);
  assert.equal((await post(onnx, '/v1/identities/Gul/faces', form({ photo: gul1 }), auth)).status, 201);
  assert.equal((await post(onnx, '/v1/identities/Powell/faces', form({ photo: powell }), auth)).status, 201);
  const found = await (await post(onnx, '/v1/identify?k=2', form({ photo: gul2 }))).json();
  assert.equal(found.identity, 'Gul', JSON.stringify(found.matches));
  assert.deepEqual(
    found.matches.map((m: { id: string }) => m.id),
    ['Gul', 'Powell'],
  );
  assert.ok(Math.abs(found.score - same.similarity) <= 1e-4, 'Gul 2 scores its similarity to the enrolled Gul 1');
  const health = await (await fetch(`${onnx.url}/v1/health`)).json();
  assert.deepEqual([health.gallery.identities, health.gallery.faces], [2, 2]);
});
