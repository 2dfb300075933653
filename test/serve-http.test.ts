// The HTTP service end to end on loopback: recognition on real photos, the gallery API with its tokens,
// OpenAPI, metrics, readiness, back-pressure and graceful shutdown. Uses the tiny random model, so the
// assertions are about the service's behaviour and arithmetic, not recognition accuracy.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Gallery } from '../src/serve/gallery.js';
import { buildApp } from '../src/serve/http/app.js';
import { TokenAuth } from '../src/serve/http/auth.js';
import type { Service } from '../src/serve/http/service.js';
import { hasLfw, lfw, noFacePhoto } from './helpers/photo-fixtures.js';
import { auth, type Fixture, form, makeFixture, readPhoto, startTestService } from './helpers/serve-fixture.js';
import { TINY_ATTRIBUTES } from './helpers/tiny-model.js';

const NO_LFW = 'LFW not found in ../shared/data: real-photo checks skipped';
let fixture: Fixture;
let service: Service;
let noFace: Uint8Array<ArrayBuffer>;

before(async () => {
  fixture = makeFixture('catface-http-');
  const path = join(fixture.work, 'gradient.png');
  await noFacePhoto(path);
  noFace = readPhoto(path);
  service = await startTestService(fixture);
});

after(async () => {
  await service?.close();
  fixture?.cleanup();
});

const post = (path: string, body: BodyInit, headers: Record<string, string> = {}) =>
  fetch(`${service.url}${path}`, { method: 'POST', body, headers });

test('analyze, embed and verify on real photos: boxes inside the photo, unit embeddings, the model threshold', async (t) => {
  if (!hasLfw()) return t.skip(NO_LFW);
  const gul = readPhoto(lfw('Abdullah_Gul', 1));
  const analyzed = await (await post('/v1/analyze', form({ photo: gul }))).json();
  assert.equal(analyzed.width, 250);
  assert.ok(analyzed.faces.length >= 1);
  const [x, y, w, h] = analyzed.faces[0].box;
  assert.ok(x >= 0 && y >= 0 && x + w <= 250 && y + h <= 250 && w > 50, `box ${analyzed.faces[0].box}`);
  assert.deepEqual(Object.keys(analyzed.faces[0].attributes).sort(), [...TINY_ATTRIBUTES].sort());
  assert.ok(analyzed.faces[0].quality > 0);
  // Raw body upload: the same photo as image/jpeg.
  const embedded = await (await post('/v1/embed', gul, { 'content-type': 'image/jpeg' })).json();
  assert.equal(embedded.faces.length, 1);
  assert.equal(embedded.faces[0].embedding.length, 32);
  assert.ok(Math.abs(Math.hypot(...embedded.faces[0].embedding) - 1) < 1e-4);
  assert.deepEqual(embedded.faces[0].box, analyzed.faces[0].box);
  const same = await (await post('/v1/verify', form({ a: gul, b: gul }))).json();
  assert.ok(Math.abs(same.similarity - 1) < 1e-4, `self-similarity ${same.similarity}`);
  assert.equal(same.threshold, 0.5);
  assert.equal(same.same, true);
  const strict = await (await post('/v1/verify?threshold=1', form({ a: gul, b: readPhoto(lfw('Colin_Powell', 1)) }))).json();
  assert.equal(strict.same, false);
  assert.equal(strict.threshold, 1);
});

test('no face: 422 with code no_face on every recognition endpoint', async () => {
  for (const [path, body] of [
    ['/v1/analyze', null],
    ['/v1/embed', form({ photo: noFace })],
    ['/v1/identify', form({ photo: noFace })],
    ['/v1/verify', form({ a: noFace, b: noFace })],
  ] as const) {
    if (body === null) {
      const r = await (await post(path, form({ photo: noFace }))).json();
      assert.deepEqual(r.faces, [], 'analyze answers an empty list, not an error');
      continue;
    }
    const response = await post(path, body);
    assert.equal(response.status, 422, path);
    assert.equal((await response.json()).error.code, 'no_face', path);
  }
});

