// Synthetic identities: deterministic for a seed (whatever the thread count), labels consistent with the face
// parameters, every attribute present in both values, images of one identity closer than across identities.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { readAttributesCsv } from '../src/data/readers/attributes.js';
import { readImageFolder } from '../src/data/readers/image-folder.js';
import { generateSynthDataset } from '../src/data/synth/synth-dataset.js';
import { synthIdentity } from '../src/data/synth/synth-identity.js';
import { expectedAttributes } from './helpers/synth-rules.js';

function filesOf(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) out.set(join(entry.parentPath, entry.name).slice(dir.length), readFileSync(join(entry.parentPath, entry.name)));
  }
  return out;
}

test('synthetic dataset is byte-identical for a seed on 0 or 2 worker threads, and differs for another seed', async () => {
  const dirs = [0, 1, 2].map(() => mkdtempSync(join(tmpdir(), 'catface-synth-')));
  try {
    const config = { identities: 5, imagesPerIdentity: 3, size: 48, seed: 11 };
    const result = await generateSynthDataset(dirs[0], config, 0);
    await generateSynthDataset(dirs[1], config, 2);
    await generateSynthDataset(dirs[2], { ...config, seed: 12 }, 0);
    assert.equal(result.images, 15);
    const [a, b, c] = dirs.map(filesOf);
    assert.equal(a.size, 15 + 3); // images, attributes.csv, identities.json and the ownership record
    assert.deepEqual([...a.keys()].sort(), [...b.keys()].sort());
    for (const [name, bytes] of a) assert.ok(bytes.equals(b.get(name) as Buffer), `${name} identical`);
    assert.ok(!(a.get('/id00000/001.png') as Buffer).equals(c.get('/id00000/001.png') as Buffer));
    const meta = await sharp(a.get('/id00002/002.png')).metadata();
    assert.deepEqual([meta.width, meta.height, meta.channels], [48, 48, 3]);
    // Readable as an image folder with the five attributes.
    const ds = readImageFolder(dirs[0]);
    assert.deepEqual(ds.attributeNames, ['Male', 'Big_Nose', 'Chubby', 'Narrow_Eyes', 'Bald']);
    assert.equal(ds.samples.length, 15);
    assert.equal(ds.classes.length, 5);
  } finally {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
});

test('attribute labels follow the face parameters (hand-written rules) and every attribute takes both values', () => {
  const identities = Array.from({ length: 80 }, (_, i) => synthIdentity(3, i));
  for (const id of identities) {
    assert.deepEqual(id.attributes, expectedAttributes(id.face, id.gender), id.name);
    if (id.attributes[4]) assert.equal(id.gender, 'male');
  }
  for (let a = 0; a < 5; a++) {
    const positives = identities.filter((id) => id.attributes[a] === 1).length;
    assert.ok(positives >= 8 && positives <= 72, `attribute ${a}: ${positives}/80 positive`);
  }
  // Identity i is the same face whatever else is generated.
  assert.deepEqual(synthIdentity(3, 17), identities[17]);
});

test('attributes.csv holds one consistent row per identity and images of one identity look alike', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'catface-synth-'));
  try {
    await generateSynthDataset(dir, { identities: 6, imagesPerIdentity: 4, size: 32, seed: 5 }, 0);
    const table = readAttributesCsv(join(dir, 'attributes.csv'));
    assert.equal(table.rows.size, 6);
    // Each row follows from the face parameters the run wrote to identities.json.
    const written = JSON.parse(readFileSync(join(dir, 'identities.json'), 'utf8')).identities;
    assert.equal(written.length, 6);
    for (const id of written) assert.deepEqual(table.rows.get(id.name), expectedAttributes(id.face, id.gender), id.name);
    const pixels = new Map<string, Buffer[]>();
    for (let i = 0; i < 6; i++) {
      pixels.set(
        String(i),
        await Promise.all(
          [0, 1, 2, 3].map((k) =>
            sharp(join(dir, `id0000${i}`, `00${k}.png`))
              .greyscale()
              .raw()
              .toBuffer(),
          ),
        ),
      );
    }
    const distance = (x: Buffer, y: Buffer) => x.reduce((s, v, j) => s + Math.abs(v - y[j]), 0) / x.length;
    let within = 0;
    let across = 0;
    let nw = 0;
    let na = 0;
    for (let i = 0; i < 6; i++) {
      for (let j = 0; j < 6; j++) {
        for (let k = 0; k < 4; k++) {
          for (let l = 0; l < 4; l++) {
            if (i === j && k >= l) continue;
            const d = distance((pixels.get(String(i)) as Buffer[])[k], (pixels.get(String(j)) as Buffer[])[l]);
            if (i === j) {
              within += d;
              nw++;
            } else {
              across += d;
              na++;
            }
          }
        }
      }
    }
    assert.ok(within / nw < 0.8 * (across / na), `within-identity distance ${within / nw} vs across ${across / na}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('synth writes only into its own folders: a foreign folder is refused, a smaller re-run leaves no stale identities', async () => {
  const root = mkdtempSync(join(tmpdir(), 'catface-synth-own-'));
  try {
    const mine = join(root, 'photos');
    mkdirSync(mine);
    writeFileSync(join(mine, 'attributes.csv'), 'identity,Male\nme,1\n');
    await assert.rejects(
      generateSynthDataset(mine, { identities: 2, imagesPerIdentity: 1, size: 16 }),
      /photos: holds 1 file\(s\) catface did not write \(attributes\.csv\)/,
    );
    assert.equal(readFileSync(join(mine, 'attributes.csv'), 'utf8'), 'identity,Male\nme,1\n');
    const out = join(root, 'synth');
    await generateSynthDataset(out, { identities: 4, imagesPerIdentity: 2, size: 16 });
    await generateSynthDataset(out, { identities: 2, imagesPerIdentity: 1, size: 16 });
    const ds = readImageFolder(out);
    assert.equal(ds.classes.length, 2);
    assert.equal(ds.samples.length, 2);
    assert.deepEqual(readdirSync(out).filter((n) => !n.startsWith('.')).length, 4); // 2 identities + 2 label files
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
