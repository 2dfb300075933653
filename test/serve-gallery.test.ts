import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { checkIdentityId, Gallery, type GalleryError } from '../src/serve/gallery.js';
import { exportGallery, importGallery } from '../src/serve/gallery-transfer.js';
import { usearchIndex } from '../src/serve/usearch-index.js';

const dir = mkdtempSync(join(tmpdir(), 'catface-gallery-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const MODEL = { fingerprint: 'a'.repeat(64), dim: 8 };

/** Deterministic unit vectors (xorshift), so the expected scores are computed here independently. */
function unitVectors(n: number, dim: number, seed: number): Float32Array[] {
  let s = seed >>> 0 || 1;
  const next = () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return ((s >>> 0) / 2 ** 32) * 2 - 1;
  };
  return Array.from({ length: n }, () => {
    const v = Float32Array.from({ length: dim }, next);
    const norm = Math.hypot(...v);
    return v.map((x) => x / norm);
  });
}
const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, x, i) => s + x * b[i], 0);

test('search: best and mean identity scores equal a brute-force computation, best first', async () => {
  const faces = unitVectors(7, 8, 3);
  const probe = unitVectors(1, 8, 99)[0];
  const owners = ['ana', 'ana', 'ana', 'bo', 'bo', 'chen', 'dee'];
  for (const scoring of ['best', 'mean'] as const) {
    const g = Gallery.open(join(dir, `scores-${scoring}.sqlite`), { scoring });
    for (const [i, id] of owners.entries()) g.enrol(id, [{ embedding: faces[i], quality: 1 }], MODEL);
    const expected = [...new Set(owners)]
      .map((id) => {
        const s = owners.flatMap((o, i) => (o === id ? [dot(probe, faces[i])] : []));
        return { id, score: scoring === 'best' ? Math.max(...s) : s.reduce((a, b) => a + b, 0) / s.length };
      })
      .sort((a, b) => b.score - a.score);
    const got = await g.search(probe, MODEL, 3);
    assert.deepEqual(
      got.map((m) => m.id),
      expected.slice(0, 3).map((e) => e.id),
    );
    for (const [i, m] of got.entries())
      assert.ok(Math.abs(m.score - expected[i].score) < 1e-5, `${scoring} ${m.id}: ${m.score} vs ${expected[i].score}`);
    assert.equal(g.identityCount, 4);
    assert.equal(g.faceCount, 7);
    g.close();
  }
});

test('an enrolment survives reopening; deleting removes the identity from search; ids are checked', async () => {
  const file = join(dir, 'persist.sqlite');
  const [a, b, c] = unitVectors(3, 8, 5);
  let g = Gallery.open(file);
  g.enrol('Zoë', [{ embedding: a, quality: 2 }], MODEL, { team: 'x' });
  g.enrol('张伟', [{ embedding: b, quality: 3 }], MODEL);
  g.enrol('张伟', [{ embedding: c, quality: 4 }], MODEL);
  g.close();
  g = Gallery.open(file);
  assert.equal(g.integrityCheck(), 'ok');
  assert.deepEqual(g.identity('Zoë'), { ...g.identity('Zoë'), id: 'Zoë', metadata: { team: 'x' }, faces: 1 });
  assert.equal(g.identity('张伟')?.faces, 2);
  assert.equal((await g.search(c, MODEL, 1))[0].id, '张伟');
  g.delete('张伟');
  assert.deepEqual(
    (await g.search(c, MODEL, 5)).map((m) => m.id),
    ['Zoë'],
  );
  assert.throws(
    () => g.delete('张伟'),
    (e: GalleryError) => e.status === 404,
  );
  assert.throws(
    () => g.createIdentity('Zoë'),
    (e: GalleryError) => e.status === 409,
  );
  g.close();
  for (const bad of ['', '../etc/passwd', 'a/b', ' x', '..', 'zero\u200bwidth', 'bidi\u202eevil', 'nul\u0000', 'x'.repeat(129), 42])
    assert.throws(
      () => checkIdentityId(bad),
      (e: GalleryError) => e.status === 400 && e.code === 'bad_id',
      JSON.stringify(bad),
    );
  assert.equal(checkIdentityId('Jose\u0301'), 'José'); // NFC: one id however the accent was typed
});

