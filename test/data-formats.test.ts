// Dataset formats: RecordIO, .bin pickles (ours and Python's), pair lists, CelebA, image folders with attributes.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { readImageBytes } from '../src/data/dataset.js';
import { readAttributesCsv, writeAttributesCsv } from '../src/data/readers/attributes.js';
import { readCelebA, writeCelebAAnnotations } from '../src/data/readers/celeba.js';
import { readImageFolder } from '../src/data/readers/image-folder.js';
import { readLfwPairs, readPairList, writeLfwPairs, writePairList } from '../src/data/readers/pairs.js';
import { readPickle } from '../src/data/readers/pickle.js';
import {
  packRecord,
  RecordIOWriter,
  readRecordIndex,
  readRecordIO,
  readRecordPayload,
  unpackRecord,
  writeRecordIO,
} from '../src/data/readers/recordio.js';
import { parseVerificationBin, readVerificationBin, writeVerificationBin } from '../src/data/readers/verification-bin.js';

const here = dirname(fileURLToPath(import.meta.url));
const sharedData = join(here, '..', '..', '..', 'shared', 'data');
const python = ['python3', '/usr/bin/python3'].find(
  (exe) => spawnSync(exe, ['-c', 'import numpy, pickle'], { encoding: 'utf8' }).status === 0,
);

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'catface-data-'));
}

async function jpeg(seed: number, size = 16): Promise<Buffer> {
  const raw = Buffer.alloc(size * size * 3);
  for (let i = 0; i < raw.length; i++) raw[i] = (i * 31 + seed * 97) & 255;
  return sharp(raw, { raw: { width: size, height: size, channels: 3 } })
    .jpeg()
    .toBuffer();
}

function runPy(code: string): string {
  const r = spawnSync(python as string, ['-c', code], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`python failed: ${r.stderr}`);
  return r.stdout;
}

