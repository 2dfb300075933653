// The bad-input policy on a corpus of 40 broken files: every one is refused with an error naming the file
// (and line for label files) or, under onError 'skip', skipped and listed in a report — never a crash.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, before, test } from 'node:test';
import { crc32 } from 'node:zlib';
import sharp from 'sharp';
import { readImageBytes } from '../src/data/dataset.js';
import { decodeImage } from '../src/data/decode.js';
import { DataError } from '../src/data/errors.js';
import { Loader } from '../src/data/loader/loader.js';
import { readAttributesCsv } from '../src/data/readers/attributes.js';
import { readCelebA } from '../src/data/readers/celeba.js';
import { readImageFolder } from '../src/data/readers/image-folder.js';
import { readLfwPairs, readPairList } from '../src/data/readers/pairs.js';
import { PyTuple, writePickle } from '../src/data/readers/pickle.js';
import { readRecordIO, writeRecordIO } from '../src/data/readers/recordio.js';
import { readVerificationBin, writeVerificationBin } from '../src/data/readers/verification-bin.js';

let root: string;

/** Runs the setup steps given as arguments (evaluated in order) and returns the last value. */
const last = (...values: unknown[]) => values[values.length - 1];
let goodJpeg: Buffer;
let goodPng: Buffer;

function randomBytes(n: number, seed: number): Buffer {
  const out = Buffer.alloc(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    out[i] = s >>> 24;
  }
  return out;
}

/** A PNG whose header declares width×height (valid CRC), with the small image's pixel data. */
function pngDeclaring(png: Buffer, width: number, height: number): Buffer {
  const out = Buffer.from(png);
  out.writeUInt32BE(width, 16);
  out.writeUInt32BE(height, 20);
  out.writeUInt32BE(crc32(out.subarray(12, 29)), 29);
  return out;
}

/** A JPEG whose SOF0 frame header declares width×height. */
function jpegDeclaring(jpeg: Buffer, width: number, height: number): Buffer {
  const out = Buffer.from(jpeg);
  for (let i = 2; i < out.length - 9; i++) {
    if (out[i] === 0xff && (out[i + 1] === 0xc0 || out[i + 1] === 0xc2)) {
      out.writeUInt16BE(height, i + 5);
      out.writeUInt16BE(width, i + 7);
      return out;
    }
  }
  throw new Error('no SOF marker');
}

/** name → bytes of every broken image in the corpus. */
function brokenImages(): Map<string, Buffer> {
  const pngCrc = Buffer.from(goodPng);
  pngCrc[30] ^= 0xff; // IHDR CRC no longer matches
  const idat = goodPng.indexOf('IDAT');
  const pngIdat = Buffer.from(goodPng);
  for (let i = idat + 20; i < idat + 60; i++) pngIdat[i] ^= 0x5a; // corrupt compressed pixel data
  return new Map<string, Buffer>([
    ['zero.jpg', Buffer.alloc(0)],
    ['zero.png', Buffer.alloc(0)],
    ['truncated-half.jpg', goodJpeg.subarray(0, goodJpeg.length >> 1)],
    ['truncated-header.jpg', goodJpeg.subarray(0, 10)],
    ['truncated-sof.jpg', goodJpeg.subarray(0, 200)],
    ['truncated-half.png', goodPng.subarray(0, goodPng.length >> 1)],
    ['signature-only.png', goodPng.subarray(0, 8)],
    ['ihdr-only.png', goodPng.subarray(0, 33)],
    ['random.jpg', randomBytes(2000, 1)],
    ['random.png', randomBytes(2000, 2)],
    ['random.webp', randomBytes(500, 3)],
    ['random.tif', randomBytes(500, 4)],
    ['text-as.jpg', Buffer.from('this is not an image\n')],
    ['html-as.png', Buffer.from('<html><body>404 Not Found</body></html>')],
    ['json-as.webp', Buffer.from('{"error": "forbidden"}')],
    ['huge-20000.png', pngDeclaring(goodPng, 20000, 20000)],
    ['huge-20000.jpg', jpegDeclaring(goodJpeg, 20000, 20000)],
    ['huge-wide.png', pngDeclaring(goodPng, 1_000_000, 100)],
    ['bad-crc.png', pngCrc],
    ['corrupt-idat.png', pngIdat],
    ['riff-only.webp', Buffer.from('RIFF\x10\x00\x00\x00WEBPVP8 ', 'latin1')],
    ['gif-header.gif', Buffer.from('GIF89a\x10\x00\x10\x00', 'latin1')],
    ['tiff-header.tif', Buffer.from([0x49, 0x49, 0x2a, 0x00, 0x08, 0x00, 0x00, 0x00])],
    ['bmp.bmp', Buffer.concat([Buffer.from('BM', 'latin1'), randomBytes(60, 5)])],
    ['jpeg-soi-eoi.jpg', Buffer.from([0xff, 0xd8, 0xff, 0xd9])],
    ['png-in-jpeg-truncated.jpg', goodPng.subarray(0, 40)],
  ]);
}

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'catface-bad-'));
  const raw = randomBytes(64 * 48 * 3, 9);
  goodJpeg = await sharp(raw, { raw: { width: 64, height: 48, channels: 3 } })
    .jpeg()
    .toBuffer();
  goodPng = await sharp(raw, { raw: { width: 64, height: 48, channels: 3 } })
    .png()
    .toBuffer();
});

