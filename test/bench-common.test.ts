// The benchmark methodology (bench/common.ts): rounds alternate the two sides, ratios and CPU ratios per round,
// their median and min–max in RESULT fields, and the anchor's per-step CPU time read by wrapping its clock.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { alternate, comparisonFields, pythonWithTorch, runTimedScript, type StepTimes, spread } from '../bench/common.js';

const steps = (wall: number[], cpu: number[]): StepTimes => ({ wall, cpu });

test('spread: median of odd and even counts, min and max', () => {
  assert.deepEqual(spread([3, 1, 2]), { median: 2, min: 1, max: 3 });
  assert.deepEqual(spread([4, 1, 3, 2]), { median: 2.5, min: 1, max: 4 });
});

test('alternate: sides swap order every round; per-round rate and CPU ratios; median and min–max', async () => {
  const order: string[] = [];
  // catface: 2, 1, 4 s per 8-image step over the rounds (one step each); the anchor always 2 s. CPU: catface 1 s, anchor 1.5 s.
  const oursWall = [2, 1, 4];
  let round = 0;
  const log = console.log;
  console.log = () => {};
  try {
    const c = await alternate({
      rounds: 3,
      label: 'test',
      items: { step: 8 },
      ours: async () => {
        order.push('ours');
        return { step: steps([oursWall[round++]], [1]) };
      },
      anchor: () => {
        order.push('anchor');
        return { step: steps([2, 2, 2], [1.5, 1.5, 1.5]) };
      },
    });
    assert.deepEqual(order, ['ours', 'anchor', 'anchor', 'ours', 'ours', 'anchor']);
    assert.deepEqual(c.step.ours, [4, 8, 2]);
    assert.deepEqual(c.step.anchor, [4, 4, 4]);
    assert.deepEqual(c.step.ratios, [1, 2, 0.5]);
    assert.deepEqual(c.step.ratio, { median: 1, min: 0.5, max: 2 });
    assert.deepEqual(c.step.cpuRatios, [1.5, 1.5, 1.5]);
    assert.deepEqual(comparisonFields('stage2', '_64', c.step), {
      stage2_ratio_64: 1,
      stage2_ratio_min_64: 0.5,
      stage2_ratio_max_64: 2,
      stage2_cpu_ratio_64: 1.5,
      stage2_round_ratios_64: [1, 2, 0.5],
      stage2_round_cpu_ratios_64: [1.5, 1.5, 1.5],
    });
  } finally {
    console.log = log;
  }
});

test('runTimedScript: the steps a script times with perf_counter, split into loops, with their CPU time', (t) => {
  if (!pythonWithTorch()) return t.skip('no python3 with torch');
  const dir = mkdtempSync(join(tmpdir(), 'catface-bench-common-'));
  try {
    // Two loops in the anchors' style (1 untimed warm-up, then 2 timed steps): a busy step and a sleeping one.
    const script = join(dir, 'fake_anchor.py');
    writeFileSync(
      script,
      `import json, sys, time
def busy():
    end = time.process_time() + 0.05
    while time.process_time() < end: pass
for loop in range(2):
    ts = []
    for i in range(3):
        t0 = time.perf_counter()
        busy() if i % 2 else time.sleep(0.05)
        if i >= 1: ts.append(time.perf_counter() - t0)
print('RESULT ' + json.dumps({'args': sys.argv[1:], 'timed': len(ts)}))
`,
    );
    const run = runTimedScript<{ args: string[]; timed: number }>('test', script, ['--steps', '2'], 2);
    assert.deepEqual(run.result, { args: ['--steps', '2'], timed: 2 });
    assert.equal(run.loops.length, 2);
    for (const loop of run.loops) {
      assert.equal(loop.wall.length, 2);
      const [busyStep, sleepStep] = [0, 1];
      assert.ok(loop.cpu[busyStep] >= 0.045, `busy step CPU ${loop.cpu[busyStep]} s`);
      assert.ok(loop.wall[busyStep] >= loop.cpu[busyStep] * 0.99, 'a single thread spends no more CPU than wall time');
      assert.ok(loop.wall[sleepStep] >= 0.045, `sleeping step wall ${loop.wall[sleepStep]} s`);
      assert.ok(loop.cpu[sleepStep] < 0.03, `sleeping step CPU ${loop.cpu[sleepStep]} s`);
    }
    assert.throws(() => runTimedScript('test', script, [], 3), /timed 4 steps, not a multiple of --steps 3/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
