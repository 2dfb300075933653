// Training infrastructure without a network: config validation, atomic checkpoints, progress display, metrics log.
import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DEFAULT_ATTRIBUTES } from '../src/data/readers/attributes.js';
import { resolveDegraderConfig } from '../src/degrade/degrader.js';
import * as torch from '../src/torch/index.js';
import { listCheckpoints, readCheckpoint, writeCheckpoint } from '../src/train/checkpoint.js';
import { degraderConfig, loadTrainConfig, parseTrainConfig } from '../src/train/config.js';
import { MetricsLog, readMetrics } from '../src/train/metrics-log.js';
import { ProgressBar } from '../src/train/progress.js';
import { ConfigError } from '../src/train/schema.js';

const minimal = { outDir: 'runs/x', data: { train: 'data/train' } };

test('a minimal config gets the SPEC defaults', () => {
  const c = parseTrainConfig(minimal);
  assert.equal(c.loss.lambdaFR, 3);
  assert.equal(c.loss.lambdaSB, 1);
  assert.equal(c.loss.lambdaDist, 1);
  assert.equal(c.stage1.optim.lr, 0.1);
  assert.equal(c.stage1.optim.momentum, 0.9);
  assert.equal(c.stage1.optim.weightDecay, 5e-4);
  assert.equal(c.stage2.freezeStage1, true);
  assert.equal(c.data.imageSize, 112);
  assert.deepEqual(c.data.attributes, [...DEFAULT_ATTRIBUTES]);
  assert.deepEqual(c.model.widths, [64, 128, 256, 512]);
  assert.equal(c.validation.pairs, null);
  assert.equal(c.loss.partialFc, null);
  assert.deepEqual(parseTrainConfig({ ...minimal, loss: { partialFc: {} } }).loss.partialFc, { sampleRate: 1 });
});

test('a bad config names the field and what is wrong', () => {
  const bad = (patch: object, field: string, pattern: RegExp) => {
    const value = structuredClone({ ...minimal, ...patch });
    assert.throws(
      () => parseTrainConfig(value, 'run.json'),
      (err: unknown) =>
        err instanceof ConfigError && err.field === field && pattern.test(err.message) && err.message.startsWith('run.json: '),
      `expected an error on ${field}`,
    );
  };
  bad({ stage1: { optim: { lr: -1 } } }, 'stage1.optim.lr', /must be > 0, got -1/);
  bad({ stage1: { optim: { lr: '0.1' } } }, 'stage1.optim.lr', /expected a finite number, got string "0.1"/);
  bad({ stage1: { batchSize: 2.5 } }, 'stage1.batchSize', /expected an integer/);
  bad({ loss: { head: 'sphereface' } }, 'loss.head', /must be one of 'adaface', 'arcface', 'cosface'/);
  bad({ loss: { lamdaFR: 2 } }, 'loss.lamdaFR', /unknown field \(did you mean 'lambdaFR'\?\)/);
  bad({ data: {} }, 'data.train', /is required/);
  bad({ outDir: undefined }, 'outDir', /is required/);
  bad({ model: { widths: [64, 128, 256] } }, 'model.widths', /expected 4 numbers, got 3/);
  bad({ model: { widths: [64, 128, 256, 'x'] } }, 'model.widths[3]', /expected a finite number/);
  bad({ data: { train: 'd', imageSize: 8 } }, 'data.imageSize', /must be ≥ 16, got 8/);
  bad({ model: { heads: 7 } }, 'model.heads', /must divide the last width 512/);
  bad({ model: { groups: 7 } }, 'model.groups', /must divide 2×512 channels, got 7/);
  bad({ model: { depth: 'ir19' } }, 'model.depth', /must be one of 'ir18', 'ir34', 'ir50', 'ir100'/);
  bad({ stage1: { steps: 10, optim: { milestones: [5, 20] } } }, 'stage1.optim.milestones', /beyond the stage's 10 steps/);
  bad({ stage1: { optim: { milestones: [8, 4] } } }, 'stage1.optim.milestones', /strictly increasing/);
  bad({ loss: { attributeWeights: [1, 2] } }, 'loss.attributeWeights', /one weight per attribute \(5\)/);
  bad({ loss: { partialFc: { sampleRate: 0 } } }, 'loss.partialFc.sampleRate', /must be > 0, got 0/);
  bad({ loss: { partialFc: { sampleRate: 1.5 } } }, 'loss.partialFc.sampleRate', /must be ≤ 1, got 1.5/);
  bad({ loss: { partialFc: { sampleRat: 0.5 } } }, 'loss.partialFc.sampleRat', /unknown field \(did you mean 'sampleRate'\?\)/);
  bad({ degrade: 3 }, 'degrade', /expected an object/);
  bad({ degrade: { turbulenceFracton: 0.3 } }, 'degrade.turbulenceFracton', /unknown field \(did you mean 'turbulenceFraction'\?\)/);
  bad({ degrade: { turbulence: { patches: 'four' } } }, 'degrade.turbulence.patches', /expected a finite number, got string "four"/);
  bad({ degrade: { turbulence: { strength: [1] } } }, 'degrade.turbulence.strength', /expected 2 numbers, got 1/);
  bad(
    { degrade: { unconstrained: { blur: { sigma: [5, 1] } } } },
    'degrade.unconstrained.blur.sigma',
    /lower bound 5 exceeds upper bound 1/,
  );
  bad({ degrade: { adaface: { jitter: 2 } } }, 'degrade.adaface.jitter', /2 must lie within \[0, 1\]/);
  bad({ degrade: { turbulenceFraction: 1.5 } }, 'degrade.turbulenceFraction', /must be ≤ 1, got 1.5/);
  assert.throws(() => parseTrainConfig([]), /\(top level\): expected an object/);
});

test("the degrade section holds src/degrade's defaults and the run's seed unless it has its own", () => {
  const c = parseTrainConfig({ ...minimal, seed: 5 });
  const resolved = resolveDegraderConfig({ seed: 5 });
  assert.deepEqual(degraderConfig(c), resolved);
  assert.equal(degraderConfig(parseTrainConfig({ ...minimal, seed: 5, degrade: { seed: 9 } })).seed, 9);
  const adaface = degraderConfig(parseTrainConfig({ ...minimal, degrade: { adaface: { jitter: 0.1 } } })).adaface;
  assert.deepEqual(adaface, resolveDegraderConfig({ adaface: { jitter: 0.1 } }).adaface);
});

test('the shipped configs/demo.json is valid', () => {
  const path = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'configs', 'demo.json');
  const c = loadTrainConfig(path);
  assert.equal(c.data.imageSize, 64);
  assert.ok(c.stage1.steps > 0 && c.stage2.steps > 0);
});

