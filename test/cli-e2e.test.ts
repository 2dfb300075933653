// Every `catface` command run as a user runs it: a spawned `node dist/src/cli/main.js …` with real flags on
// small real data (../shared/data, skipped with a message when absent) and on the project's own synthetic
// faces, checking what it prints and writes against values worked out by hand. One tiny model, trained once
// through `catface train` in before(), serves every eval test.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { writeVerificationBin } from '../src/data/readers/verification-bin.js';
import { FaceModel, templateFor, torch } from '../src/index.js';
import { loadSafetensors, saveSafetensors } from '../src/nn/safetensors.js';
import { expectedAttributes, type FaceParameters } from './helpers/synth-rules.js';

const here = dirname(fileURLToPath(import.meta.url));
const cli = join(here, '..', 'src', 'cli', 'main.js');
const sharedData = join(here, '..', '..', '..', 'shared', 'data');
const yale = join(sharedData, 'yale');
const orl = join(sharedData, 'orl');

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** `catface …` in a child process on one thread (so runs are reproducible and light on a shared machine). */
function catface(...args: string[]): Run {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env: { ...process.env, CATFACE_THREADS: '1' } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function ok(...args: string[]): Run {
  const r = catface(...args);
  assert.equal(r.status, 0, `catface ${args.join(' ')} failed (${r.status}):\n${r.stderr}`);
  return r;
}

let root: string;
/** 8 synthetic identities × 6 images, 32 px: the training set. */
let trainSet: string;
/** 12 other synthetic identities × 2 images, 32 px: the evaluation faces. */
let faces: string;
/** The model `catface train` exported from the tiny config (stage 1 + stage 2, fused embedding). */
let model: string;
/** The uninterrupted run's directory (metrics.jsonl is the reference loss sequence). */
let wholeRun: string;

function tinyConfig(outDir: string): string {
  const path = join(root, `${outDir.split('/').at(-1)}.json`);
  const config = {
    seed: 7,
    threads: 1,
    outDir,
    data: { train: trainSet, imageSize: 32, workers: 0 },
    model: { widths: [8, 8, 16, 16], embeddingSize: 16, heads: 2, groups: 2, expandRatio: 2 },
    stage1: { steps: 20, batchSize: 8, optim: { lr: 0.05, warmupSteps: 3, milestones: [15] } },
    stage2: { steps: 10, batchSize: 8, optim: { lr: 0.05 } },
    checkpoint: { every: 10, keep: 10 },
    log: { progress: 'off' },
  };
  writeFileSync(path, JSON.stringify(config));
  return path;
}

const face = (id: number, k: number) => join(faces, `id${String(id).padStart(5, '0')}`, `00${k}.png`);

function trainLosses(runDir: string): [number, number][] {
  return readFileSync(join(runDir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line))
    .filter((r) => r.kind === 'train')
    .map((r) => [r.step, r.loss]);
}

before(() => {
  root = mkdtempSync(join(tmpdir(), 'catface-e2e-'));
  trainSet = join(root, 'train-set');
  faces = join(root, 'faces');
  ok('synth', '--out', trainSet, '--identities', '8', '--images', '6', '--size', '32', '--seed', '1');
  ok('synth', '--out', faces, '--identities', '12', '--images', '2', '--size', '32', '--seed', '9');
  wholeRun = join(root, 'whole');
  ok('train', '--config', tinyConfig(wholeRun));
  model = join(wholeRun, 'model');
});

after(() => rmSync(root, { recursive: true, force: true }));

test('catface info: libtorch version, the thread count CATFACE_THREADS asked for, devices', () => {
  const r = ok('info');
  assert.match(r.stdout, /^libtorch \d+\.\d+\.\d+/m);
  assert.match(r.stdout, /^threads {2}1$/m);
  assert.match(r.stdout, /^cuda {5}(not available|\d+ device\(s\))$/m);
  assert.match(r.stdout, /at::get_num_threads\(\) : 1/);
});

test('catface synth: the files, attributes.csv from the face parameters by hand-written rules, same bytes per seed', async () => {
  const dirs = ['a', 'b', 'c'].map((n) => join(root, `synth-${n}`));
  const args = ['--identities', '5', '--images', '3', '--size', '32'];
  const first = ok('synth', '--out', dirs[0], ...args, '--seed', '3');
  ok('synth', '--out', dirs[1], ...args, '--seed', '3');
  ok('synth', '--out', dirs[2], ...args, '--seed', '4');
  assert.match(first.stdout, /^wrote 15 images of 5 identities to /m);
  const names = ['id00000', 'id00001', 'id00002', 'id00003', 'id00004'];
  // .catface-output.json records what synth wrote (src/io/owned-folder.ts)
  assert.deepEqual(readdirSync(dirs[0]).sort(), ['.catface-output.json', 'attributes.csv', ...names, 'identities.json']);
  let differs = 0;
  for (const name of names) {
    assert.deepEqual(readdirSync(join(dirs[0], name)), ['000.png', '001.png', '002.png']);
    for (const k of ['000.png', '001.png', '002.png']) {
      const bytes = readFileSync(join(dirs[0], name, k));
      assert.ok(bytes.equals(readFileSync(join(dirs[1], name, k))), `${name}/${k} differs between two runs with seed 3`);
      if (!bytes.equals(readFileSync(join(dirs[2], name, k)))) differs++;
      const meta = await sharp(bytes).metadata();
      assert.deepEqual([meta.width, meta.height], [32, 32]);
    }
  }
  assert.equal(differs, 15, 'seed 4 draws other faces');
  for (const file of ['attributes.csv', 'identities.json'])
    assert.ok(readFileSync(join(dirs[0], file)).equals(readFileSync(join(dirs[1], file))), `${file} is deterministic`);
  const rows = readFileSync(join(dirs[0], 'attributes.csv'), 'utf8').trim().split('\n');
  assert.equal(rows[0], 'identity,Male,Big_Nose,Chubby,Narrow_Eyes,Bald');
  assert.equal(rows.length, 6);
  const identities = JSON.parse(readFileSync(join(dirs[0], 'identities.json'), 'utf8')).identities as {
    name: string;
    face: FaceParameters;
    gender: string;
  }[];
  const counts = [0, 0, 0, 0, 0];
  identities.forEach((id, i) => {
    const expected = expectedAttributes(id.face, id.gender);
    assert.equal(rows[i + 1], [id.name, ...expected].join(','), `${id.name}: attributes from its face parameters`);
    expected.forEach((v, a) => {
      counts[a] += v;
    });
  });
  assert.match(
    first.stdout,
    new RegExp(
      `positives: Male ${counts[0]}, Big_Nose ${counts[1]}, Chubby ${counts[2]}, Narrow_Eyes ${counts[3]}, Bald ${counts[4]} of 5`,
    ),
  );
});

test('catface degrade --save --out: noise σ, gamma and low light measured on the saved images of a flat grey face', async () => {
  const flat = join(root, 'flat.png');
  await sharp({ create: { width: 40, height: 40, channels: 3, background: { r: 128, g: 128, b: 128 } } })
    .png()
    .toFile(flat);
  const saved = join(root, 'degraded');
  const sheet = join(root, 'sheet.png');
  const r = ok('degrade', flat, '--save', saved, '--out', sheet, '--size', '32', '--seed', '5');
  assert.match(r.stdout, /wrote 66 images to /);
  const files = readdirSync(saved).filter((name) => name !== '.catface-output.json'); // the ownership record
  assert.equal(files.length, 66);
  const pixels = async (pattern: RegExp): Promise<Buffer> => {
    const name = files.find((f) => pattern.test(f));
    assert.ok(name, `no saved image matches ${pattern}`);
    const { data, info } = await sharp(join(saved, name)).raw().toBuffer({ resolveWithObject: true });
    assert.deepEqual([info.width, info.height, info.channels], [32, 32, 3]);
    return data;
  };
  const stats = (data: Buffer) => {
    const mean = data.reduce((s, v) => s + v, 0) / data.length;
    return { mean, std: Math.sqrt(data.reduce((s, v) => s + (v - mean) ** 2, 0) / data.length) };
  };
  // Gaussian noise of σ/255 on [0, 1] is σ grey levels: on 3072 samples the standard deviation is within ±1.5.
  for (const sigma of [2, 8, 20]) {
    const s = stats(await pixels(new RegExp(`^flat_gaussian-noise_-${sigma}-255\\.png$`)));
    assert.ok(Math.abs(s.std - sigma) < (sigma > 2 ? 1.5 : 0.4), `noise σ ${sigma}: measured ${s.std.toFixed(2)}`);
    assert.ok(Math.abs(s.mean - 128) < 1.5, `noise σ ${sigma} keeps the mean: ${s.mean.toFixed(2)}`);
  }
  // Gamma is x^γ; low light is contrast about the mean (a no-op on a flat image), then × brightness.
  for (const [pattern, value] of [
    [/^flat_gamma_-1\.8\.png$/, 255 * (128 / 255) ** 1.8],
    [/^flat_gamma_-0\.6\.png$/, 255 * (128 / 255) ** 0.6],
    [/^flat_low-light_-0\.15\.png$/, 128 * 0.15],
  ] as const) {
    const data = await pixels(pattern);
    assert.ok(
      data.every((v) => v === Math.round(value)),
      `${pattern}: expected every pixel ${Math.round(value)}, got ${[...new Set(data)]}`,
    );
  }
  // The sheet: a label column and 7 cells of 32 + 4 px per row; 11 rows of 32 + 16 + 4 px.
  const meta = await sharp(sheet).metadata();
  assert.deepEqual([meta.width, meta.height], [130 + 7 * 36 + 4, 11 * 52 + 4]);
});

test('catface align on Yale: landmarks where faces have them, crops on the template, a re-run skips', async (t) => {
  if (!existsSync(yale)) return t.skip(`Yale not found at ${yale}: catface align end-to-end test skipped`);
  const input = join(root, 'yale-in');
  const sources = ['subject02/happy.png', 'subject02/normal.png', 'subject07/glasses.png', 'subject11/noglasses.png'];
  for (const s of sources) {
    mkdirSync(dirname(join(input, s)), { recursive: true });
    copyFileSync(join(yale, s), join(input, s));
  }
  const output = join(root, 'yale-aligned');
  const r = ok('align', input, output, '--size', '64', '--workers', '0');
  assert.match(r.stdout, /processed 4 image\(s\), 4 aligned, skipped 0 already done/);
  const manifest = JSON.parse(readFileSync(join(output, 'manifest.json'), 'utf8'));
  assert.deepEqual(
    manifest.entries.map((e: { source: string }) => e.source),
    sources,
  );
  const template = templateFor(64);
  for (const entry of manifest.entries as { source: string; output: string; landmarks: number[][] }[]) {
    const [leftEye, rightEye, nose, leftMouth, rightMouth] = entry.landmarks;
    // Yale's 320×243 frames hold an upright face about 150 px wide near the middle.
    for (const [x, y] of entry.landmarks) assert.ok(x > 60 && x < 260 && y > 40 && y < 220, `${entry.source}: landmark (${x}, ${y})`);
    const eyes = Math.hypot(rightEye[0] - leftEye[0], rightEye[1] - leftEye[1]);
    assert.ok(eyes > 40 && eyes < 110, `${entry.source}: eyes ${eyes.toFixed(1)} px apart`);
    assert.ok(Math.abs(rightEye[1] - leftEye[1]) < 0.2 * eyes, `${entry.source}: eyes level`);
    assert.ok(leftEye[0] < nose[0] && nose[0] < rightEye[0], `${entry.source}: nose between the eyes`);
    assert.ok(
      Math.max(leftEye[1], rightEye[1]) < nose[1] && nose[1] < Math.min(leftMouth[1], rightMouth[1]),
      `${entry.source}: eyes, nose, mouth`,
    );
    assert.ok(leftMouth[0] < rightMouth[0]);
    // The crop: 64×64, and the darkest row band is the eyes' (pupils, brows) rather than the cheeks' below them.
    const { data, info } = await sharp(join(output, entry.output)).greyscale().raw().toBuffer({ resolveWithObject: true });
    assert.deepEqual([info.width, info.height], [64, 64]);
    const band = (y: number) => {
      let s = 0;
      for (let yy = y - 2; yy <= y + 2; yy++) for (let x = 16; x < 48; x++) s += data[yy * 64 + x];
      return s / (5 * 32);
    };
    const eyeRow = Math.round(template[0][1]);
    const cheekRow = Math.round((template[0][1] + template[3][1]) / 2);
    assert.ok(band(eyeRow) < band(cheekRow), `${entry.source}: eye band ${band(eyeRow).toFixed(0)} vs cheeks ${band(cheekRow).toFixed(0)}`);
  }
  const again = ok('align', input, output, '--size', '64', '--workers', '0');
  assert.match(again.stdout, /processed 0 image\(s\), 0 aligned, skipped 4 already done/);
});

test('catface train --schema, then --stop-after 13 and --resume: the same losses and weights as one uninterrupted run', () => {
  const schema = ok('train', '--schema').stdout;
  for (const field of ['stage1.steps', 'stage2.batchSize', 'checkpoint.every', 'data.imageSize', 'model.fusion'])
    assert.ok(schema.includes(field), `--schema lists ${field}`);
  const split = join(root, 'split');
  const config = tinyConfig(split);
  const stopped = ok('train', '--config', config, '--stop-after', '13');
  assert.match(stopped.stdout, new RegExp(`stopped after step 13; resume with: catface train --config ${config} --resume`));
  assert.deepEqual(readdirSync(join(split, 'checkpoints')).sort(), ['step-00000010', 'step-00000013']);
  assert.equal(existsSync(join(split, 'model')), false, 'no model before the last step');
  const reference = trainLosses(wholeRun);
  assert.equal(reference.length, 30);
  assert.deepEqual(trainLosses(split), reference.slice(0, 13));
  const resumed = ok('train', '--config', config, '--resume');
  assert.match(resumed.stdout, /trained 30 steps; model written to /);
  assert.deepEqual(trainLosses(split), reference, 'the resumed run logs exactly the uninterrupted losses');
  assert.ok(
    readFileSync(join(split, 'model', 'weights.safetensors')).equals(readFileSync(join(model, 'weights.safetensors'))),
    'the resumed run ends with the same weights',
  );
});

/** A .bin of 10 genuine pairs (a face, its mirror image) and 10 impostor pairs, of which the first `ties` are
 * also a face and its mirror (so they score like the genuine pairs) and the rest two different people. */
async function mirrorBin(path: string, ties: number): Promise<void> {
  const png = (file: string, mirror = false) => (mirror ? sharp(file).flop() : sharp(file)).png().toBuffer();
  const images: Buffer[] = [];
  for (let i = 0; i < 10; i++) images.push(await png(face(i, 0)), await png(face(i, 0), true));
  for (let i = 0; i < 10; i++) {
    if (i < ties) images.push(await png(face(i, 1)), await png(face(i, 1), true));
    else images.push(await png(face(i, 1)), await png(face((i + 1) % 12, 0)));
  }
  writeVerificationBin(path, { images, issame: [...Array(10).fill(true), ...Array(10).fill(false)] });
}

test('catface eval verify --bin --metric distance --fusion sum|none --out --report --bootstrap: metrics worked out by hand', async () => {
  const bin = join(root, 'mirror.bin');
  await mirrorBin(bin, 2);
  const summed = join(root, 'verify-sum.json');
  const r = ok(
    'eval',
    'verify',
    '--bin',
    bin,
    '--model',
    model,
    '--metric',
    'distance',
    '--fusion',
    'sum',
    '--bootstrap',
    '0',
    '--json',
    '--out',
    summed,
  );
  const json = JSON.parse(r.stdout);
  assert.deepEqual([json.model, json.dataset, json.pairs, json.genuine, json.impostor], ['model', 'mirror.bin', 20, 10, 10]);
  // Flip fusion sums the embeddings of a crop and of its mirror image, so a face and its mirror embed alike:
  // every genuine pair and the 2 tied impostors score −0 (squared distance 0); the 8 others score below.
  const record = JSON.parse(readFileSync(summed, 'utf8'));
  const scores: number[] = record.scores;
  assert.deepEqual(
    scores.slice(0, 12).map((s) => s === 0),
    Array(12).fill(true),
    `genuine and tied scores ${scores.slice(0, 12)}`,
  );
  assert.ok(
    scores.slice(12).every((s) => s < -0.01),
    `different people are apart: ${scores.slice(12)}`,
  );
  // AUC: 8 of 10 impostors below every genuine pair, 2 tied (half credit) = (8 + 1) / 10.
  assert.ok(Math.abs(json.auc.value - 0.9) < 1e-12, `AUC ${json.auc.value}`);
  // Contiguous folds of 2 pairs: 5 genuine folds, the tied fold, 4 other impostor folds. Any threshold fitted on
  // 9 folds accepts distance 0 and rejects different people: every fold scores 1 but the tied one, 0 → 0.9.
  assert.ok(Math.abs(json.accuracy.value - 0.9) < 1e-12, `10-fold accuracy ${json.accuracy.value}`);
  // EER: the ROC goes from (FAR 0, TAR 0) to (0.2, 1) in one step (the tie), crossing FAR = 1 − TAR at 1/6.
  assert.ok(Math.abs(json.eer.value - 1 / 6) < 1e-9, `EER ${json.eer.value}`);
  // TAR@FAR=0.1 must reject the tied impostors, which also rejects every genuine pair: 0.
  const far1 = json.tarAtFar.find((t: { far: number }) => t.far === 0.1);
  assert.equal(far1?.value, 0, `TAR@FAR=0.1 ${JSON.stringify(far1)}`);
  assert.ok(json.tarAtFar.filter((t: { far: number }) => t.far < 0.1).every((t: { value: number | null }) => t.value === null));

  // Without flip fusion a face and its mirror are two different crops: no pair scores exactly 0.
  const plain = join(root, 'verify-none.json');
  const reportDir = join(root, 'verify-report');
  const none = ok(
    'eval',
    'verify',
    '--bin',
    bin,
    '--model',
    model,
    '--metric',
    'distance',
    '--fusion',
    'none',
    '--bootstrap',
    '100',
    '--out',
    plain,
    '--report',
    reportDir,
  );
  assert.match(none.stdout, /model on mirror\.bin: 20 pairs \(10 genuine, 10 impostor\)/);
  assert.match(none.stdout, /^ {2}AUC +\d+\.\d\d \[\d+\.\d\d, \d+\.\d\d\]$/m);
  assert.match(none.stdout, /report: .*index\.html/);
  const noneScores: number[] = JSON.parse(readFileSync(plain, 'utf8')).scores;
  assert.ok(
    noneScores.every((s) => s < 0),
    `no exact match without fusion: ${noneScores}`,
  );
  const html = readFileSync(join(reportDir, 'index.html'), 'utf8');
  const figures = [...html.matchAll(/<img src="([^"]+)"/g)].map((m) => m[1]);
  assert.ok(figures.length >= 2, `report figures ${figures}`);
  for (const f of figures) assert.ok(existsSync(join(reportDir, f)), f);

  // Cosine with norm-weighted fusion: still exactly tied for a face and its mirror, so AUC is again 0.9 at most;
  // the table output names the metrics.
  const cosine = ok('eval', 'verify', '--bin', bin, '--model', model, '--fusion', 'norm-weighted', '--bootstrap', '0', '--json');
  const c = JSON.parse(cosine.stdout);
  assert.equal(c.pairs, 20);
  assert.ok(c.auc.value >= 0.85 && c.auc.value <= 0.95, `cosine AUC ${c.auc.value}`);

  // catface report on both saved results: one page, both rows, every figure on disk.
  const combined = join(root, 'combined-report');
  const rep = ok('report', '--out', combined, '--title', 'sum vs none', summed, plain);
  assert.match(rep.stdout, /report: .*index\.html \(\d+ figures\)/);
  const page = readFileSync(join(combined, 'index.html'), 'utf8');
  assert.match(page, /sum vs none/);
  assert.match(page, /90\.0/);
  const pageFigures = [...page.matchAll(/<img src="([^"]+)"/g)].map((m) => m[1]);
  assert.ok(pageFigures.length >= 2, `report figures ${pageFigures}`);
  for (const src of pageFigures) assert.ok(existsSync(join(combined, src)), src);
});

test('catface eval verify --list --cache: the cache is read instead of the model, and a changed image or model recomputes', () => {
  const list = join(root, 'pairs.txt');
  const lines: string[] = [];
  for (let i = 0; i < 6; i++) lines.push(`id0000${i}/000.png id0000${i}/001.png 1`, `id0000${i}/000.png id0000${(i + 1) % 6}/001.png 0`);
  writeFileSync(list, `${lines.join('\n')}\n`);
  const cache = join(root, 'cache');
  const args = ['eval', 'verify', '--list', list, '--root', faces, '--cache', cache, '--bootstrap', '0', '--json'];
  const first = JSON.parse(ok(...args, '--model', model).stdout);
  assert.equal(first.pairs, 12);
  const cached = readdirSync(cache);
  assert.equal(cached.length, 1);
  // Doctor the cache: genuine pairs orthogonal, impostor pairs identical. A model never scores that way; a
  // run that reads the cache gets AUC 0 exactly.
  const file = join(cache, cached[0]);
  const { tensors } = loadSafetensors(file);
  const rows = tensors.get('embeddings') as torch.Tensor;
  assert.deepEqual(rows.shape, [12, 16]);
  // Rows follow the files in first-seen order; i/000 gets axis i, i/001 axis i − 1: each genuine pair is
  // orthogonal, each impostor pair (i/000, (i + 1)/001) the same vector.
  const order = [...new Set(lines.flatMap((l) => l.split(' ').slice(0, 2)))];
  const doctored = order.map((f) => {
    const [, id, k] = /id0000(\d)\/00(\d)/.exec(f) as RegExpExecArray;
    const v = new Array(16).fill(0);
    v[k === '0' ? Number(id) : (Number(id) + 5) % 6] = 1;
    return v;
  });
  saveSafetensors(file, { embeddings: torch.tensor(doctored) });
  torch.dispose([...tensors.values()]);
  const fromCache = JSON.parse(ok(...args, '--model', model).stdout);
  assert.equal(fromCache.auc.value, 0, 'the second run scored the cached (doctored) embeddings');
  assert.equal(readdirSync(cache).length, 1);

  // A touched image changes the key: recomputed from the model.
  const touched = join(faces, 'id00003', '001.png');
  utimesSync(touched, new Date(), new Date(Date.now() + 5000));
  const recomputed = JSON.parse(ok(...args, '--model', model).stdout);
  assert.equal(recomputed.auc.value, first.auc.value);
  assert.equal(readdirSync(cache).length, 2);

  // New weights in the same model directory must not be answered from the old model's cache.
  const copy = join(root, 'model');
  mkdirSync(copy);
  for (const f of ['model.json', 'weights.safetensors']) copyFileSync(join(model, f), join(copy, f));
  const scoresOf = (out: string) => JSON.parse(readFileSync(out, 'utf8')).scores as number[];
  ok(...args, '--model', copy, '--out', join(root, 'old-weights.json'));
  const weights = loadSafetensors(join(copy, 'weights.safetensors')).tensors;
  torch.manualSeed(3);
  const changed = new Map(
    [...weights].map(([k, v]) => [k, v.isFloatingPoint && k.includes('weight') ? v.add(torch.randn(v.shape).mul(0.5)) : v]),
  );
  saveSafetensors(join(copy, 'weights.safetensors'), changed);
  torch.dispose([...weights.values(), ...changed.values()]);
  ok(...args, '--model', copy, '--out', join(root, 'new-weights.json'));
  const [old, fresh] = [scoresOf(join(root, 'old-weights.json')), scoresOf(join(root, 'new-weights.json'))];
  assert.ok(
    old.every((s, i) => Math.abs(s - fresh[i]) > 1e-4),
    `scores from the new weights, not the cached old ones: ${old} vs ${fresh}`,
  );
});

test('catface eval verify --list --peer faceapi on ORL pairs', { timeout: 300_000 }, (t) => {
  if (!existsSync(orl)) return t.skip(`ORL not found at ${orl}: face-api peer end-to-end test skipped`);
  const list = join(root, 'orl-pairs.txt');
  const lines: string[] = [];
  for (let s = 1; s <= 6; s++) lines.push(`s${s}/1.png s${s}/2.png 1`, `s${s}/3.png s${s + 1}/3.png 0`);
  writeFileSync(list, `${lines.join('\n')}\n`);
  const r = ok(
    'eval',
    'verify',
    '--list',
    list,
    '--root',
    orl,
    '--peer',
    'faceapi',
    '--bootstrap',
    '0',
    '--json',
    '--cache',
    join(root, 'peer-cache'),
  );
  const json = JSON.parse(r.stdout);
  assert.deepEqual([json.model, json.pairs, json.genuine], ['faceapi', 12, 6]);
  // face-api.js tells ORL's people apart (rank-1 98% in eval-peer.test; AUC 0.89 measured on these 12 pairs).
  assert.ok(json.auc.value >= 0.8, `face-api AUC on 12 ORL pairs ${json.auc.value}`);
});

test('catface eval identify --protocol loo|first: exact duplicates are found at rank 1, unmatched probes counted', () => {
  // 4 people with two copies of one image, 3 people with one image.
  const folder = join(root, 'gallery');
  for (let i = 0; i < 7; i++) {
    mkdirSync(join(folder, `p${i}`), { recursive: true });
    copyFileSync(face(i, 0), join(folder, `p${i}`, 'a.png'));
    if (i < 4) copyFileSync(face(i, 0), join(folder, `p${i}`, 'b.png'));
  }
  const loo = JSON.parse(ok('eval', 'identify', '--folder', folder, '--model', model, '--bootstrap', '0', '--json').stdout);
  assert.equal(loo.protocol, 'leave-one-out');
  assert.deepEqual([loo.probes, loo.matedProbes], [11, 8]);
  assert.equal(loo.ranks.find((r: { rank: number }) => r.rank === 1).value, 1);
  const first = JSON.parse(
    ok('eval', 'identify', '--folder', folder, '--model', model, '--protocol', 'first', '--json', '--bootstrap', '20').stdout,
  );
  assert.deepEqual([first.probes, first.matedProbes], [4, 4]);
  const rank1 = first.ranks.find((r: { rank: number }) => r.rank === 1);
  assert.deepEqual([rank1.value, rank1.low, rank1.high], [1, 1, 1]);
  const bad = catface('eval', 'identify', '--folder', folder, '--model', model, '--protocol', 'closed');
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--protocol must be loo or first, got 'closed'/);
});

