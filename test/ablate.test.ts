// `catface ablate` end to end on a tiny study (distance: 2 variants × 2 seeds, a few steps of a tiny network, 10
// synthetic identities): the report and summary, and a runner killed with SIGKILL mid-study that resumes without
// redoing finished runs and ends with the same numbers. Also the pieces: the plan (runs shared by hash, the
// stage-2-only guard) and the seed-and-pair interval.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { planStudy } from '../src/ablate/plan.js';
import { seedPairInterval, tQuantile975, verdictOf } from '../src/ablate/seed-interval.js';
import { findStudy, type Study } from '../src/ablate/studies.js';
import type { StudySummary } from '../src/ablate/study-report.js';

const here = dirname(fileURLToPath(import.meta.url));
const cli = join(here, '..', 'src', 'cli', 'main.js');
let root: string;
let config: string;

const TINY = {
  seed: 1,
  threads: 1,
  outDir: 'replaced',
  data: { train: 'replaced', imageSize: 32, workers: 0 },
  model: { widths: [8, 8, 16, 16], embeddingSize: 16, heads: 2, groups: 2, expandRatio: 2 },
  stage1: { steps: 8, batchSize: 8, optim: { lr: 0.05 } },
  stage2: { steps: 4, batchSize: 8, optim: { lr: 0.05 } },
  checkpoint: { every: 2, keep: 1 },
  log: { progress: 'off' },
};
const DATA = ['--identities', '10', '--images', '3', '--test-identities', '10', '--test-images', '3'];

before(() => {
  root = mkdtempSync(join(tmpdir(), 'catface-ablate-'));
  config = join(root, 'tiny.json');
  writeFileSync(config, JSON.stringify(TINY));
});

after(() => {
  rmSync(root, { recursive: true, force: true });
});

const summaryOf = (out: string, study: string) =>
  JSON.parse(readFileSync(join(out, 'reports', study, 'summary.json'), 'utf8')) as StudySummary;
const resultTimes = (out: string) =>
  new Map(
    readdirSync(join(out, 'runs'))
      .filter((d) => existsSync(join(out, 'runs', d, 'result.json')))
      .map((d) => [d, statSync(join(out, 'runs', d, 'result.json')).mtimeMs]),
  );

test('a tiny study end to end; a runner killed with SIGKILL mid-study resumes, redoing no finished run, to the same numbers', async () => {
  const whole = join(root, 'whole');
  const args = (out: string, ...more: string[]) => [
    cli,
    'ablate',
    '--study',
    'distance',
    '--config',
    config,
    '--seeds',
    '2',
    '--out',
    out,
    ...DATA,
    ...more,
  ];
  const reference = spawnSync(process.execPath, args(whole, '--jobs', '2'), { encoding: 'utf8' });
  assert.equal(reference.status, 0, reference.stderr + reference.stdout);
  assert.match(reference.stdout, /2 variants × 2 seeds = 4 runs \(0 already finished\)/);
  assert.match(reference.stdout, /^(holds|reversed|not resolved at this scale) +cosine beats L2 as the distillation distance/m);
  const expected = summaryOf(whole, 'distance');
  assert.deepEqual(
    expected.variants.map((v) => [v.id, v.seeds]),
    [
      ['cosine', [1, 2]],
      ['l2', [1, 2]],
    ],
  );
  for (const v of expected.variants) {
    for (const i of Object.values(v.accuracy)) {
      assert.equal(i.perSeed.length, 2);
      assert.ok(i.low <= i.value && i.value <= i.high && i.low >= 0 && i.high <= 1, JSON.stringify(i));
      assert.ok(Math.abs(i.value - (i.perSeed[0] + i.perSeed[1]) / 2) < 1e-6, 'the value is the mean over seeds');
    }
  }
  const l2 = expected.variants[1].difference['degraded vs degraded'];
  assert.ok(l2, 'l2 − cosine is reported');
  assert.equal(expected.claims[0].verdict, verdictOf(expected.claims[0].difference as NonNullable<typeof l2>));
  assert.ok(Math.abs((expected.claims[0].difference?.value ?? 0) + l2.value) < 1e-6, 'cosine − l2 is −(l2 − cosine)');
  const html = readFileSync(join(whole, 'reports', 'distance', 'index.html'), 'utf8');
  assert.match(html, /Verdicts on the paper&#39;s claims/);
  assert.equal(readdirSync(join(whole, 'reports', 'distance')).filter((f) => f.endsWith('.png')).length, 3, 'one ROC figure per protocol');

  // without --resume, the same study into the same folder is refused; with it, nothing is retrained
  const refused = spawnSync(process.execPath, args(whole), { encoding: 'utf8' });
  assert.equal(refused.status, 1);
  assert.match(refused.stderr, /already holds 4 of this study's runs.*--resume/);
  const again = spawnSync(process.execPath, args(whole, '--resume'), { encoding: 'utf8' });
  assert.equal(again.status, 0, again.stderr);
  assert.match(again.stdout, /4 runs \(4 already finished\)/);

  // the runner is killed with SIGKILL once the first run is finished and the second started
  const killed = join(root, 'killed');
  const child = spawn(process.execPath, args(killed, '--jobs', '1'), { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  const secondStarted = new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d) => {
      stdout += d;
      if (/^\[2\/4\]/m.test(stdout)) resolve();
    });
    child.on('exit', (code) => reject(new Error(`the runner exited (${code}) before its second run: ${stdout}`)));
  });
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_c, signal) => resolve(signal)));
  await secondStarted;
  child.kill('SIGKILL');
  assert.equal(await exited, 'SIGKILL');
  const before = resultTimes(killed);
  assert.equal(before.size, 1, 'one run was finished when the runner was killed');
  const resumed = spawnSync(process.execPath, args(killed, '--resume'), { encoding: 'utf8' });
  assert.equal(resumed.status, 0, resumed.stderr + resumed.stdout);
  assert.match(resumed.stdout, /4 runs \(1 already finished\)/);
  const afterwards = resultTimes(killed);
  assert.equal(afterwards.size, 4);
  for (const [dir, mtime] of before) assert.equal(afterwards.get(dir), mtime, `${dir} was finished and must not be redone`);
  const got = summaryOf(killed, 'distance');
  assert.deepEqual({ ...got }, { ...expected }, 'the resumed study has the numbers of the uninterrupted one');
});

