// A corpus of bad requests against a running service, sent as raw HTTP (so paths are not normalised by a
// client): wrong content types, empty/truncated/corrupt/huge/oversized images, missing fields, bad tokens,
// oversized or malformed JSON, path tricks and unicode in ids, bad query values, unknown routes. Each must get
// its own 4xx with a JSON error code; none may get a 5xx, and the service must still be healthy afterwards.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import type { Service } from '../src/serve/http/service.js';
import { hugePng, noFacePhoto } from './helpers/photo-fixtures.js';
import { auth, type Fixture, makeFixture, readPhoto, startTestService, TOKEN } from './helpers/serve-fixture.js';

interface Case {
  name: string;
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: Buffer;
  status: number;
  code?: string;
}

const MAX_UPLOAD = 256 * 1024;
let fixture: Fixture;
let service: Service;

before(async () => {
  fixture = makeFixture('catface-bad-');
  service = await startTestService(fixture, { maxUploadBytes: MAX_UPLOAD });
});
after(async () => {
  await service?.close();
  fixture?.cleanup();
});

function send(c: Case): Promise<{ status: number; body: string }> {
  const url = new URL(service.url);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        method: c.method,
        path: c.path,
        headers: { ...c.headers, 'content-length': c.body?.length ?? 0 },
      },
      (res) => {
        let body = '';
        res.on('data', (d) => {
          body += d;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end(c.body);
  });
}