test('catface eval attributes: accuracy and balanced accuracy equal a hand count over the FaceModel predictions', async () => {
  const r = ok('eval', 'attributes', '--folder', faces, '--model', model, '--json', '--bootstrap', '0');
  const json = JSON.parse(r.stdout);
  assert.deepEqual([json.model, json.dataset], ['model', 'faces']);
  const csv = readFileSync(join(faces, 'attributes.csv'), 'utf8').trim().split('\n');
  const names = csv[0].split(',').slice(1);
  const labels = new Map(csv.slice(1).map((line) => [line.split(',')[0], line.split(',').slice(1).map(Number)]));
  const files = readdirSync(faces)
    .filter((d) => /^id\d+$/.test(d))
    .flatMap((d) => ['000.png', '001.png'].map((f) => join(faces, d, f)));
  const fm = FaceModel.load(model);
  const predicted = await fm.attributes(files);
  fm.dispose();
  assert.equal(json.attributes.length, 5);
  names.forEach((name, a) => {
    let correct = 0;
    const tally = { tp: 0, tn: 0, p: 0, n: 0 };
    files.forEach((file, i) => {
      const label = (labels.get(file.split('/').at(-2) as string) as number[])[a];
      const yes = predicted[i][name] > 0.5 ? 1 : 0;
      correct += yes === label ? 1 : 0;
      if (label) {
        tally.p++;
        tally.tp += yes;
      } else {
        tally.n++;
        tally.tn += 1 - yes;
      }
    });
    const m = json.attributes[a];
    assert.equal(m.name, name);
    assert.ok(Math.abs(m.accuracy - correct / 24) < 1e-12, `${name} accuracy ${m.accuracy} vs ${correct}/24`);
    // Balanced accuracy: the mean of the recalls of the classes present.
    const recalls = [tally.p > 0 ? tally.tp / tally.p : null, tally.n > 0 ? tally.tn / tally.n : null].filter((x) => x !== null);
    const balanced = recalls.reduce((x, y) => x + y, 0) / recalls.length;
    assert.ok(Math.abs(m.balancedAccuracy - balanced) < 1e-12, `${name} balanced ${m.balancedAccuracy} vs ${balanced}`);
    assert.deepEqual([m.positives, m.negatives], [tally.p, tally.n]);
  });
});

