// The LFW identity split of the default model: folds 9–10 of pairs.txt hold out 890 people (2,671 photos);
// the other 4,859 people (10,562 photos, 1,334 with ≥ 2) are trainable, and no person is on both sides.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { splitLfw } from '../src/data/lfw-split.js';

const here = dirname(fileURLToPath(import.meta.url));
const LFW = join(here, '..', '..', '..', 'shared', 'data', 'lfw');

test('LFW split: folds 9–10 people are validation only, identity-disjoint, with the documented counts', (t) => {
  if (!existsSync(join(LFW, 'pairs.txt'))) return t.skip(`LFW not found at ${LFW}: split test skipped`);
  const split = splitLfw(LFW);
  const photos = (m: Map<string, string[]>) => [...m.values()].reduce((n, list) => n + list.length, 0);
  assert.equal(split.validation.size, 890);
  assert.equal(photos(split.validation), 2671);
  assert.equal(split.train.size, 4859);
  assert.equal(photos(split.train), 10562);
  assert.equal([...split.train.values()].filter((list) => list.length >= 2).length, 1334);
  for (const name of split.validation.keys()) assert.ok(!split.train.has(name), `${name} is on both sides`);
  const people = (pairs: typeof split.validationPairs) => new Set(pairs.flatMap((p) => [p.a, p.b].map((f) => basename(dirname(f)))));
  assert.equal(split.validationPairs.length, 1200);
  for (const name of people(split.validationPairs)) assert.ok(split.validation.has(name), `validation pair person ${name} not held out`);
  for (const name of people(split.trainPairs)) assert.ok(split.train.has(name), `fold 1–8 person ${name} is held out`);
});