function multipart(parts: { name: string; filename?: string; type?: string; data: Buffer | string }[]): { body: Buffer; type: string } {
  const boundary = 'catfaceBoundary7MA4YWxkTrZu0gW';
  const chunks: Buffer[] = [];
  for (const p of parts) {
    const disposition = `form-data; name="${p.name}"${p.filename ? `; filename="${p.filename}"` : ''}`;
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: ${disposition}\r\n${p.type ? `Content-Type: ${p.type}\r\n` : ''}\r\n`));
    chunks.push(Buffer.isBuffer(p.data) ? p.data : Buffer.from(p.data));
    chunks.push(Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), type: `multipart/form-data; boundary=${boundary}` };
}

async function corpus(): Promise<Case[]> {
  const gradientPath = join(fixture.work, 'gradient.png');
  await noFacePhoto(gradientPath);
  const good = Buffer.from(readPhoto(gradientPath));
  const jpeg = await sharp(gradientPath).jpeg().toBuffer();
  const images: Record<string, [Buffer, number, string]> = {
    'zero-byte': [Buffer.alloc(0), 400, 'bad_image'],
    text: [Buffer.from('this is not a photo\n'), 400, 'bad_image'],
    truncated: [jpeg.subarray(0, Math.floor(jpeg.length / 3)), 400, 'bad_image'],
    corrupt: [Buffer.concat([jpeg.subarray(0, 20), Buffer.alloc(2000, 0x5a)]), 400, 'bad_image'],
    'huge pixel count': [hugePng(60000, 60000), 413, 'too_many_pixels'],
    'over the size limit': [Buffer.concat([jpeg, Buffer.alloc(MAX_UPLOAD + 10)]), 413, 'too_large'],
  };
  const cases: Case[] = [];
  const photoRoutes = ['/v1/analyze', '/v1/embed', '/v1/identify', '/v1/identities/probe/faces'];
  const withAuth = (path: string) => (path.startsWith('/v1/identities') ? auth : {});

  // Wrong content types.
  for (const path of photoRoutes)
    for (const type of ['text/plain', 'application/json', 'application/xml', 'application/x-www-form-urlencoded', 'video/mp4'])
      cases.push({
        name: `${path} as ${type}`,
        method: 'POST',
        path,
        headers: { ...withAuth(path), 'content-type': type },
        body: type === 'application/json' ? Buffer.from('{"photo":"x"}') : Buffer.from('x=1'),
        status: 415,
        code: 'unsupported_media_type',
      });
  // Broken images, raw and multipart, on every photo route; and in each verify slot.
  for (const path of photoRoutes)
    for (const [what, [bytes, status, code]] of Object.entries(images)) {
      cases.push({
        name: `${path} raw ${what}`,
        method: 'POST',
        path,
        headers: { ...withAuth(path), 'content-type': 'image/jpeg' },
        body: bytes,
        status,
        code,
      });
      const m = multipart([{ name: 'photo', filename: 'p.jpg', type: 'image/jpeg', data: bytes }]);
      cases.push({
        name: `${path} multipart ${what}`,
        method: 'POST',
        path,
        headers: { ...withAuth(path), 'content-type': m.type },
        body: m.body,
        status,
        code,
      });
    }
  for (const [what, [bytes, status, code]] of Object.entries(images)) {
    const m = multipart([
      { name: 'a', filename: 'a.png', type: 'image/png', data: good },
      { name: 'b', filename: 'b.jpg', type: 'image/jpeg', data: bytes },
    ]);
    cases.push({
      name: `verify b ${what}`,
      method: 'POST',
      path: '/v1/verify',
      headers: { 'content-type': m.type },
      body: m.body,
      status,
      code,
    });
  }
  // Missing or misnamed fields.
  const fieldCases: [string, string, Parameters<typeof multipart>[0]][] = [
    ['verify without b', '/v1/verify', [{ name: 'a', filename: 'a.png', data: good }]],
    ['verify with photo instead of a/b', '/v1/verify', [{ name: 'photo', filename: 'a.png', data: good }]],
    ['verify with no parts but a text field', '/v1/verify', [{ name: 'a', data: 'not a file' }]],
    ['analyze with a text field only', '/v1/analyze', [{ name: 'photo', data: 'not a file' }]],
    ['embed with a misnamed file', '/v1/embed', [{ name: 'image', filename: 'a.png', data: good }]],
    ['identify with a misnamed file', '/v1/identify', [{ name: 'file', filename: 'a.png', data: good }]],
    ['enrol without a photo', '/v1/identities/probe/faces', [{ name: 'metadata', data: '{}' }]],
  ];
  for (const [name, path, parts] of fieldCases) {
    const m = multipart(parts);
    cases.push({
      name,
      method: 'POST',
      path,
      headers: { ...withAuth(path), 'content-type': m.type },
      body: m.body,
      status: 400,
      code: 'missing_photo',
    });
  }
  const twice = multipart([
    { name: 'photo', filename: 'a.png', data: good },
    { name: 'photo', filename: 'b.png', data: good },
  ]);
  cases.push({
    name: 'the same field twice',
    method: 'POST',
    path: '/v1/analyze',
    headers: { 'content-type': twice.type },
    body: twice.body,
    status: 400,
  });
  const badMetadata = multipart([
    { name: 'photo', filename: 'a.png', data: good },
    { name: 'metadata', data: '[1, 2' },
  ]);
  cases.push({
    name: 'enrol with metadata that is not JSON',
    method: 'POST',
    path: '/v1/identities/probe/faces',
    headers: { ...auth, 'content-type': badMetadata.type },
    body: badMetadata.body,
    status: 400,
  });
  cases.push({
    name: 'multipart without a boundary',
    method: 'POST',
    path: '/v1/analyze',
    headers: { 'content-type': 'multipart/form-data' },
    body: Buffer.from('garbage'),
    status: 400,
  });
  cases.push({
    name: 'multipart cut short',
    method: 'POST',
    path: '/v1/analyze',
    headers: { 'content-type': twice.type },
    body: twice.body.subarray(0, 120),
    status: 400,
  });
  // Tokens.
  const json = { 'content-type': 'application/json' };
  const createBody = Buffer.from(JSON.stringify({ id: 'someone' }));
  const writes: [string, string, Buffer | undefined, Record<string, string>][] = [
    ['POST', '/v1/identities', createBody, json],
    ['DELETE', '/v1/identities/someone', undefined, {}],
    ['POST', '/v1/identities/someone/faces', good, { 'content-type': 'image/png' }],
  ];
  const tokens: [string, Record<string, string>, number][] = [
    ['no Authorization', {}, 401],
    ['Basic scheme', { authorization: `Basic ${Buffer.from(`u:${TOKEN}`).toString('base64')}` }, 401],
    ['empty bearer', { authorization: 'Bearer ' }, 401],
    ['wrong token', { authorization: 'Bearer not-the-token' }, 403],
    ['token with a suffix', { authorization: `Bearer ${TOKEN}x` }, 403],
    ['token prefix', { authorization: `Bearer ${TOKEN.slice(0, -1)}` }, 403],
    ['two tokens', { authorization: `Bearer ${TOKEN} ${TOKEN}` }, 401],
  ];
  for (const [method, path, body, headers] of writes)
    for (const [what, header, status] of tokens)
      cases.push({ name: `${method} ${path}: ${what}`, method, path, headers: { ...headers, ...header }, body, status });
  // JSON bodies.
  const jsonCases: [string, Buffer, number, string?][] = [
    ['oversized JSON', Buffer.from(JSON.stringify({ id: 'big', metadata: { blob: 'x'.repeat(100_000) } })), 413, 'too_large'],
    ['malformed JSON', Buffer.from('{"id": "a",'), 400],
    ['a JSON array', Buffer.from('["a"]'), 400],
    ['a JSON string', Buffer.from('"a"'), 400],
    ['no id', Buffer.from('{"metadata": {}}'), 400],
    ['a numeric id', Buffer.from('{"id": 7}'), 400],
    ['metadata not an object', Buffer.from('{"id": "a", "metadata": "x"}'), 400],
    ['an unknown field', Buffer.from('{"id": "a", "admin": true}'), 400],
    ['an empty body', Buffer.alloc(0), 400],
    ['an id with a slash', Buffer.from('{"id": "../../etc/passwd"}'), 400, 'bad_id'],
    ['an empty id', Buffer.from('{"id": ""}'), 400, 'bad_id'],
  ];
  for (const [what, body, status, code] of jsonCases)
    cases.push({
      name: `create identity: ${what}`,
      method: 'POST',
      path: '/v1/identities',
      headers: { ...auth, ...json },
      body,
      status,
      code,
    });
  // Path tricks and unicode in ids.
  const badIds = [
    '..%2F..%2Fetc%2Fpasswd',
    '%2e%2e',
    'a%2Fb',
    'nul%00byte',
    'bidi%E2%80%AEtxt',
    'zero%E2%80%8Bwidth',
    `${'x'.repeat(200)}`,
    '%20lead',
    'emoji%F0%9F%98%80',
    'back%5Cslash',
  ];
  for (const id of badIds) {
    cases.push({ name: `GET id ${id.slice(0, 30)}`, method: 'GET', path: `/v1/identities/${id}`, status: 400, code: 'bad_id' });
    cases.push({
      name: `DELETE id ${id.slice(0, 30)}`,
      method: 'DELETE',
      path: `/v1/identities/${id}`,
      headers: auth,
      status: 400,
      code: 'bad_id',
    });
    cases.push({
      name: `enrol id ${id.slice(0, 30)}`,
      method: 'POST',
      path: `/v1/identities/${id}/faces`,
      headers: { ...auth, 'content-type': 'image/png' },
      body: good,
      status: 400,
      code: 'bad_id',
    });
  }
  cases.push({ name: 'invalid UTF-8 in an id', method: 'GET', path: '/v1/identities/%C3%28', status: 400 });
  for (const path of ['/v1/identities/../../etc/passwd', '/v1/identities/a/b/c', '/v1/../v1/health/x', '/v1/identities/%2e%2e/faces/x'])
    cases.push({ name: `path ${path}`, method: 'GET', path, status: 404, code: 'not_found' });
  // Valid unicode ids that do not exist: 404, not 400 and not 500.
  for (const id of ['Zo%C3%AB', '%E5%BC%A0%E4%BC%9F', '%D9%85%D8%AD%D9%85%D8%AF', 'Jose%CC%81'])
    cases.push({
      name: `unknown unicode id ${decodeURIComponent(id)}`,
      method: 'GET',
      path: `/v1/identities/${id}`,
      status: 404,
      code: 'identity_not_found',
    });
  // Query values.
  for (const q of ['k=0', 'k=1000', 'k=abc', 'threshold=2', 'threshold=abc', 'k=1.5'])
    cases.push({
      name: `identify ?${q}`,
      method: 'POST',
      path: `/v1/identify?${q}`,
      headers: { 'content-type': 'image/png' },
      body: good,
      status: 400,
    });
  for (const q of ['offset=-1', 'limit=0', 'limit=100000', 'limit=x'])
    cases.push({ name: `list ?${q}`, method: 'GET', path: `/v1/identities?${q}`, status: 400 });
  // Methods and routes that do not exist.
  for (const [method, path] of [
    ['GET', '/v1/verify'],
    ['PUT', '/v1/identities/a'],
    ['PATCH', '/v1/identities/a'],
    ['GET', '/v2/health'],
    ['POST', '/v1/health'],
  ])
    cases.push({ name: `${method} ${path}`, method, path, status: 404, code: 'not_found' });
  return cases;
}

test('≥ 100 bad requests: each gets its 4xx with a JSON error code, none a 5xx, and the service stays healthy', async () => {
  const cases = await corpus();
  assert.ok(cases.length >= 100, `${cases.length} cases`);
  const wrong: string[] = [];
  for (const c of cases) {
    const { status, body } = await send(c);
    let code: string | undefined;
    try {
      code = JSON.parse(body).error?.code;
    } catch {
      wrong.push(`${c.name}: body is not JSON: ${body.slice(0, 80)}`);
      continue;
    }
    if (status !== c.status || (c.code && code !== c.code) || !code)
      wrong.push(`${c.name}: got ${status} ${code}, expected ${c.status} ${c.code ?? ''}`);
  }
  assert.deepEqual(wrong, [], `${wrong.length} of ${cases.length} wrong`);
  const metrics = await (await fetch(`${service.url}/metrics`)).text();
  assert.doesNotMatch(metrics, /status="5\d\d"/, 'no 5xx recorded');
  const health = await fetch(`${service.url}/v1/health`);
  assert.equal(health.status, 200);
  assert.equal((await health.json()).queue.workers, 1, 'the model worker survived');
  assert.equal(service.gallery.identityCount, 0, 'no bad request wrote anything');
});