test('RecordIO: writer → reader round trip with header record, identity records and multi-part records', async () => {
  const dir = tempDir();
  try {
    const magicInside = Buffer.alloc(40, 7);
    magicInside.writeUInt32LE(0xced7230a, 8); // forces a split record (aligned magic in the data)
    magicInside.writeUInt32LE(0xced7230a, 20);
    const images = [
      { bytes: await jpeg(1), label: 3 },
      { bytes: await jpeg(2), label: 0 },
      { bytes: magicInside, label: 3 },
      { bytes: await jpeg(4), label: 1 },
    ];
    const rec = join(dir, 'train.rec');
    writeRecordIO(rec, images);
    const index = readRecordIndex(join(dir, 'train.idx'));
    assert.equal(index.size, 1 + 4 + 3); // header, images, identity records
    const header = unpackRecord(readFileSync(rec).subarray(8, 8 + 24 + 8)).header;
    assert.deepEqual(header.label, [5, 8]);
    const ds = readRecordIO(rec);
    assert.deepEqual(ds.classes, ['0', '1', '3']);
    // Grouped by label (stable): label 0, 1, 3, 3.
    assert.deepEqual(
      ds.samples.map((s) => ds.classes[s.label]),
      ['0', '1', '3', '3'],
    );
    const expected = [images[1], images[3], images[0], images[2]];
    ds.samples.forEach((s, i) => {
      assert.deepEqual(readImageBytes(s.image), Buffer.from(expected[i].bytes));
    });
    // Identity record 6 (label '1') covers image 2 only.
    const identity = unpackRecord(readFileSync(rec).subarray((index.get(6) as number) + 8, (index.get(6) as number) + 8 + 32)).header;
    assert.deepEqual(identity.label, [2, 3]);
    // A pack without header record (plain im2rec style, scalar labels) reads too.
    const plain = join(dir, 'plain.rec');
    const w = new RecordIOWriter(plain);
    w.write(0, packRecord(5, images[0].bytes));
    w.write(1, packRecord(2, images[1].bytes));
    w.close();
    const p = readRecordIO(plain);
    assert.deepEqual(p.classes, ['2', '5']);
    assert.deepEqual(readRecordPayload(plain, index.get(0) as number), Buffer.from(images[0].bytes));
    // Wrong offsets are reported by name.
    writeFileSync(join(dir, 'bad.idx'), '0\t3\n');
    writeFileSync(join(dir, 'bad.rec'), readFileSync(plain));
    assert.throws(() => readRecordIO(join(dir, 'bad.rec')), /bad\.rec: no RecordIO magic at offset 3/);
    writeFileSync(join(dir, 'bad2.idx'), '0 x\n');
    writeFileSync(join(dir, 'bad2.rec'), '');
    assert.throws(() => readRecordIO(join(dir, 'bad2.rec')), /bad2\.idx:1: expected "key<TAB>offset"/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('opening a RecordIO pack reads record headers only, not every image (bytes read measured in /proc/self/io)', (t) => {
  if (!existsSync('/proc/self/io')) return t.skip('needs /proc/self/io (Linux)');
  const dir = tempDir();
  try {
    const payload = Buffer.alloc(256 * 1024, 0x5a);
    const rec = join(dir, 'big.rec');
    writeRecordIO(
      rec,
      Array.from({ length: 40 }, (_, i) => ({ bytes: payload, label: i % 4 })),
    );
    const bytesRead = () => Number(/rchar: (\d+)/.exec(readFileSync('/proc/self/io', 'utf8'))?.[1]);
    const before = bytesRead();
    const ds = readRecordIO(rec);
    const read = bytesRead() - before;
    assert.equal(ds.samples.length, 40);
    assert.deepEqual(ds.classes, ['0', '1', '2', '3']);
    assert.ok(read < 1024 * 1024, `read ${read} bytes of a ${40 * payload.length}-byte pack`);
    // a record whose declared length runs past the end of the file is still refused by name
    writeFileSync(join(dir, 'cut.rec'), readFileSync(rec).subarray(0, 20 * payload.length));
    writeFileSync(join(dir, 'cut.idx'), readFileSync(join(dir, 'big.idx')));
    assert.throws(() => readRecordIO(join(dir, 'cut.rec')), /cut\.rec: truncated: .*cut\.rec record \d+ needs \d+ bytes/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('.bin verification files: our writer in both forms, read back and by Python', async (t) => {
  const dir = tempDir();
  try {
    const images = [await jpeg(1), await jpeg(2), await jpeg(3), Buffer.alloc(300, 9)];
    const issame = [true, false];
    for (const form of ['py3', 'py2'] as const) {
      const path = join(dir, `${form}.bin`);
      writeVerificationBin(path, { images, issame }, form);
      const back = readVerificationBin(path);
      assert.deepEqual(back.issame, issame);
      assert.deepEqual(back.images, images);
      if (python) {
        const out = runPy(
          `import pickle, hashlib\nb, s = pickle.load(open(${JSON.stringify(path)}, 'rb'), encoding='bytes')\nprint(len(b), [hashlib.md5(x).hexdigest()[:8] for x in b], list(s))`,
        );
        const { createHash } = await import('node:crypto');
        const md5 = images.map((b) => `'${createHash('md5').update(b).digest('hex').slice(0, 8)}'`).join(', ');
        assert.equal(out.trim(), `4 [${md5}] [True, False]`);
      }
    }
    assert.throws(() => parseVerificationBin(Buffer.from([0x80, 0x04, 0x5d, 0x2e]), 'x.bin'), /x\.bin: expected a pickled pair/);
    assert.throws(
      () => parseVerificationBin(Buffer.from([0x80, 0x04, 0xff, 0x2e]), 'y.bin'),
      /y\.bin: unsupported pickle opcode 0xff at offset 2/,
    );
    assert.throws(() => parseVerificationBin(Buffer.from([0x80, 0x04, 0x42, 9, 0, 0, 0, 1]), 'z.bin'), /z\.bin: truncated pickle/);
    if (!python) return t.skip('python3 with numpy unavailable: Python-written .bin files not tested');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('.bin files written by Python pickle: bytes lists (protocols 2, 4, 5) and numpy issame arrays', async (t) => {
  if (!python) return t.skip('python3 with numpy unavailable');
  const dir = tempDir();
  try {
    const cases = [
      ['list-p2', 'issame', 2],
      ['list-p4', 'issame', 4],
      ['numpy-p2', 'np.array(issame)', 2],
      ['numpy-p4', 'np.array(issame)', 4],
      ['numpy-p5', 'np.array(issame)', 5],
      ['npbool-p4', '[np.bool_(x) for x in issame]', 4],
    ] as const;
    for (const [name, flags, protocol] of cases) {
      const path = join(dir, `${name}.bin`);
      runPy(
        `import pickle, numpy as np\nbins = [bytes([i % 256]) * (i * 37 % 700) for i in range(12)]\nissame = [i % 3 == 0 for i in range(6)]\npickle.dump((bins, ${flags}), open(${JSON.stringify(path)}, 'wb'), protocol=${protocol})`,
      );
      const set = readVerificationBin(path);
      assert.deepEqual(set.issame, [true, false, false, true, false, false], name);
      assert.equal(set.images.length, 12, name);
      set.images.forEach((b, i) => {
        assert.deepEqual(b, Buffer.alloc((i * 37) % 700, i % 256), `${name} image ${i}`);
      });
    }
    // A numpy int64 array decodes with its values.
    const path = join(dir, 'arr.pkl');
    runPy(
      `import pickle, numpy as np\npickle.dump(np.arange(-3, 3, dtype=np.int64).reshape(2, 3), open(${JSON.stringify(path)}, 'wb'), protocol=2)`,
    );
    const arr = readPickle(readFileSync(path)) as unknown as { shape: number[]; toNumbers(): number[] };
    assert.deepEqual(arr.shape, [2, 3]);
    assert.deepEqual(arr.toNumbers(), [-3, -2, -1, 0, 1, 2]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('LFW pairs.txt (3- and 4-column lines, folds) and plain pair lists round-trip', () => {
  const dir = tempDir();
  try {
    for (const [name, n] of [
      ['Ann', 2],
      ['Bob', 1],
    ] as const) {
      mkdirSync(join(dir, name));
      for (let i = 1; i <= n; i++) writeFileSync(join(dir, name, `${name}_${String(i).padStart(4, '0')}.jpg`), 'x');
    }
    const file = join(dir, 'pairs.txt');
    writeLfwPairs(file, 2, 1, [
      { same: true, nameA: 'Ann', numberA: 1, nameB: 'Ann', numberB: 2 },
      { same: false, nameA: 'Ann', numberA: 1, nameB: 'Bob', numberB: 1 },
      { same: true, nameA: 'Ann', numberA: 2, nameB: 'Ann', numberB: 1 },
      { same: false, nameA: 'Bob', numberA: 1, nameB: 'Ann', numberB: 2 },
    ]);
    assert.equal(readFileSync(file, 'utf8').split('\n')[0], '2\t1');
    const lfw = readLfwPairs(file, dir);
    assert.equal(lfw.folds, 2);
    assert.deepEqual(
      lfw.pairs.map((p) => [p.same, p.fold]),
      [
        [true, 0],
        [false, 0],
        [true, 1],
        [false, 1],
      ],
    );
    assert.equal(lfw.pairs[1].b, join(dir, 'Bob', 'Bob_0001.jpg'));
    // Missing image named with file and line; skip policy lists it.
    writeFileSync(file, '1\t1\nAnn\t1\t3\nAnn\t1\tBob\t1\n');
    assert.throws(() => readLfwPairs(file, dir), /pairs\.txt:2: image .*Ann_0003\.jpg not found/);
    const skipped = readLfwPairs(file, dir, { onError: 'skip' });
    assert.equal(skipped.pairs.length, 1);
    assert.match(skipped.report.toString(), /pairs\.txt:2/);
    // pairsDevTrain.txt style: one number N, then N matched and N mismatched lines.
    writeFileSync(file, '1\nAnn\t1\t2\nAnn\t2\tBob\t1\n');
    assert.deepEqual(
      readLfwPairs(file, dir).pairs.map((p) => p.same),
      [true, false],
    );
    writeFileSync(file, '1\t2\nAnn\t1\t2\n');
    assert.throws(() => readLfwPairs(file, dir), /header says 1 folds × 2 pairs × 2 = 4 lines, file has 1/);
    const plain = join(dir, 'plain.txt');
    writePairList(plain, [
      { a: 'Ann/Ann_0001.jpg', b: 'Ann/Ann_0002.jpg', same: true },
      { a: 'Ann/Ann_0001.jpg', b: 'Bob/Bob_0001.jpg', same: false },
    ]);
    const list = readPairList(plain, dir);
    assert.deepEqual(
      list.pairs.map((p) => [p.a, p.same]),
      [
        [join(dir, 'Ann/Ann_0001.jpg'), true],
        [join(dir, 'Ann/Ann_0001.jpg'), false],
      ],
    );
    writeFileSync(plain, 'a b maybe\n');
    assert.throws(() => readPairList(plain, dir, { checkFiles: false }), /plain\.txt:1: expected "pathA pathB same\(1\/0\)"/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('CelebA: published file formats, attribute selection by name, partitions, clear errors', () => {
  const dir = tempDir();
  try {
    mkdirSync(join(dir, 'img_align_celeba'));
    const files = ['000001.jpg', '000002.jpg', '000003.jpg', '000004.jpg'];
    for (const f of files) writeFileSync(join(dir, 'img_align_celeba', f), 'x');
    // Exactly the published layout (two header lines, double spaces before positive values).
    writeFileSync(join(dir, 'identity_CelebA.txt'), '000001.jpg 2880\n000002.jpg 2937\n000003.jpg 2880\n000004.jpg 10\n');
    writeFileSync(join(dir, 'list_eval_partition.txt'), '000001.jpg 0\n000002.jpg 0\n000003.jpg 1\n000004.jpg 2\n');
    writeFileSync(
      join(dir, 'list_attr_celeba.txt'),
      '4\nBald Big_Nose Chubby Eyeglasses Male Narrow_Eyes \n000001.jpg -1  1 -1 -1  1 -1\n000002.jpg  1 -1  1 -1  1  1\n000003.jpg -1  1 -1  1  1 -1\n000004.jpg -1 -1 -1 -1 -1 -1\n',
    );
    const ds = readCelebA(dir);
    assert.deepEqual(ds.attributeNames, ['Male', 'Big_Nose', 'Chubby', 'Narrow_Eyes', 'Bald']);
    assert.deepEqual(ds.classes, ['10', '2880', '2937']);
    assert.deepEqual(
      ds.samples.map((s) => [s.label, ...(s.attributes as number[])]),
      [
        [1, 1, 1, 0, 0, 0],
        [2, 1, 0, 1, 1, 1],
        [1, 1, 1, 0, 0, 0],
        [0, 0, 0, 0, 0, 0],
      ],
    );
    assert.equal(readCelebA(dir, { partition: 'train' }).samples.length, 2);
    assert.deepEqual(
      readCelebA(dir, { attributes: ['Eyeglasses'] }).samples.map((s) => s.attributes),
      [[0], [0], [1], [0]],
    );
    assert.throws(
      () => readCelebA(dir, { attributes: ['Smiling'] }),
      /unknown attribute 'Smiling'; valid names: Bald, Big_Nose, Chubby, Eyeglasses, Male, Narrow_Eyes/,
    );
    rmSync(join(dir, 'img_align_celeba', '000003.jpg'));
    assert.throws(() => readCelebA(dir), /list_attr_celeba\.txt:5: image '000003\.jpg' not found/);
    const skipped = readCelebA(dir, { onError: 'skip' });
    assert.equal(skipped.samples.length, 3);
    assert.equal(skipped.report.size, 1);
    // The writer emits the same format the reader takes.
    const out = join(dir, 'packed');
    writeCelebAAnnotations(out, ['Male', 'Bald'], [{ file: '000001.jpg', identity: 7, partition: 'test', attributes: [1, -1] }]);
    const back = readCelebA(out, { attributes: ['Bald', 'Male'], checkFiles: false, partition: 'test' });
    assert.deepEqual(back.samples[0].attributes, [0, 1]);
    assert.deepEqual(back.classes, ['7']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('ORL reads as an image folder with attributes.csv', (t) => {
  const orl = join(sharedData, 'orl');
  if (!existsSync(orl)) return t.skip(`ORL not found at ${orl}`);
  const ds = readImageFolder(orl);
  assert.equal(ds.classes.length, 40);
  assert.equal(ds.samples.length, 400);
  assert.deepEqual(ds.attributeNames, ['male']);
  const female = new Set(['s8', 's10', 's32', 's35']);
  for (const s of ds.samples) assert.deepEqual(s.attributes, [female.has(ds.classes[s.label]) ? 0 : 1]);
  assert.equal(ds.samples[0].image.kind === 'file' && ds.samples[0].image.path, join(orl, 's1', '1.png'));
  assert.equal(ds.samples[1].image.kind === 'file' && ds.samples[1].image.path, join(orl, 's1', '2.png'));
  assert.throws(() => readImageFolder(orl, { attributes: ['Bald'] }), /attributes\.csv: unknown attribute 'Bald'; valid names: male/);
});

test('attributes.csv: identity names the reader would split or trim are refused by name, others round-trip', () => {
  const dir = tempDir();
  try {
    const file = join(dir, 'attributes.csv');
    const names = ['Male'];
    for (const bad of ['Smith, John', 'two\nlines', ' padded', '']) {
      assert.throws(
        () => writeAttributesCsv(file, { names, rows: new Map([[bad, [1]]]) }),
        (error: Error) => error.message.startsWith(`${file}: identity ${JSON.stringify(bad)} cannot be written`),
      );
      assert.equal(existsSync(file), false);
    }
    const rows = new Map([
      ['Smith_John', [1]],
      ['José Ñúñez', [0]],
    ]);
    writeAttributesCsv(file, { names, rows });
    assert.deepEqual(readAttributesCsv(file).rows, rows);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