test('catface eval ijb --images --model on an IJB-layout fixture: the duplicate template is the one genuine match', () => {
  const ijb = join(root, 'IJBZ');
  const images = join(root, 'ijb-images');
  mkdirSync(join(ijb, 'meta'), { recursive: true });
  mkdirSync(images);
  for (const [name, source] of [
    ['1.png', face(0, 0)],
    ['2.png', face(0, 0)],
    ['3.png', face(1, 0)],
    ['4.png', face(2, 1)],
    ['5.png', face(3, 1)],
  ] as const)
    copyFileSync(source, join(images, name));
  // Template 1 = images 1 and 5 (two media), template 2 = a copy of image 1 and image 5, templates 3 and 4 others.
  writeFileSync(join(ijb, 'meta', 'ijbz_face_tid_mid.txt'), '1.png 1 1\n5.png 1 2\n2.png 2 3\n5.png 2 4\n3.png 3 5\n4.png 4 6\n');
  writeFileSync(join(ijb, 'meta', 'ijbz_template_pair_label.txt'), '1 2 1\n1 3 0\n1 4 0\n2 3 0\n2 4 0\n3 4 0\n');
  const r = ok('eval', 'ijb', '--meta', ijb, '--images', images, '--model', model, '--json', '--cache', join(root, 'ijb-cache'));
  const json = JSON.parse(r.stdout);
  assert.deepEqual([json.dataset, json.pairs, json.genuine], ['ijbz', 6, 1]);
  // Templates 1 and 2 pool the same two crops: cosine 1, above every impostor pair.
  assert.equal(json.auc.value, 1);
  const saved = join(root, 'ijb-features-model.json');
  ok('eval', 'ijb', '--meta', ijb, '--images', images, '--model', model, '--out', saved);
  assert.equal(JSON.parse(readFileSync(saved, 'utf8')).scores.length, 6);
});