test('the plan: runs are named by their config, shared between studies, and shared-stage-1 variants touch only stage 2', () => {
  const options = {
    base: { ...TINY, data: { ...TINY.data, train: '/data/train' } },
    source: 'tiny.json',
    seeds: [1, 2],
    runsDir: '/runs',
    testDir: '/data/test',
    evalSeed: 1,
    threads: 1,
    cacheDir: '/data/cache',
  };
  const fusion = planStudy(findStudy('fusion'), options);
  assert.equal(fusion.units.length, 2 + 6 * 2, 'one stage-1 run per seed and one stage-2 run per variant and seed');
  const stage1 = fusion.units.filter((u) => u.evaluation === null);
  for (const unit of fusion.units.filter((u) => u.evaluation)) {
    assert.equal(unit.config.stage1.steps, 0);
    assert.equal(unit.after.length, 1);
    const from = stage1.find((s) => s.id === unit.after[0]);
    assert.equal(unit.config.model.init, join(from?.dir as string, 'model'));
    assert.equal(unit.config.seed, from?.config.seed);
  }
  const parts = planStudy(findStudy('catf-parts'), options);
  const catf = (plan: typeof fusion, seed: number) => plan.runs.find((r) => r.variant === 'catf' && r.seed === seed)?.unit;
  assert.equal(catf(parts, 2), catf(fusion, 2), "catf-parts' full CATF is the fusion study's CATF run");
  assert.notEqual(catf(fusion, 1), catf(fusion, 2));
  const bad: Study = { ...findStudy('fusion'), variants: [{ id: 'x', doc: '', overrides: { loss: { lambdaSB: 2 } } }] };
  assert.throws(() => planStudy(bad, options), /variant x: shares stage 1 but overrides loss\.lambdaSB/);
  const distillation = planStudy(findStudy('distillation'), options);
  assert.deepEqual(
    distillation.units.map((u) => [u.config.stage2.steps, u.config.loss.lambdaDist, u.config.loss.distillTarget]).slice(0, 4),
    [
      [0, 0, 'attention'],
      [0, 1, 'features'],
      [0, 1, 'cbam'],
      [0, 1, 'attention'],
    ],
  );
});

test('the seed-and-pair interval: t over seeds and the pair bootstrap add in quadrature, clipped to the bounds', () => {
  assert.equal(tQuantile975(2), 4.303);
  // the same 0/1 correctness in every seed: no seed spread, the interval is the pair bootstrap's
  const items = Uint8Array.from({ length: 200 }, (_, i) => (i % 4 === 0 ? 0 : 1));
  const strata = Uint8Array.from({ length: 200 }, (_, i) => i % 2);
  const same = seedPairInterval([items, items, items], strata, [0, 1]);
  assert.equal(same.value, 0.75);
  assert.equal(same.seedHalfWidth, 0);
  assert.ok(same.low > 0.66 && same.low < 0.72 && same.high > 0.78 && same.high < 0.84, JSON.stringify(same));
  // per-seed accuracies 0.5, 0.6, 0.7: seed half-width t(2)·0.1/√3
  const seeds = [0.5, 0.6, 0.7].map((a) => Uint8Array.from({ length: 200 }, (_, i) => (i < 200 * a ? 1 : 0)));
  const spread = seedPairInterval(seeds, strata, [0, 1]);
  assert.ok(Math.abs(spread.value - 0.6) < 1e-12);
  assert.ok(Math.abs(spread.seedHalfWidth - (4.303 * 0.1) / Math.sqrt(3)) < 1e-9);
  assert.ok(spread.low < 0.6 - spread.seedHalfWidth && spread.high > 0.6 + spread.seedHalfWidth);
  assert.ok(spread.high <= 1);
  assert.equal(verdictOf({ low: 0.01, high: 0.2 }), 'holds');
  assert.equal(verdictOf({ low: -0.2, high: -0.01 }), 'reversed');
  assert.equal(verdictOf({ low: -0.01, high: 0.2 }), 'not resolved at this scale');
});