after(() => rmSync(root, { recursive: true, force: true }));

test('each broken image is refused with a DataError naming it; the pixel limit stops 20000×20000 headers', async () => {
  const corpus = brokenImages();
  assert.ok(corpus.size >= 25);
  for (const [name, bytes] of corpus) {
    await assert.rejects(
      decodeImage(bytes, name, { height: 16, width: 16 }),
      (error: unknown) => error instanceof DataError && error.file === name && error.message.startsWith(`${name}: `),
      name,
    );
  }
  await assert.rejects(
    decodeImage(corpus.get('huge-20000.png') as Buffer, 'huge-20000.png', { height: 16, width: 16 }),
    /huge-20000\.png: image too large/,
  );
  await assert.rejects(
    decodeImage(corpus.get('huge-20000.jpg') as Buffer, 'huge-20000.jpg', { height: 16, width: 16 }),
    /huge-20000\.jpg: image too large/,
  );
  await assert.rejects(decodeImage(Buffer.alloc(0), 'zero.jpg', { height: 16, width: 16 }), /zero\.jpg: empty file \(0 bytes\)/);
  // A valid image with the wrong extension is decoded by content.
  const pixels = await decodeImage(goodPng, 'png-named.jpg', { height: 16, width: 16 });
  assert.equal(pixels.length, 16 * 16 * 3);
});

test('the loader with onError skip reports every broken image by name and keeps batches full', async () => {
  const dir = join(root, 'folder');
  mkdirSync(join(dir, 'person'), { recursive: true });
  const corpus = brokenImages();
  for (const [name, bytes] of corpus) writeFileSync(join(dir, 'person', name), bytes);
  writeFileSync(join(dir, 'person', 'good.png'), goodPng);
  writeFileSync(join(dir, 'person', 'png-named.jpg'), goodPng);
  writeFileSync(join(dir, 'person', 'jpeg-named.dat'), goodJpeg); // wrong extension: listed, not read
  const ds = readImageFolder(dir);
  assert.match(ds.report.toString(), /jpeg-named\.dat: not an image extension/);
  const bmpListed = ds.samples.length; // .bmp is listed as an image extension, and then fails to decode
  assert.equal(bmpListed, corpus.size + 2);
  const loader = new Loader(ds, { batchSize: 8, imageSize: 16, mode: 'sequential', onError: 'skip', workers: 2 });
  try {
    const batch = await loader.next();
    assert.equal(batch.images.shape[0], 8);
    const good = new Set(batch.indices.map((i) => (ds.samples[i].image.kind === 'file' ? basename(ds.samples[i].image.path) : '')));
    assert.deepEqual([...good].sort(), ['good.png', 'png-named.jpg']);
    const reported = new Set(loader.report.skipped.map((s) => basename(s.file)));
    for (const name of corpus.keys()) assert.ok(reported.has(name), `${name} reported`);
  } finally {
    await loader.close();
  }
  const strict = new Loader(ds, { batchSize: 4, imageSize: 16, mode: 'sequential', workers: 0 });
  try {
    await assert.rejects(strict.next(), /bad-crc\.png: cannot decode image/); // the first file in natural order
  } finally {
    await strict.close();
  }
});