test('catface demo on a reduced config: the report, and the exported fused model loads through FaceModel', async () => {
  const out = join(root, 'demo');
  const config = join(root, 'demo.json');
  writeFileSync(
    config,
    JSON.stringify({
      seed: 1,
      threads: 1,
      outDir: out,
      data: { train: 'replaced-by-demo', imageSize: 32, workers: 0 },
      model: { widths: [8, 8, 16, 16], embeddingSize: 16, heads: 2, groups: 2, expandRatio: 2, fusion: 'catf' },
      stage1: { steps: 8, batchSize: 8, optim: { lr: 0.05 } },
      stage2: { steps: 6, batchSize: 8, optim: { lr: 0.05 } },
      checkpoint: { every: 0, keep: 1 },
      log: { progress: 'off' },
    }),
  );
  const small = ['--identities', '10', '--images', '3', '--test-identities', '10', '--test-images', '2', '--threads', '1'];
  const r = ok('demo', '--out', out, '--config', config, ...small);
  assert.match(r.stdout, /1\/4 synthesising 10 training and 10 held-out identities \(32 px\)/);
  assert.match(r.stdout, /30 \+ 20 images/);
  assert.match(r.stdout, /training stage 1 \(8 steps\) and stage 2 \(6 steps\)/);
  // 10 genuine + 10 impostor pairs: every accuracy is a multiple of 5%.
  const rows = r.stdout.split('\n').filter((l) => /^(clean|degraded)/.test(l));
  assert.equal(rows.length, 6);
  for (const row of rows) {
    const accuracy = Number(/ (\d+\.\d\d)%/.exec(row)?.[1]);
    assert.ok(Number.isInteger(Math.round(accuracy * 100)) && Math.abs(accuracy / 5 - Math.round(accuracy / 5)) < 1e-9, row);
  }
  assert.ok(existsSync(join(out, 'report', 'index.html')));
  assert.equal(r.stdout.match(/^model: +(.*)$/m)?.[1], join(out, 'model'));

  const fm = FaceModel.load(join(out, 'model'));
  try {
    assert.equal(fm.spec.defaultEmbedding, 'fused');
    assert.equal(fm.model.fusion?.kind, 'catf');
    const [a, b] = [join(out, 'data', 'test', 'id00000', '000.png'), join(out, 'data', 'test', 'id00001', '000.png')];
    const [ea, eb] = await fm.embed([a, b]);
    const [fr] = await fm.embed([a], 'fr');
    assert.equal(ea.length, 16);
    assert.ok(Math.abs(Math.hypot(...ea) - 1) < 1e-5, 'unit fused embedding');
    assert.ok(Math.hypot(...ea.map((v, i) => v - fr[i])) > 1e-3, 'the fused embedding is not the FR one');
    const same = await fm.verify(a, a);
    assert.ok(Math.abs(same.similarity - 1) < 1e-5);
    const other = await fm.verify(a, b);
    assert.ok(Math.abs(other.similarity - ea.reduce((s, v, i) => s + v * eb[i], 0)) < 1e-6);
    if (other.threshold !== null) assert.equal(other.same, other.similarity >= other.threshold);
  } finally {
    fm.dispose();
  }
});