test("the shipped configs/ablate.json is the demo's recipe with checkpoints every 50 steps and one thread", () => {
  const configs = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'configs');
  const demo = loadTrainConfig(join(configs, 'demo.json'));
  const ablate = loadTrainConfig(join(configs, 'ablate.json'));
  assert.deepEqual([ablate.model, ablate.loss, ablate.stage1, ablate.stage2], [demo.model, demo.loss, demo.stage1, demo.stage2]);
  assert.equal(ablate.checkpoint.every, 50);
  assert.equal(ablate.threads, 1);
});

test('loadTrainConfig names the file on unreadable or invalid JSON', () => {
  const dir = mkdtempSync(join(tmpdir(), 'catface-cfg-'));
  try {
    const path = join(dir, 'bad.json');
    writeFileSync(path, '{"outDir": ');
    assert.throws(() => loadTrainConfig(path), new RegExp(`${path}: not valid JSON`));
    assert.throws(() => loadTrainConfig(join(dir, 'missing.json')), /missing\.json: file not found/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('checkpoints are written whole, read back exactly, and pruned to the newest K', () => {
  const run = mkdtempSync(join(tmpdir(), 'catface-ckpt-'));
  try {
    // a directory a killed writer left behind is ignored and cleaned up
    mkdirSync(join(run, 'checkpoints', '.tmp-step-00000099-1'), { recursive: true });
    mkdirSync(join(run, 'checkpoints', 'step-00000050'), { recursive: true }); // no state.json: incomplete
    torch.tidy(() => {
      for (const step of [10, 20, 30]) {
        writeCheckpoint(
          run,
          { step, tensors: { model: new Map([['w', torch.full([2, 3], step)]]) }, state: { rng: 'abc', note: step } },
          2,
        );
      }
    });
    assert.deepEqual(listCheckpoints(run), [20, 30]);
    assert.deepEqual(
      readdirSync(join(run, 'checkpoints')).filter((n) => n.startsWith('.tmp')),
      [],
    );
    torch.tidy(() => {
      const latest = readCheckpoint(run);
      assert.ok(latest);
      assert.equal(latest.step, 30);
      assert.deepEqual(latest.state, { rng: 'abc', note: 30 });
      assert.deepEqual(latest.tensors.model.get('w')?.toArray(), [
        [30, 30, 30],
        [30, 30, 30],
      ]);
      assert.equal(readCheckpoint(run, 20)?.state.note, 20);
      assert.throws(() => readCheckpoint(run, 10), /no checkpoint for step 10 \(have: 20, 30\)/);
    });
    assert.equal(readCheckpoint(join(run, 'nothing-here')), null);
  } finally {
    rmSync(run, { recursive: true, force: true });
  }
});

test('the progress bar shows step, losses, images/s and ETA; periodic lines off a TTY', () => {
  const written: string[] = [];
  const stream = { isTTY: false, write: (s: string) => written.push(s) } as unknown as NodeJS.WriteStream;
  let clock = 0;
  const bar = new ProgressBar({ total: 10, label: 'stage 1', stream, lineEverySeconds: 5, now: () => clock });
  for (let step = 1; step <= 10; step++) {
    clock += 1;
    bar.update(step, { loss: 2.5, fr: 0.75 }, 64);
  }
  // step 1, then every 5 s (steps 6), and the last step
  assert.equal(written.length, 3);
  assert.match(written[0], /^stage 1 \[##\.+\] 1\/10 loss 2\.500 fr 0\.7500 \| 64\.0 img\/s \| ETA 0:09\n$/);
  assert.match(written[2], /10\/10 .* ETA 0:00\n$/);
  const tty: string[] = [];
  const ttyBar = new ProgressBar({
    total: 4,
    label: 's',
    mode: 'tty',
    stream: { isTTY: true, columns: 200, write: (s: string) => tty.push(s) } as never,
  });
  ttyBar.update(1, { loss: 1 }, 8);
  ttyBar.update(2, { loss: 1 }, 8);
  assert.ok(tty.every((s) => s.startsWith('\r') && !s.includes('\n')));
});

test('the metrics log drops records after the resumed step and a torn last line', () => {
  const dir = mkdtempSync(join(tmpdir(), 'catface-log-'));
  try {
    const log = new MetricsLog(join(dir, 'metrics.jsonl'));
    for (let step = 1; step <= 5; step++) log.append({ kind: 'train', step, loss: step / 10 });
    appendFileSync(log.path, '{"kind":"train","st');
    assert.equal(readMetrics(log.path).length, 5);
    log.truncateAfter(3);
    assert.deepEqual(
      readMetrics(log.path).map((r) => r.step),
      [1, 2, 3],
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