test('enrolling or searching with another model is refused with a clear error', async () => {
  const g = Gallery.open(join(dir, 'model.sqlite'));
  const [a] = unitVectors(1, 8, 7);
  g.enrol('ana', [{ embedding: a, quality: 1 }], MODEL);
  const other = { fingerprint: 'b'.repeat(64), dim: 8 };
  assert.throws(
    () => g.enrol('bo', [{ embedding: a, quality: 1 }], other),
    (e: GalleryError) => e.status === 409 && e.code === 'model_mismatch' && /holds embeddings of model aaaaaaaaaaaa/.test(e.message),
  );
  await assert.rejects(g.search(a, other), (e: GalleryError) => e.code === 'model_mismatch');
  assert.equal(g.identity('bo'), null, 'the refused enrolment left nothing behind');
  g.close();
});

test('a removal during a search in flight neither corrupts the result nor moves rows under it', async () => {
  const g = Gallery.open(join(dir, 'race.sqlite'));
  const vs = unitVectors(200, 8, 11);
  for (const [i, v] of vs.entries()) g.enrol(`id${i}`, [{ embedding: v, quality: 1 }], MODEL);
  const searches = vs.slice(0, 50).map((v) => g.search(v, MODEL, 1));
  for (let i = 100; i < 150; i++) g.delete(`id${i}`);
  const results = await Promise.all(searches);
  for (const [i, r] of results.entries()) assert.equal(r[0].id, `id${i}`);
  assert.equal(g.faceCount, 150);
  for (let i = 150; i < 200; i++) assert.equal((await g.search(vs[i], MODEL, 1))[0].id, `id${i}`);
  g.close();
});

test('export then import reproduces identities, metadata and search results', async () => {
  const src = Gallery.open(join(dir, 'export-src.sqlite'));
  const vs = unitVectors(5, 8, 13);
  for (const [i, v] of vs.entries()) src.enrol(`p${i % 3}`, [{ embedding: v, quality: i }], MODEL, { n: i % 3 });
  const out = join(dir, 'export');
  assert.deepEqual(exportGallery(src, out), { identities: 3, faces: 5 });
  const dst = Gallery.open(join(dir, 'export-dst.sqlite'));
  assert.deepEqual(importGallery(dst, out), { identities: 3, faces: 5 });
  assert.deepEqual(dst.model, MODEL);
  assert.deepEqual(dst.identities().identities, src.identities().identities);
  for (const v of vs) assert.deepEqual(await dst.search(v, MODEL, 3), await src.search(v, MODEL, 3));
  src.close();
  dst.close();
});

test('the approximate index (usearch) takes over from `from` faces, finds enrolled faces, forgets deleted ones', async () => {
  const file = join(dir, 'approx.sqlite');
  const options = { approximate: { create: usearchIndex, from: 20 } };
  let g = Gallery.open(file, options);
  const vs = unitVectors(60, 8, 17);
  for (const [i, v] of vs.entries()) g.enrol(`a${i}`, [{ embedding: v, quality: 1 }], MODEL);
  assert.equal(g.searchMode, 'approximate');
  for (const [i, v] of vs.entries()) assert.equal((await g.search(v, MODEL, 1))[0].id, `a${i}`);
  g.delete('a3');
  assert.notEqual((await g.search(vs[3], MODEL, 1))[0].id, 'a3');
  g.close();
  g = Gallery.open(file, options); // rebuilt from SQLite at open
  assert.equal(g.searchMode, 'approximate');
  const [hit] = await g.search(vs[40], MODEL, 1);
  assert.equal(hit.id, 'a40');
  assert.ok(Math.abs(hit.score - 1) < 1e-5, `cosine from the index: ${hit.score}`);
  g.close();
  const small = Gallery.open(join(dir, 'approx-small.sqlite'), options);
  small.enrol('x', [{ embedding: vs[0], quality: 1 }], MODEL);
  assert.equal(small.searchMode, 'exact', 'below `from` faces the search stays exact');
  small.close();
});