test('label files: missing files, mismatched rows and unknown attributes name the file and line', async () => {
  const dir = join(root, 'labels');
  mkdirSync(join(dir, 'img_align_celeba'), { recursive: true });
  for (const f of ['000001.jpg', '000002.jpg']) writeFileSync(join(dir, 'img_align_celeba', f), goodJpeg);
  const ids = '000001.jpg 1\n000002.jpg 2\n';
  const header = 'Bald Big_Nose Chubby Male Narrow_Eyes\n';
  const attr = (rows: string, count = 2) => writeFileSync(join(dir, 'list_attr_celeba.txt'), `${count}\n${header}${rows}`);
  writeFileSync(join(dir, 'identity_CelebA.txt'), ids);
  const cases: [string, () => unknown, RegExp][] = [];
  const celeba = (options = {}) => readCelebA(dir, options);
  cases.push([
    'celeba wrong count',
    () => last(attr('000001.jpg 1 1 1 1 1\n000002.jpg 1 1 1 1 1\n', 3), celeba()),
    /list_attr_celeba\.txt:1: first line declares 3 images but 2 rows follow/,
  ]);
  cases.push([
    'celeba short row',
    () => last(attr('000001.jpg 1 1 1 1\n000002.jpg 1 1 1 1 1\n'), celeba()),
    /list_attr_celeba\.txt:3: expected 5 attribute values, got 4/,
  ]);
  cases.push([
    'celeba bad value',
    () => last(attr('000001.jpg 1 1 7 1 1\n000002.jpg 1 1 1 1 1\n'), celeba()),
    /list_attr_celeba\.txt:3: attribute 'Chubby' has value '7'/,
  ]);
  cases.push([
    'celeba missing image',
    () => last(attr('000001.jpg 1 1 1 1 1\n000003.jpg 1 1 1 1 1\n'), celeba()),
    /identity_CelebA\.txt: no identity for image '000003\.jpg'/,
  ]);
  cases.push([
    'celeba unknown attribute',
    () => last(attr('000001.jpg 1 1 1 1 1\n000002.jpg 1 1 1 1 1\n'), celeba({ attributes: ['Smiling'] })),
    /unknown attribute 'Smiling'; valid names: Bald, Big_Nose/,
  ]);
  cases.push([
    'celeba bad partition',
    () => last(writeFileSync(join(dir, 'list_eval_partition.txt'), '000001.jpg 0\n000002.jpg 7\n'), celeba({ partition: 'train' })),
    /list_eval_partition\.txt:2: partition '7' is not 0, 1 or 2/,
  ]);
  cases.push([
    'celeba file missing on disk',
    () => last(rmSync(join(dir, 'img_align_celeba', '000002.jpg')), celeba()),
    /list_attr_celeba\.txt:4: image '000002\.jpg' not found/,
  ]);
  cases.push([
    'celeba duplicate identity row',
    () => last(writeFileSync(join(dir, 'identity_CelebA.txt'), '000001.jpg 1\n000001.jpg 2\n'), celeba()),
    /identity_CelebA\.txt:2: image '000001\.jpg' listed twice/,
  ]);
  const csv = join(dir, 'attributes.csv');
  cases.push([
    'csv wrong columns',
    () => last(writeFileSync(csv, 'identity,Male\na,1,0\n'), readAttributesCsv(csv)),
    /attributes\.csv:2: expected 2 columns, got 3/,
  ]);
  cases.push([
    'csv bad value',
    () => last(writeFileSync(csv, 'identity,Male\na,yes\n'), readAttributesCsv(csv)),
    /attributes\.csv:2: attribute 'Male' has value 'yes'/,
  ]);
  cases.push([
    'csv header',
    () => last(writeFileSync(csv, 'name,Male\n'), readAttributesCsv(csv)),
    /attributes\.csv:1: first column must be 'identity'/,
  ]);
  const folder = join(dir, 'folder');
  mkdirSync(join(folder, 'p1'), { recursive: true });
  writeFileSync(join(folder, 'p1', '1.png'), goodPng);
  cases.push([
    'folder row without folder',
    () => last(writeFileSync(join(folder, 'attributes.csv'), 'identity,Male\np1,1\np2,0\n'), readImageFolder(folder)),
    /attributes\.csv: identity 'p2' has no folder/,
  ]);
  cases.push([
    'folder without row',
    () => last(writeFileSync(join(folder, 'attributes.csv'), 'identity,Male\n'), readImageFolder(folder)),
    /attributes\.csv: no row for identity folder 'p1'/,
  ]);
  const pairs = join(dir, 'pairs.txt');
  cases.push([
    'pairs bad line',
    () => last(writeFileSync(pairs, 'a b c d e\n'), readLfwPairs(pairs, dir)),
    /pairs\.txt:1: expected "name n1 n2"/,
  ]);
  cases.push([
    'pairs missing image',
    () => last(writeFileSync(pairs, 'Ann 1 2\n'), readLfwPairs(pairs, dir)),
    /pairs\.txt:1: image .*Ann_0001\.jpg not found/,
  ]);
  cases.push([
    'pair list missing image',
    () => last(writeFileSync(pairs, 'x.jpg y.jpg 1\n'), readPairList(pairs, dir)),
    /pairs\.txt:1: image .*x\.jpg not found/,
  ]);
  cases.push(['pairs file missing', () => readPairList(join(dir, 'nope.txt'), dir), /nope\.txt: file not found/]);
  const rec = join(dir, 'train.rec');
  writeRecordIO(rec, [{ bytes: goodJpeg, label: 0 }]);
  cases.push([
    'idx bad line',
    () =>
      last(writeFileSync(join(dir, 'bad.idx'), '0\t0\nfoo\n'), writeFileSync(join(dir, 'bad.rec'), ''), readRecordIO(join(dir, 'bad.rec'))),
    /bad\.idx:2: expected "key<TAB>offset"/,
  ]);
  cases.push([
    'rec truncated',
    () =>
      last(
        writeFileSync(join(dir, 'cut.rec'), readFileSync(rec).subarray(0, 100)),
        writeFileSync(join(dir, 'cut.idx'), readFileSync(join(dir, 'train.idx'))),
        readRecordIO(join(dir, 'cut.rec')),
      ),
    /cut\.rec: truncated/,
  ]);
  const bin = join(dir, 'v.bin');
  writeVerificationBin(bin, { images: [goodJpeg, goodJpeg], issame: [true] });
  cases.push([
    'bin truncated',
    () => last(writeFileSync(join(dir, 'cut.bin'), readFileSync(bin).subarray(0, 300)), readVerificationBin(join(dir, 'cut.bin'))),
    /cut\.bin: truncated pickle/,
  ]);
  cases.push([
    'bin random',
    () => last(writeFileSync(join(dir, 'rand.bin'), randomBytes(100, 7)), readVerificationBin(join(dir, 'rand.bin'))),
    /rand\.bin: /,
  ]);
  cases.push([
    'bin count mismatch',
    () =>
      last(writeFileSync(join(dir, 'odd.bin'), writePickle(PyTuple.from([[goodJpeg], [true]]))), readVerificationBin(join(dir, 'odd.bin'))),
    /odd\.bin: 1 images for 1 pairs \(expected exactly 2 images per pair\)/,
  ]);
  cases.push(['bin missing', () => readVerificationBin(join(dir, 'none.bin')), /none\.bin: file not found/]);
  for (const [name, run, pattern] of cases)
    assert.throws(run, (error: unknown) => error instanceof DataError && pattern.test(error.message), name);
  // Under 'skip' the same problems are listed instead of thrown.
  writeFileSync(join(dir, 'identity_CelebA.txt'), ids);
  attr('000001.jpg 1 1 1 1 1\n000002.jpg 1 1 1 1 1\n');
  const skipped = readCelebA(dir, { onError: 'skip' });
  assert.equal(skipped.samples.length, 1);
  assert.match(skipped.report.toString(), /list_attr_celeba\.txt:4: image '000002\.jpg' not found/);
  writeFileSync(join(folder, 'attributes.csv'), 'identity,Male\np1,1\np2,0\n');
  assert.match(readImageFolder(folder, { onError: 'skip' }).report.toString(), /identity 'p2' has no folder/);
});