test('gallery: writes need the token; enrol → identify finds the identity; open-set unknown; delete', async (t) => {
  if (!hasLfw()) return t.skip(NO_LFW);
  const gul = readPhoto(lfw('Abdullah_Gul', 1));
  const powell = readPhoto(lfw('Colin_Powell', 1));
  assert.equal((await post('/v1/identities/Abdullah%20G%C3%BCl/faces', form({ photo: gul }))).status, 401);
  assert.equal((await post('/v1/identities/x/faces', form({ photo: gul }), { authorization: 'Bearer wrong' })).status, 403);
  const enrolled = await post('/v1/identities/Abdullah%20G%C3%BCl/faces', form({ photo: gul }, { metadata: '{"team":"a"}' }), auth);
  assert.equal(enrolled.status, 201);
  const body = await enrolled.json();
  assert.equal(body.identity.id, 'Abdullah Gül');
  assert.deepEqual(body.identity.metadata, { team: 'a' });
  assert.equal((await post('/v1/identities/Colin_Powell/faces', form({ photo: powell }), auth)).status, 201);
  const created = await post('/v1/identities', JSON.stringify({ id: 'nobody', metadata: { note: 'no faces' } }), {
    ...auth,
    'content-type': 'application/json',
  });
  assert.equal(created.status, 201);
  const list = await (await fetch(`${service.url}/v1/identities`)).json();
  assert.equal(list.total, 3);
  assert.deepEqual(
    list.identities.map((i: { id: string; faces: number }) => [i.id, i.faces]),
    [
      ['Abdullah Gül', 1],
      ['Colin_Powell', 1],
      ['nobody', 0],
    ],
  );
  const found = await (await post('/v1/identify?k=2', form({ photo: gul }))).json();
  assert.equal(found.identity, 'Abdullah Gül');
  assert.ok(Math.abs(found.score - 1) < 1e-4);
  assert.equal(found.matches.length, 2);
  assert.ok(found.matches[0].score >= found.matches[1].score);
  const unknown = await (await post('/v1/identify?threshold=1', form({ photo: readPhoto(lfw('Serena_Williams', 1)) }))).json();
  assert.equal(unknown.identity, null, 'below the threshold: unknown');
  assert.equal(unknown.matches.length, 2, 'the candidates are still listed');
  const deleted = await fetch(`${service.url}/v1/identities/Colin_Powell`, { method: 'DELETE', headers: auth });
  assert.equal(deleted.status, 200);
  assert.equal((await fetch(`${service.url}/v1/identities/Colin_Powell`)).status, 404);
  const after = await (await post('/v1/identify?k=5', form({ photo: powell }))).json();
  assert.deepEqual(
    after.matches.map((m: { id: string }) => m.id),
    ['Abdullah Gül'],
  );
});

test('writes are refused (403 writes_disabled) when no token is configured', async () => {
  const gallery = Gallery.open(join(fixture.work, 'no-token.sqlite'));
  const app = await buildApp({ pool: () => null, gallery, auth: new TokenAuth([]) });
  const r = await app.inject({ method: 'DELETE', url: '/v1/identities/a', headers: auth });
  assert.equal(r.statusCode, 403);
  assert.equal(r.json().error.code, 'writes_disabled');
  // Not ready: recognition and health answer 503 while the model loads.
  assert.equal((await app.inject({ method: 'GET', url: '/v1/health' })).statusCode, 503);
  const analyze = await app.inject({ method: 'POST', url: '/v1/analyze', payload: noFace, headers: { 'content-type': 'image/png' } });
  assert.equal(analyze.statusCode, 503);
  assert.equal(analyze.json().error.code, 'not_ready');
  await app.close();
  gallery.close();
});

test('health, metrics and the OpenAPI document generated from the routes', async () => {
  const health = await (await fetch(`${service.url}/v1/health`)).json();
  assert.equal(health.status, 'ok');
  assert.equal(health.model.threshold, 0.5);
  const openapi = await (await fetch(`${service.url}/openapi.json`)).json();
  assert.equal(openapi.openapi.slice(0, 2), '3.');
  for (const path of [
    '/v1/verify',
    '/v1/identify',
    '/v1/analyze',
    '/v1/embed',
    '/v1/identities',
    '/v1/identities/{id}',
    '/v1/identities/{id}/faces',
    '/v1/health',
  ])
    assert.ok(openapi.paths[path], `${path} in the OpenAPI document`);
  assert.deepEqual(openapi.paths['/v1/identities/{id}/faces'].post.security, [{ bearer: [] }]);
  assert.equal(openapi.paths['/v1/identify'].post.security, undefined);
  const metrics = await (await fetch(`${service.url}/metrics`)).text();
  assert.match(metrics, /catface_http_requests_total\{method="GET",route="\/v1\/health",status="200"\} \d+/);
  assert.match(metrics, /catface_http_request_duration_seconds_bucket\{route="\/v1\/health",le="\+Inf"\} \d+/);
  assert.match(metrics, /^catface_inference_queue_depth 0$/m);
  const page = await fetch(`${service.url}/`);
  assert.match(page.headers.get('content-type') ?? '', /text\/html/);
  assert.match(await page.text(), /<script type="module" src="\/app.js">/);
});

test('back-pressure: beyond the queue the service answers 429 at once; shutdown drains what it accepted', async () => {
  const small = makeFixture('catface-http-queue-');
  const busy = await startTestService(small, { pool: { maxQueue: 2 } });
  try {
    const responses = await Promise.all(
      Array.from({ length: 12 }, () =>
        fetch(`${busy.url}/v1/analyze`, { method: 'POST', body: noFace, headers: { 'content-type': 'image/png' } }),
      ),
    );
    const statuses = responses.map((r) => r.status);
    assert.ok(statuses.includes(429), `some refused: ${statuses}`);
    assert.ok(statuses.includes(200), `some served: ${statuses}`);
    assert.ok(
      statuses.every((s) => s === 200 || s === 429),
      `${statuses}`,
    );
    const refused = await responses[statuses.indexOf(429)].json();
    assert.equal(refused.error.code, 'overloaded');
    // Graceful stop with requests in flight: each accepted one is answered.
    const inFlight = Array.from({ length: 3 }, () =>
      fetch(`${busy.url}/v1/analyze`, { method: 'POST', body: noFace, headers: { 'content-type': 'image/png' } }).then((r) => r.status),
    );
    const pool = await busy.ready;
    while (pool.queueDepth < 3) await new Promise((r) => setTimeout(r, 5)); // all three accepted
    await busy.close();
    const done = await Promise.all(inFlight);
    assert.deepEqual(done, [200, 200, 200], 'accepted requests are answered before the service stops');
  } finally {
    await busy.close();
    small.cleanup();
  }
});
