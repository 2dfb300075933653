// The CLI-wide bad-input corpus: well over 200 generated cases across every command — broken and unusual image
// files, empty / one-identity / looping / colliding folders, outputs nested in inputs, configs and flags of the
// wrong type or out of range, unknown flags, reused and mismatched run directories, corrupt checkpoints and
// the leftovers of a kill -9 mid-write. Each case asserts the exit code, that the message names the input
// (file, folder, field or flag), and that every file that existed before is byte-identical afterwards. Cases
// run in-process through runCli (fast); a representative subset is spawned as the real `catface` binary.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runCli } from '../src/cli/run-cli.js';
import { writeVerificationBin } from '../src/data/readers/verification-bin.js';
import { brokenImages, snapshot, unusualImages, writeDataset, writeLoop } from './helpers/bad-inputs.js';

const cli = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const root = mkdtempSync(join(tmpdir(), 'catface-corpus-'));
/** Inputs: every file here must be byte-identical after every case. */
const inputs = join(root, 'in');
/** Each case writes under its own scratch folder. */
const scratch = join(root, 'out');
const at = (...parts: string[]) => join(inputs, ...parts);

interface Case {
  name: string;
  argv: string[];
  code: number;
  /** Words the output must contain: the input's name (file, folder, field or flag) and what went wrong. */
  says: (string | RegExp)[];
  /** Run as a child process (the real binary, exit code and all). */
  spawn?: boolean;
  env?: Record<string, string>;
  /** Prepares what the case needs in its scratch folder; returns nothing. */
  setup?: (dir: string) => void;
  /** Extra checks after the run. */
  check?: (dir: string) => void;
}

function tinyConfig(outDir: string, train: string, patch: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    seed: 3,
    threads: 1,
    outDir,
    data: { train, imageSize: 16, workers: 0 },
    model: { widths: [8, 8, 16, 16], embeddingSize: 16, heads: 2, groups: 2, expandRatio: 2 },
    stage1: { steps: 2, batchSize: 8, optim: { lr: 0.01 } },
    stage2: { steps: 1, batchSize: 8, optim: { lr: 0.01 } },
    checkpoint: { every: 1, keep: 10 },
    log: { progress: 'off' },
    ...patch,
  };
}

function writeJson(path: string, value: unknown): string {
  writeFileSync(path, typeof value === 'string' ? value : JSON.stringify(value));
  return path;
}

async function runInProcess(argv: string[]): Promise<{ code: number; output: string }> {
  const lines: string[] = [];
  const { log, error } = console;
  console.log = (...args: unknown[]) => lines.push(args.join(' '));
  console.error = (...args: unknown[]) => lines.push(args.join(' '));
  try {
    const code = await runCli(argv);
    return { code, output: lines.join('\n') };
  } finally {
    console.log = log;
    console.error = error;
  }
}

function runSpawned(argv: string[], env: Record<string, string> = {}): { code: number; output: string } {
  const r = spawnSync(process.execPath, [cli, ...argv], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 120_000 });
  return { code: r.status ?? -1, output: `${r.stdout}\n${r.stderr}` };
}

const BAD_INTS = ['', 'abc', '-1', '1.5', '0x10', '12abc'];
let unusual: Record<string, Buffer>;
let broken: Record<string, { bytes: Buffer; says: RegExp }>;

before(async () => {
  mkdirSync(scratch, { recursive: true });
  unusual = await unusualImages();
  broken = await brokenImages();
  mkdirSync(at('img', 'folder.png'), { recursive: true });
  for (const [name, bytes] of Object.entries(unusual)) writeFileSync(at('img', name), bytes);
  for (const [name, { bytes }] of Object.entries(broken)) writeFileSync(at('img', name), bytes);
  writeFileSync(at('img', '-dash.png'), unusual['spaced name.png']);

  await writeDataset(at('ds', 'good'), 4, 3);
  await writeDataset(at('ds', 'one'), 1, 3);
  mkdirSync(at('ds', 'empty'), { recursive: true });
  mkdirSync(at('ds', 'no-images', 'id0'), { recursive: true });
  for (const [name, { bytes }] of Object.entries(broken)) {
    cpSync(at('ds', 'good'), at('ds', `bad-${name}`), { recursive: true });
    writeFileSync(at('ds', `bad-${name}`, 'id1', name), bytes);
  }
  const csvVariant = (name: string, edit: (csv: string) => string) => {
    cpSync(at('ds', 'good'), at('ds', name), { recursive: true });
    writeFileSync(at('ds', name, 'attributes.csv'), edit(readFileSync(at('ds', 'good', 'attributes.csv'), 'utf8')));
  };
  csvVariant('csv-ghost', (csv) => `${csv}ghost,1,0,0,0,0\n`);
  csvVariant('csv-value', (csv) => csv.replace('id2,0,1,0,0,0', 'id2,0,2,0,0,0'));
  csvVariant('csv-columns', (csv) => csv.replace('id3,1,1,0,0,0', 'id3,1,1,0'));
  csvVariant('csv-header', (csv) => csv.replace('identity,', 'name,'));
  csvVariant('csv-empty', () => '');
  mkdirSync(at('ds', 'unusual', 'a'), { recursive: true });
  mkdirSync(at('ds', 'unusual', 'b'), { recursive: true });
  for (const [i, [name, bytes]] of Object.entries(unusual).entries()) writeFileSync(at('ds', 'unusual', i % 2 ? 'a' : 'b', name), bytes);
  writeFileSync(at('ds', 'unusual', 'attributes.csv'), 'identity,Male,Big_Nose,Chubby,Narrow_Eyes,Bald\na,1,0,1,0,0\nb,0,1,0,1,0\n');
  mkdirSync(at('ds', 'collide', 'p'), { recursive: true });
  writeFileSync(at('ds', 'collide', 'p', 'x.png'), unusual['spaced name.png']);
  writeFileSync(at('ds', 'collide', 'p', 'x.jpg'), unusual['cmyk.jpg']);
  writeLoop(at('ds', 'loop'));
  writeFileSync(at('ds', 'loop', 'a', 'face.png'), unusual['spaced name.png']);
  mkdirSync(at('foreign'), { recursive: true });
  writeFileSync(at('foreign', 'holiday.txt'), 'my notes');

  // a trained tiny run (its model, checkpoints and a result) that the run-directory and eval cases start from
  mkdirSync(at('cfg'), { recursive: true });
  const runConfig = writeJson(at('cfg', 'run.json'), tinyConfig(at('run'), at('ds', 'good')));
  const trained = await runInProcess(['train', '--config', runConfig]);
  assert.equal(trained.code, 0, trained.output);
  // 10 genuine and 10 impostor pairs (the 10-fold protocol needs ten)
  const face = (id: number, k: number) => readFileSync(at('ds', 'good', `id${id % 4}`, `${k % 3}.png`));
  const issame = Array.from({ length: 20 }, (_, i) => i % 2 === 0);
  const images = issame.flatMap((same, i) => [face(i, 0), same ? face(i, 1) : face(i + 1, 2)]);
  writeVerificationBin(at('good.bin'), { images, issame });
  const evaluated = await runInProcess([
    'eval',
    'verify',
    '--bin',
    at('good.bin'),
    '--model',
    at('run', 'model'),
    '--bootstrap',
    '0',
    '--out',
    join(scratch, 'result.json'),
  ]);
  assert.equal(evaluated.code, 0, evaluated.output);
  renameSync(join(scratch, 'result.json'), at('result.json'));
});