test('file errors say what happened, naming the path: not found, is a directory, permission denied, not an image, not a .bin', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'catface-errors-'));
  try {
    const image = (path: string) => readImageBytes({ kind: 'file', path });
    assert.throws(() => image(join(dir, 'gone.png')), /gone\.png: file not found$/);
    mkdirSync(join(dir, 'folder.png'));
    assert.throws(() => image(join(dir, 'folder.png')), /folder\.png: is a directory, expected a file$/);
    writeFileSync(join(dir, 'notes.jpg'), 'shopping list');
    await assert.rejects(
      decodeImage(image(join(dir, 'notes.jpg')), join(dir, 'notes.jpg'), { height: 8, width: 8 }),
      /notes\.jpg: not an image/,
    );
    writeFileSync(join(dir, 'photo.bin'), goodPng);
    assert.throws(
      () => readVerificationBin(join(dir, 'photo.bin')),
      /photo\.bin: not a \.bin verification set: it does not start like a Python pickle \(first bytes 89 50 4e 47/,
    );
    writeFileSync(join(dir, 'empty.bin'), '');
    assert.throws(() => readVerificationBin(join(dir, 'empty.bin')), /empty\.bin: empty file \(0 bytes\); not a \.bin/);
    mkdirSync(join(dir, 'ids', 'a'), { recursive: true });
    assert.throws(() => readImageFolder(join(dir, 'ids')), /ids: no images in its 1 identity folder\(s\)/);
    assert.throws(() => readImageFolder(join(dir, 'nowhere')), /nowhere: folder not found/);
    assert.throws(() => readImageFolder(join(dir, 'notes.jpg')), /notes\.jpg: is a file, expected a folder/);
    writeFileSync(join(dir, 'locked.png'), goodPng);
    chmodSync(join(dir, 'locked.png'), 0o000);
    if (process.getuid?.() !== 0) {
      assert.throws(() => image(join(dir, 'locked.png')), /locked\.png: permission denied$/);
    } else {
      // Root reads everything (CI runs as root): read it from a child that dropped to the user 'nobody'.
      chmodSync(dir, 0o755);
      const readAs = `import('${new URL('../src/data/dataset.js', import.meta.url)}').then(({ readImageBytes }) => {
        try { readImageBytes({ kind: 'file', path: ${JSON.stringify(join(dir, 'locked.png'))} }); console.log('read'); }
        catch (e) { console.log(e.message); } });`;
      const child = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '-e', readAs], {
        encoding: 'utf8',
      });
      if (child.error) return t.skip(`setpriv is not available to drop root: ${child.error.message}`);
      assert.match(child.stdout.trim(), /locked\.png: permission denied$/, child.stderr);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