after(() => rmSync(root, { recursive: true, force: true }));

function cases(): Case[] {
  const list: Case[] = [];
  const good = at('ds', 'good');
  const model = at('run', 'model');
  const img = (name: string) => at('img', name);

  // ── numeric flags: junk, empty, fractions, hex and out-of-range values are refused naming the flag ──
  for (const flag of ['identities', 'images', 'seed', 'size', 'workers'])
    for (const value of [
      ...BAD_INTS,
      ...(
        { identities: ['0', '100001'], images: ['0', '1001'], size: ['15', '1025'], workers: ['65'], seed: [] } as Record<string, string[]>
      )[flag],
    ])
      list.push({
        name: `synth --${flag} '${value}'`,
        argv: ['synth', '--out', 'SCRATCH/s', `--${flag}`, value],
        code: 2,
        says: [`--${flag}`],
      });
  for (const flag of ['size', 'workers'])
    for (const value of BAD_INTS)
      list.push({
        name: `align --${flag} '${value}'`,
        argv: ['align', good, 'SCRATCH/a', `--${flag}`, value],
        code: 2,
        says: [`--${flag}`],
      });
  for (const value of ['', 'abc', '-0.1', '1.5', 'NaN', '1e999'])
    list.push({
      name: `align --min-score '${value}'`,
      argv: ['align', good, 'SCRATCH/a', '--min-score', value],
      code: 2,
      says: ['--min-score'],
    });
  for (const flag of ['size', 'seed'])
    for (const value of [...BAD_INTS, ...(flag === 'size' ? ['15', '1025'] : [])])
      list.push({
        name: `degrade --${flag} '${value}'`,
        argv: ['degrade', img('cmyk.jpg'), '--out', 'SCRATCH/s.png', `--${flag}`, value],
        code: 2,
        says: [`--${flag}`],
      });
  for (const value of [...BAD_INTS.slice(0, 5), '0'])
    list.push({
      name: `train --stop-after '${value}'`,
      argv: ['train', '--config', at('cfg', 'run.json'), '--stop-after', value],
      code: 2,
      says: ['--stop-after'],
    });
  for (const value of ['', 'abc', '-1', '5', '100001', '1.5'])
    list.push({
      name: `eval --bootstrap '${value}'`,
      argv: ['eval', 'verify', '--bin', at('good.bin'), '--model', model, '--bootstrap', value],
      code: 2,
      says: ['--bootstrap'],
    });
  for (const flag of ['identities', 'images', 'test-identities', 'test-images', 'threads', 'seed'])
    for (const value of ['', 'abc', '1.5'])
      list.push({
        name: `demo --${flag} '${value}'`,
        argv: ['demo', '--out', 'SCRATCH/demo', `--${flag}`, value],
        code: 2,
        says: [`--${flag}`],
        check: (dir) => assert.equal(existsSync(join(dir, 'demo')), false, 'nothing written for a bad flag'),
      });

  for (const [flag, values] of [
    ['seeds', ['', 'abc', '0', '101', '1.5']],
    ['jobs', ['', '0', '65']],
    ['threads', ['0', 'x']],
    ['identities', ['9', 'abc']],
    ['eval-seed', ['-1']],
  ] as const)
    for (const value of values)
      list.push({
        name: `ablate --${flag} '${value}'`,
        argv: ['ablate', '--study', 'distance', '--config', at('cfg', 'run.json'), '--out', 'SCRATCH/ablate', `--${flag}`, value],
        code: 2,
        says: [`--${flag}`],
        check: (dir) => assert.equal(existsSync(join(dir, 'ablate')), false, 'nothing written for a bad flag'),
      });
  list.push({ name: 'ablate without --study', argv: ['ablate', '--config', at('cfg', 'run.json')], code: 2, says: ['--study', 'fusion'] });
  list.push({ name: 'ablate without --config', argv: ['ablate', '--study', 'fusion'], code: 2, says: ['--config'] });
  list.push({
    name: 'ablate unknown study',
    argv: ['ablate', '--study', 'guess', '--config', at('cfg', 'run.json')],
    code: 2,
    says: ["unknown study 'guess'", 'catf-parts'],
  });

  // ── unknown commands, unknown flags, missing required arguments ──
  list.push({ name: 'unknown command', argv: ['frobnicate'], code: 2, says: ["unknown command 'frobnicate'"], spawn: true });
  for (const argv of [
    ['info'],
    ['degrade', img('cmyk.jpg')],
    ['synth'],
    ['train'],
    ['demo'],
    ['ablate'],
    ['align', good, 'SCRATCH/a'],
    ['eval', 'verify'],
    ['report'],
  ])
    list.push({ name: `${argv[0]} --bogus`, argv: [...argv, '--bogus'], code: 2, says: ['--bogus'], spawn: argv[0] === 'report' });
  list.push({ name: 'synth without --out', argv: ['synth'], code: 2, says: ['--out'] });
  list.push({ name: 'train without --config', argv: ['train'], code: 2, says: ['--config'] });
  list.push({ name: 'report without --out', argv: ['report', at('result.json')], code: 2, says: ['--out'] });
  list.push({ name: 'report without results', argv: ['report', '--out', 'SCRATCH/r'], code: 2, says: ['RESULT.json'] });
  list.push({ name: 'align with one folder', argv: ['align', good], code: 2, says: ['<in> and <out>'] });
  list.push({ name: 'eval without protocol', argv: ['eval'], code: 2, says: ['verify, identify, ijb or attributes'] });
  list.push({ name: 'eval unknown protocol', argv: ['eval', 'guess', '--model', model], code: 2, says: ["'guess'"] });
  list.push({ name: 'degrade with nothing to write', argv: ['degrade', img('cmyk.jpg')], code: 2, says: ['--out FILE and/or --save DIR'] });
  list.push({
    name: 'degrade --out not a png',
    argv: ['degrade', img('cmyk.jpg'), '--out', 'SCRATCH/s.jpg'],
    code: 2,
    says: ['--out', 's.jpg'],
  });
  list.push({
    name: 'eval verify two sources',
    argv: ['eval', 'verify', '--bin', at('good.bin'), '--list', at('good.bin'), '--model', model],
    code: 2,
    says: ['exactly one of --bin'],
  });

  // ── environment ──
  for (const value of ['junk', '0', '-3', '100000'])
    list.push({
      name: `CATFACE_THREADS=${value}`,
      argv: ['info'],
      env: { CATFACE_THREADS: value },
      code: 2,
      says: ['CATFACE_THREADS', `'${value}'`],
      spawn: true,
    });

  // ── image files through degrade: broken ones refused by name, unusual ones degraded, input untouched ──
  for (const [name, { says }] of Object.entries(broken))
    list.push({
      name: `degrade ${name}`,
      argv: ['degrade', img(name), '--out', 'SCRATCH/s.png', '--size', '16'],
      code: 1,
      says: [name, says],
      spawn: name === 'truncated.jpg',
    });
  list.push({
    name: 'degrade a folder',
    argv: ['degrade', img('folder.png'), '--out', 'SCRATCH/s.png'],
    code: 1,
    says: ['folder.png', 'is a directory'],
  });
  list.push({
    name: 'degrade a missing file',
    argv: ['degrade', img('nope.png'), '--out', 'SCRATCH/s.png'],
    code: 1,
    says: ['nope.png', 'file not found'],
  });
  for (const name of Object.keys(unusual))
    list.push({
      name: `degrade ${name}`,
      argv: ['degrade', img(name), '--out', 'SCRATCH/s.png', '--size', '16'],
      code: 0,
      says: ['s.png'],
      check: (dir) => assert.ok(readFileSync(join(dir, 's.png')).length > 100),
    });
  list.push({
    name: 'degrade a file named like a flag, after --',
    argv: ['degrade', '--out', 'SCRATCH/s.png', '--size', '16', '--', img('-dash.png')],
    code: 0,
    says: ['s.png'],
  });
  list.push({
    name: 'degrade --out onto its input',
    argv: ['degrade', img('spaced name.png'), '--out', img('spaced name.png')],
    code: 1,
    says: ['spaced name.png', 'is the same path as'],
  });
  list.push({
    name: 'degrade --save into the input folder',
    argv: ['degrade', img('cmyk.jpg'), '--save', at('img')],
    code: 1,
    says: ['contains the image', 'img'],
  });
  list.push({
    name: 'degrade --save into a foreign folder',
    argv: ['degrade', img('cmyk.jpg'), '--save', at('foreign'), '--size', '16'],
    code: 1,
    says: ['foreign', 'did not write', '--force'],
  });

  // ── training data: every problem found by the pre-flight, before any step, naming the file ──
  const trainOn =
    (train: string, patch: Record<string, unknown> = {}): Case['setup'] =>
    (dir) => {
      writeJson(join(dir, 'c.json'), tinyConfig(join(dir, 'run'), train, patch));
    };
  const noRun = (dir: string) => assert.equal(existsSync(join(dir, 'run', 'run.json')), false, 'no run started');
  for (const [name, { says }] of Object.entries(broken))
    list.push({
      name: `train on a dataset holding ${name}`,
      argv: ['train', '--config', 'SCRATCH/c.json'],
      setup: trainOn(at('ds', `bad-${name}`)),
      code: 1,
      says: ['pre-flight', join('id1', name), says],
      check: noRun,
    });
  const datasets: [string, (string | RegExp)[]][] = [
    ['csv-ghost', ["identity 'ghost' has no folder"]],
    ['csv-value', ["attribute 'Big_Nose' has value '2'"]],
    ['csv-columns', ['attributes.csv:5', 'expected 6 columns, got 4']],
    ['csv-header', ["first column must be 'identity'"]],
    ['csv-empty', ['attributes.csv', 'empty attributes file']],
    ['empty', ['empty', 'no identity folders']],
    ['no-images', ['no-images', 'attributes.csv: file not found']],
    ['missing', ['missing', 'folder not found']],
  ];
  for (const [name, says] of datasets)
    list.push({
      name: `train on dataset ${name}`,
      argv: ['train', '--config', 'SCRATCH/c.json'],
      setup: trainOn(at('ds', name)),
      code: 1,
      says,
      check: noRun,
    });
  list.push({
    name: 'train on a file as dataset',
    argv: ['train', '--config', 'SCRATCH/c.json'],
    setup: trainOn(at('good.bin')),
    code: 1,
    says: ['good.bin', 'is a file, expected a folder'],
  });
  list.push({
    name: 'train on unusual images (16-bit, CMYK, grey+alpha, GIF, SVG, EXIF, odd names)',
    argv: ['train', '--config', 'SCRATCH/c.json'],
    setup: trainOn(at('ds', 'unusual'), { stage1: { steps: 1, batchSize: 8, optim: { lr: 0.01 } }, stage2: { steps: 0, batchSize: 8 } }),
    code: 0,
    says: ['model written to'],
  });
  list.push({
    name: 'train on a one-identity dataset warns and trains',
    argv: ['train', '--config', 'SCRATCH/c.json'],
    setup: trainOn(at('ds', 'one'), { stage1: { steps: 1, batchSize: 8, optim: { lr: 0.01 } }, stage2: { steps: 0, batchSize: 8 } }),
    code: 0,
    says: ['model written to'],
  });
  list.push({
    name: 'train outDir = data.train',
    argv: ['train', '--config', 'SCRATCH/c.json'],
    setup: (d) => writeJson(join(d, 'c.json'), tinyConfig(good, good)),
    code: 1,
    says: ['outDir', 'is the same path as data.train'],
  });
  list.push({
    name: 'train outDir inside data.train',
    argv: ['train', '--config', 'SCRATCH/c.json'],
    setup: (d) => writeJson(join(d, 'c.json'), tinyConfig(join(good, 'run'), good)),
    code: 1,
    says: ['outDir', 'lies inside data.train'],
  });

  // ── config files: unreadable, not JSON, wrong types, out of range, unknown fields ──
  const configCase = (name: string, value: unknown, says: (string | RegExp)[]) =>
    list.push({
      name: `config: ${name}`,
      argv: ['train', '--config', 'SCRATCH/c.json'],
      setup: (d) => writeJson(join(d, 'c.json'), value),
      code: 1,
      says: ['c.json', ...says],
    });
  const base = () => tinyConfig('SCRATCH-RUN', good);
  const patched = (edit: (c: Record<string, Record<string, unknown>>) => void) => {
    const c = base() as Record<string, Record<string, unknown>>;
    edit(c);
    return c;
  };
  configCase('empty file', '', ['not valid JSON']);
  configCase('not JSON', '{"outDir": ', ['not valid JSON']);
  configCase('a JSON array', [1, 2], ['expected an object']);
  configCase(
    'batchSize a string',
    patched((c) => {
      c.stage1.batchSize = 'eight';
    }),
    ['stage1.batchSize', 'expected a finite number'],
  );
  configCase(
    'seed negative',
    patched((c) => {
      (c as Record<string, unknown>).seed = -1;
    }),
    ['seed', '≥ 0'],
  );
  configCase(
    'seed fractional',
    patched((c) => {
      (c as Record<string, unknown>).seed = 1.5;
    }),
    ['seed', 'integer'],
  );
  configCase(
    'lr overflows float32',
    patched((c) => {
      (c.stage1.optim as Record<string, unknown>).lr = 1e39;
    }),
    ['stage1.optim.lr', '≤ 100'],
  );
  configCase(
    'lr zero',
    patched((c) => {
      (c.stage2.optim as Record<string, unknown>).lr = 0;
    }),
    ['stage2.optim.lr', '> 0'],
  );
  configCase(
    'imageSize too small',
    patched((c) => {
      c.data.imageSize = 8;
    }),
    ['data.imageSize', '≥ 16'],
  );
  configCase(
    'imageSize too large',
    patched((c) => {
      c.data.imageSize = 4096;
    }),
    ['data.imageSize', '≤ 1024'],
  );
  configCase(
    'workers too many',
    patched((c) => {
      c.data.workers = 500;
    }),
    ['data.workers', '≤ 64'],
  );
  configCase(
    'threads too many',
    patched((c) => {
      (c as Record<string, unknown>).threads = 100000;
    }),
    ['threads', '≤ 256'],
  );
  configCase(
    'unknown field (typo)',
    patched((c) => {
      (c.stage1.optim as Record<string, unknown>).lrr = 0.1;
    }),
    ['stage1.optim.lrr', 'unknown field', "did you mean 'lr'"],
  );
  configCase(
    'unknown top-level field',
    patched((c) => {
      (c as Record<string, unknown>).bogus = 1;
    }),
    ['bogus', 'unknown field'],
  );
  configCase(
    'sampling not a choice',
    patched((c) => {
      c.data.sampling = 'random';
    }),
    ['data.sampling', 'random'],
  );
  configCase(
    'depth not a choice',
    patched((c) => {
      c.model.depth = 'ir9';
    }),
    ['model.depth', 'ir9'],
  );
  configCase(
    'no attributes',
    patched((c) => {
      c.data.attributes = [];
    }),
    ['data.attributes'],
  );
  configCase(
    'outDir missing',
    patched((c) => {
      delete (c as Record<string, unknown>).outDir;
    }),
    ['outDir', 'required'],
  );
  configCase(
    'data.train missing',
    patched((c) => {
      delete c.data.train;
    }),
    ['data.train', 'required'],
  );
  configCase(
    'checkpoint.keep zero',
    patched((c) => {
      c.checkpoint.keep = 0;
    }),
    ['checkpoint.keep'],
  );
  configCase(
    'log.every zero',
    patched((c) => {
      c.log.every = 0;
    }),
    ['log.every'],
  );
  configCase(
    'heads do not divide the width',
    patched((c) => {
      c.model.heads = 3;
    }),
    ['model.heads', 'must divide'],
  );
  configCase(
    'batchSize 1',
    patched((c) => {
      c.stage1.batchSize = 1;
    }),
    ['stage1.batchSize', '≥ 2'],
  );
  configCase(
    'steps beyond range',
    patched((c) => {
      c.stage1.steps = 1e12;
    }),
    ['stage1.steps', '≤'],
  );
  configCase(
    'turbulenceFraction 2',
    patched((c) => {
      (c as Record<string, unknown>).degrade = { turbulenceFraction: 2 };
    }),
    ['degrade.turbulenceFraction', '≤ 1'],
  );
  configCase(
    'widths of the wrong length',
    patched((c) => {
      c.model.widths = [4, 4, 8];
    }),
    ['model.widths'],
  );
  configCase(
    'milestones not ascending',
    patched((c) => {
      (c.stage1.optim as Record<string, unknown>).milestones = [2, 1];
    }),
    ['stage1.optim.milestones'],
  );
  list.push({
    name: 'config: missing file',
    argv: ['train', '--config', at('cfg', 'nope.json')],
    code: 1,
    says: ['nope.json', 'file not found'],
    spawn: true,
  });
  list.push({ name: 'config: a folder', argv: ['train', '--config', at('cfg')], code: 1, says: ['cfg', 'is a directory'] });
  list.push({
    name: 'config: pretrained file missing',
    argv: ['train', '--config', 'SCRATCH/c.json'],
    setup: (d) =>
      writeJson(
        join(d, 'c.json'),
        tinyConfig(join(d, 'run'), good, {
          model: { widths: [8, 8, 16, 16], embeddingSize: 16, heads: 2, groups: 2, expandRatio: 2, pretrained: at('none.safetensors') },
        }),
      ),
    code: 1,
    says: ['none.safetensors'],
  });

  // ── run directories: reuse, mismatched resume, corrupt checkpoints, kill -9 leftovers ──
  const withRun =
    (edit: (run: string) => void = () => undefined, patch: Record<string, unknown> = {}): Case['setup'] =>
    (dir) => {
      cpSync(at('run'), join(dir, 'run'), { recursive: true });
      edit(join(dir, 'run'));
      writeJson(join(dir, 'c.json'), tinyConfig(join(dir, 'run'), good, patch));
    };
  const newest = (run: string) => join(run, 'checkpoints', 'step-00000003');
  list.push({
    name: 'train into a finished run without --resume',
    argv: ['train', '--config', 'SCRATCH/c.json'],
    setup: withRun(),
    code: 1,
    says: ['run', 'holds an earlier run', '--resume'],
    spawn: true,
  });
  list.push({
    name: 'train --resume with another config',
    argv: ['train', '--config', 'SCRATCH/c.json', '--resume'],
    setup: withRun(undefined, { seed: 4 }),
    code: 1,
    says: ['differs from the run', 'seed: 3 → 4'],
  });
  list.push({
    name: 'train --resume with a garbled run.json',
    argv: ['train', '--config', 'SCRATCH/c.json', '--resume'],
    setup: withRun((r) => writeFileSync(join(r, 'run.json'), '{{')),
    code: 1,
    says: ['run.json', 'unreadable run record'],
  });
  list.push({
    name: 'train --resume without run.json',
    argv: ['train', '--config', 'SCRATCH/c.json', '--resume'],
    setup: withRun((r) => rmSync(join(r, 'run.json'))),
    code: 1,
    says: ['run.json', '--force'],
  });
  const corrupt = (name: string, edit: (step: string) => void, says: (string | RegExp)[]) =>
    list.push({
      name: `train --resume from a checkpoint with ${name}`,
      argv: ['train', '--config', 'SCRATCH/c.json', '--resume'],
      setup: withRun(
        (r) => {
          rmSync(join(r, 'model'), { recursive: true });
          edit(newest(r));
        },
        { stage2: { steps: 2, batchSize: 8, optim: { lr: 0.01 } } },
      ),
      code: 1,
      says,
    });
  // a resume needs the config it ran with: stage2.steps differs, so these pass --force to reach the checkpoint
  const forced = (name: string, edit: (step: string) => void, says: (string | RegExp)[]) => {
    corrupt(name, edit, says);
    list[list.length - 1].argv.push('--force');
  };
  forced('a garbled state.json', (s) => writeFileSync(join(s, 'state.json'), 'not json'), ['state.json', 'not valid JSON']);
  forced(
    'a truncated model.safetensors',
    (s) => writeFileSync(join(s, 'model.safetensors'), readFileSync(join(s, 'model.safetensors')).subarray(0, 200)),
    ['model.safetensors'],
  );
  forced('a zero-byte optimizer.safetensors', (s) => writeFileSync(join(s, 'optimizer.safetensors'), ''), [
    'optimizer.safetensors',
    'too short',
  ]);
  forced('a missing model.safetensors', (s) => rmSync(join(s, 'model.safetensors')), ['model.safetensors']);
  forced(
    'a state.json of another step',
    (s) => writeFileSync(join(s, 'state.json'), readFileSync(join(s, 'state.json'), 'utf8').replace('"step":3', '"step":2')),
    ['state.json', 'inconsistent'],
  );
  list.push({
    name: 'train --resume after a kill -9 mid-checkpoint (temp folder and .previous left behind)',
    argv: ['train', '--config', 'SCRATCH/c.json', '--resume', '--force'],
    setup: withRun(
      (r) => {
        rmSync(join(r, 'model'), { recursive: true });
        cpSync(newest(r), join(r, 'checkpoints', '.step-00000004.tmp-999-half'), { recursive: true });
        rmSync(join(r, 'checkpoints', '.step-00000004.tmp-999-half', 'state.json'));
        renameSync(join(r, 'checkpoints', 'step-00000002'), join(r, 'checkpoints', 'step-00000002.previous'));
      },
      { stage2: { steps: 2, batchSize: 8, optim: { lr: 0.01 } } },
    ),
    code: 0,
    says: ['trained 4 steps'],
    check: (dir) => assert.deepEqual(readFileSync(join(dir, 'run', 'metrics.jsonl'), 'utf8').match(/"kind":"train"/g)?.length, 4),
  });
  list.push({
    name: 'eval a model whose save was killed between the two renames (only model.previous)',
    argv: ['eval', 'verify', '--bin', at('good.bin'), '--model', 'SCRATCH/run/model', '--bootstrap', '0'],
    setup: (dir) => {
      mkdirSync(join(dir, 'run'));
      cpSync(model, join(dir, 'run', 'model.previous'), { recursive: true });
    },
    code: 0,
    says: ['20 pairs'],
  });

  // ── eval: model directories and .bin files ──
  const modelCase = (name: string, edit: (m: string) => void, says: (string | RegExp)[]) =>
    list.push({
      name: `eval with a model dir ${name}`,
      argv: ['eval', 'verify', '--bin', at('good.bin'), '--model', 'SCRATCH/m', '--bootstrap', '0'],
      setup: (dir) => {
        cpSync(model, join(dir, 'm'), { recursive: true });
        edit(join(dir, 'm'));
      },
      code: 1,
      says,
    });
  modelCase(
    'that is empty',
    (m) => {
      rmSync(m, { recursive: true });
      mkdirSync(m);
    },
    ['not a catface model directory'],
  );
  modelCase('with garbled model.json', (m) => writeFileSync(join(m, 'model.json'), '{'), ['model.json', 'not valid JSON']);
  modelCase('with a foreign model.json', (m) => writeFileSync(join(m, 'model.json'), '{"format":"keras"}'), ['model.json', 'format']);
  modelCase('without weights', (m) => rmSync(join(m, 'weights.safetensors')), ['weights.safetensors', 'missing']);
  modelCase(
    'with truncated weights',
    (m) => writeFileSync(join(m, 'weights.safetensors'), readFileSync(join(m, 'weights.safetensors')).subarray(0, 100)),
    ['weights.safetensors'],
  );
  modelCase(
    'with weights of another shape',
    (m) => {
      const spec = JSON.parse(readFileSync(join(m, 'model.json'), 'utf8'));
      spec.network.embeddingSize = 12;
      writeFileSync(join(m, 'model.json'), JSON.stringify(spec));
    },
    ['weights.safetensors'],
  );
  list.push({
    name: 'eval with a missing model dir',
    argv: ['eval', 'verify', '--bin', at('good.bin'), '--model', at('nomodel')],
    code: 1,
    says: ['nomodel'],
  });
  const binCase = (name: string, bytes: Buffer | string, says: (string | RegExp)[]) =>
    list.push({
      name: `eval verify --bin ${name}`,
      argv: ['eval', 'verify', '--bin', `SCRATCH/${name}`, '--model', model, '--bootstrap', '0'],
      setup: (dir) => writeFileSync(join(dir, name), bytes),
      code: 1,
      says: [name, ...says],
    });
  binCase('zero.bin', '', ['empty file']);
  binCase('photo.bin', unusual['spaced name.png'], ['not a .bin verification set']);
  binCase('notes.bin', 'hello world\n', ['not a .bin verification set']);
  binCase('cut.bin', readFileSync(at('good.bin')).subarray(0, 200), ['truncated pickle']);
  binCase('proto9.bin', Buffer.from([0x80, 0x09, 0x2e]), ['not a .bin verification set']);
  list.push({
    name: 'eval verify --bin a folder',
    argv: ['eval', 'verify', '--bin', at('img'), '--model', model],
    code: 1,
    says: ['img', 'is a directory'],
  });
  list.push({
    name: 'eval verify --bin missing',
    argv: ['eval', 'verify', '--bin', at('nope.bin'), '--model', model],
    code: 1,
    says: ['nope.bin', 'file not found'],
    spawn: true,
  });
  list.push({
    name: 'eval --out a directory',
    argv: ['eval', 'verify', '--bin', at('good.bin'), '--model', model, '--out', 'SCRATCH'],
    code: 2,
    says: ['--out', 'is a directory'],
  });
  list.push({
    name: 'eval --out inside the model',
    argv: ['eval', 'verify', '--bin', at('good.bin'), '--model', model, '--out', join(model, 'r.json')],
    code: 1,
    says: ['--out', 'lies inside --model'],
  });
  // ── export: flags refused before the model loads, outputs never inside the model, nothing half-written ──
  list.push({
    name: 'export --bogus',
    argv: ['export', '--model', model, '--out', 'SCRATCH/m.onnx', '--bogus'],
    code: 2,
    says: ['--bogus'],
  });
  list.push({ name: 'export without --out', argv: ['export', '--model', model], code: 2, says: ['--out'] });
  for (const [flag, value] of [
    ['batch', '0'],
    ['batch', 'many'],
    ['batch', '1.5'],
    ['batch', '5000'],
    ['opset', '16'],
    ['opset', '22'],
    ['opset', 'x'],
  ])
    list.push({
      name: `export --${flag} '${value}'`,
      argv: ['export', '--model', model, '--out', 'SCRATCH/m.onnx', `--${flag}`, value],
      code: 2,
      says: [`--${flag}`, `'${value}'`],
      check: (dir) => assert.equal(existsSync(join(dir, 'm.onnx')), false, 'nothing written for a bad flag'),
    });
  list.push({
    name: 'export --out inside the model',
    argv: ['export', '--model', model, '--out', join(model, 'm.onnx')],
    code: 1,
    says: ['--out', 'lies inside --model'],
  });
  list.push({
    name: 'export --out a folder',
    argv: ['export', '--model', model, '--out', 'SCRATCH'],
    code: 2,
    says: ['--out', 'is a directory'],
  });
  list.push({
    name: 'export a missing model dir',
    argv: ['export', '--model', at('nomodel'), '--out', 'SCRATCH/m.onnx'],
    code: 1,
    says: ['nomodel'],
  });
  list.push({ name: 'serve --backend torch', argv: ['serve', '--backend', 'torch'], code: 2, says: ['--backend', "'torch'"] });
  list.push({ name: 'serve --detector tfjs', argv: ['serve', '--detector', 'tfjs'], code: 2, says: ['--detector', "'tfjs'"] });
  // align and eval photos take the photo commands' --detector; face-api.js's detector moved to --faceapi-detector
  list.push({
    name: 'align --detector tfjs',
    argv: ['align', good, 'SCRATCH/a', '--detector', 'tfjs'],
    code: 2,
    says: ['--detector', "'tfjs'", 'onnx, libtorch or human'],
  });
  list.push({
    name: 'eval photos --detector tfjs',
    argv: ['eval', 'photos', '--faces', at('nope.json'), '--detector', 'tfjs'],
    code: 2,
    says: ['--detector', "'tfjs'", 'onnx, libtorch or human'],
  });
  list.push({
    name: "eval photos --detector tiny (face-api.js's, now --faceapi-detector)",
    argv: ['eval', 'photos', '--faces', at('nope.json'), '--detector', 'tiny'],
    code: 2,
    says: ['--faceapi-detector tiny'],
  });
  list.push({
    name: 'eval photos --faceapi-detector mtcnn',
    argv: ['eval', 'photos', '--faces', at('nope.json'), '--faceapi-detector', 'mtcnn'],
    code: 2,
    says: ['--faceapi-detector', "'mtcnn'", 'ssd or tiny'],
  });
  // the photo commands' engine flags: an unknown name is refused before anything loads, naming the choices
  const photo = at('ds', 'good', 'id0', '0.png');
  for (const command of ['verify', 'embed', 'attributes', 'detect'])
    for (const [flag, value, choices] of [
      ['backend', 'torch', 'onnx or libtorch'],
      ['detector', 'tfjs', 'onnx, libtorch or human'],
    ])
      list.push({
        name: `${command} --${flag} ${value}`,
        argv: [command, photo, ...({ verify: [photo], embed: ['--out', 'SCRATCH/e.jsonl'] }[command] ?? []), `--${flag}`, value],
        code: 2,
        says: [`--${flag}`, `'${value}'`, choices],
      });
  list.push({
    name: 'eval --report into a foreign folder',
    argv: ['eval', 'verify', '--bin', at('good.bin'), '--model', model, '--bootstrap', '0', '--report', at('foreign')],
    code: 1,
    says: ['foreign', 'did not write'],
  });
  list.push({
    name: 'eval verify --list missing',
    argv: ['eval', 'verify', '--list', at('nope.txt'), '--root', good, '--model', model],
    code: 1,
    says: ['nope.txt', 'file not found'],
  });
  list.push({
    name: 'eval verify --list naming a missing image',
    argv: ['eval', 'verify', '--list', 'SCRATCH/l.txt', '--root', good, '--model', model, '--bootstrap', '0'],
    setup: (d) => writeFileSync(join(d, 'l.txt'), 'id0/0.png id0/9.png 1\nid1/0.png id2/0.png 0\n'),
    code: 1,
    says: ['9.png'],
  });
  list.push({
    name: 'eval verify --list naming a broken image',
    argv: ['eval', 'verify', '--list', 'SCRATCH/l.txt', '--root', at('img'), '--model', model, '--bootstrap', '0'],
    setup: (d) => writeFileSync(join(d, 'l.txt'), 'wrong-magic.png cmyk.jpg 1\n16bit.png cmyk.jpg 0\n'),
    code: 1,
    says: ['wrong-magic.png', 'not an image'],
  });
  list.push({
    name: 'eval identify on an empty folder',
    argv: ['eval', 'identify', '--folder', at('ds', 'empty'), '--model', model],
    code: 1,
    says: ['empty', 'no identity folders'],
  });
  list.push({
    name: 'eval identify on a missing folder',
    argv: ['eval', 'identify', '--folder', at('ds', 'nowhere'), '--model', model],
    code: 1,
    says: ['nowhere', 'folder not found'],
  });

  // ── report: result files and the output folder ──
  const reportCase = (name: string, bytes: string | null, says: (string | RegExp)[]) =>
    list.push({
      name: `report ${name}`,
      argv: ['report', '--out', 'SCRATCH/r', `SCRATCH/${name}`],
      setup: (d) => (bytes === null ? mkdirSync(join(d, name)) : writeFileSync(join(d, name), bytes)),
      code: 1,
      says: [name, ...says],
    });
  reportCase('zero.json', '', ['not a JSON result file']);
  reportCase('garbled.json', '{"format":', ['not a JSON result file']);
  reportCase('other.json', '{"format":"something-else"}', ['not a catface eval result']);
  reportCase('kindless.json', `{"format":"${JSON.parse(readFileSync(at('result.json'), 'utf8')).format}","kind":"guess"}`, [
    "unknown result kind 'guess'",
  ]);
  reportCase('dir.json', null, ['is a directory']);
  list.push({
    name: 'report of a missing result',
    argv: ['report', '--out', 'SCRATCH/r', at('none.json')],
    code: 1,
    says: ['none.json', 'file not found'],
  });
  list.push({
    name: 'report --out containing its result',
    argv: ['report', '--out', inputs, at('result.json')],
    code: 1,
    says: ['--out', 'contains result'],
  });
  list.push({
    name: 'report --out into a foreign folder',
    argv: ['report', '--out', at('foreign'), at('result.json')],
    code: 1,
    says: ['foreign', 'did not write'],
  });
  list.push({
    name: 'report --out onto a file',
    argv: ['report', '--out', at('good.bin'), at('result.json')],
    code: 1,
    says: ['good.bin', 'is a file'],
  });
  list.push({
    name: 'report into its earlier report folder replaces stale figures',
    argv: ['report', '--out', 'SCRATCH/r', at('result.json')],
    setup: (d) => {
      mkdirSync(join(d, 'r'));
      writeFileSync(join(d, 'r', 'fig-99-old.png'), 'stale');
      writeFileSync(join(d, 'r', '.catface-output.json'), JSON.stringify({ command: 'report', files: ['index.html', 'fig-99-old.png'] }));
    },
    code: 0,
    says: ['index.html'],
    check: (d) => assert.equal(existsSync(join(d, 'r', 'fig-99-old.png')), false, 'the stale figure is removed'),
  });

  // ── synth and align: folders that are not theirs, nested outputs, collisions, loops, empty inputs ──
  list.push({
    name: 'synth into a foreign folder',
    argv: ['synth', '--out', at('foreign'), '--identities', '1', '--images', '1', '--size', '16'],
    code: 1,
    says: ['foreign', 'did not write (holiday.txt)', '--force'],
    spawn: true,
  });
  list.push({
    name: 'synth --out onto a file',
    argv: ['synth', '--out', at('good.bin'), '--identities', '1', '--images', '1', '--size', '16'],
    code: 1,
    says: ['good.bin', 'is a file'],
  });
  list.push({ name: 'align into its own input', argv: ['align', good, good], code: 1, says: ['is the same path as input folder'] });
  list.push({
    name: 'align into a folder inside the input',
    argv: ['align', good, join(good, 'aligned')],
    code: 1,
    says: ['aligned', 'lies inside input folder'],
  });
  list.push({ name: 'align a folder into its parent', argv: ['align', join(good, 'id0'), good], code: 1, says: ['contains input folder'] });
  list.push({
    name: 'align with colliding names',
    argv: ['align', at('ds', 'collide'), 'SCRATCH/a'],
    code: 1,
    says: ['x.jpg', 'x.png', 'name collision'],
    check: (d) => assert.equal(existsSync(join(d, 'a')), false),
  });
  list.push({ name: 'align into a foreign folder', argv: ['align', good, at('foreign')], code: 1, says: ['foreign', 'did not write'] });
  list.push({
    name: 'align an empty folder',
    argv: ['align', at('ds', 'empty'), 'SCRATCH/a'],
    code: 1,
    says: ['empty', 'no images found'],
  });
  list.push({
    name: 'align a missing folder',
    argv: ['align', at('ds', 'nowhere'), 'SCRATCH/a'],
    code: 1,
    says: ['nowhere', 'folder not found'],
    spawn: true,
  });
  list.push({ name: 'align a file', argv: ['align', at('good.bin'), 'SCRATCH/a'], code: 1, says: ['good.bin', 'is a file'] });
  list.push({ name: 'align onto a file', argv: ['align', good, at('good.bin')], code: 1, says: ['good.bin', 'is a file'] });
  list.push({
    name: 'align through a symlink loop reports it and carries on',
    argv: ['align', at('ds', 'loop'), 'SCRATCH/a', '--workers', '0'],
    code: 0,
    says: ['symlink loop', 'loop'],
  });
  // ── the photo commands (verify, embed, attributes, detect): flags and outputs, refused before any model loads ──
  for (const flag of ['threads', 'min-score', 'detection-side', 'max-pixels'])
    for (const value of ['', 'abc', '-1'])
      list.push({
        name: `detect --${flag} '${value}'`,
        argv: ['detect', img('cmyk.jpg'), `--${flag}=${value}`],
        code: 2,
        says: [`--${flag}`],
      });
  for (const argv of [
    ['verify', img('cmyk.jpg'), img('16bit.png')],
    ['embed', img('cmyk.jpg'), '--out', 'SCRATCH/e.jsonl'],
    ['attributes', img('cmyk.jpg')],
    ['detect', img('cmyk.jpg')],
  ])
    list.push({ name: `${argv[0]} --bogus`, argv: [...argv, '--bogus'], code: 2, says: ['--bogus'] });
  list.push({
    name: 'detect --out onto its photo',
    argv: ['detect', img('cmyk.jpg'), '--out', img('cmyk.jpg')],
    code: 1,
    says: ['cmyk.jpg', 'is the same path as the photo'],
  });
  list.push({
    name: 'embed --out inside an input folder',
    argv: ['embed', at('ds', 'good'), '--out', join(good, 'e.jsonl')],
    code: 1,
    says: ['e.jsonl', 'lies inside input'],
  });
  list.push({ name: 'embed without --out', argv: ['embed', img('cmyk.jpg')], code: 2, says: ['--out'] });
  list.push({ name: 'detect two photos', argv: ['detect', img('cmyk.jpg'), img('16bit.png')], code: 2, says: ['expected one photo'] });
  return list;
}

test('the CLI-wide bad-input corpus: exit code, a message naming the input, inputs byte-identical', async (t) => {
  const all = cases();
  assert.ok(all.length >= 200, `${all.length} cases`);
  const failures: string[] = [];
  for (const [i, c] of all.entries()) {
    const dir = join(scratch, String(i));
    mkdirSync(dir, { recursive: true });
    const subst = (s: string) => s.replace(/^SCRATCH-RUN$/, join(dir, 'run')).replace(/^SCRATCH/, dir);
    c.setup?.(dir);
    if (existsSync(join(dir, 'c.json')))
      writeFileSync(
        join(dir, 'c.json'),
        readFileSync(join(dir, 'c.json'), 'utf8').replaceAll('"SCRATCH-RUN"', JSON.stringify(join(dir, 'run'))),
      );
    const before = snapshot(inputs);
    const argv = c.argv.map(subst);
    const { code, output } = c.spawn ? runSpawned(argv, c.env) : await runInProcess(argv);
    const problems: string[] = [];
    if (code !== c.code) problems.push(`exit code ${code}, expected ${c.code}`);
    for (const word of c.says)
      if (!(typeof word === 'string' ? output.includes(word) : word.test(output))) problems.push(`output lacks ${word}`);
    const afterRun = snapshot(inputs);
    for (const [file, hash] of before)
      if (afterRun.get(file) !== hash) problems.push(`input ${file} was ${afterRun.has(file) ? 'changed' : 'deleted'}`);
    try {
      c.check?.(dir);
    } catch (error) {
      problems.push((error as Error).message);
    }
    if (problems.length > 0)
      failures.push(
        `#${i} ${c.name} [${argv.map((a) => basename(a)).join(' ')}]: ${problems.join('; ')}\n    output: ${output.slice(0, 400).replace(/\n/g, '\n    ')}`,
      );
  }
  t.diagnostic(`${all.length} cases (${all.filter((c) => c.spawn).length} spawned), ${failures.length} failed`);
  assert.deepEqual(failures, [], `${failures.length} of ${all.length} cases failed:\n${failures.join('\n')}`);
});
