// Numeric flags and $CATFACE_THREADS: junk, empty strings and out-of-range values are refused with a message
// naming the flag and its range (before, `--size ''` read as 0 and CATFACE_THREADS=junk meant "all cores").
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../src/cli/command.js';
import { intFlag, numberFlag, RANGES } from '../src/cli/flags.js';
import { threadsEnvProblem } from '../src/torch/threads-env.js';

const cli = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

test('intFlag refuses empty, junk, fractions, hex, exponents and out-of-range values by flag name', () => {
  assert.equal(intFlag('112', 'size', RANGES.size), 112);
  assert.equal(intFlag(' 16 ', 'size', RANGES.size), 16);
  for (const bad of ['', ' ', 'abc', '12abc', '1.5', '0x10', '1e2', '15', '1025', 'Infinity', '-0x1', '9'.repeat(30)])
    assert.throws(
      () => intFlag(bad, 'size', RANGES.size),
      (e: Error) => e instanceof UsageError && e.message === `--size must be an integer in 16–1024, got '${bad}'`,
      bad,
    );
  assert.throws(
    () => intFlag(undefined, 'stop-after', { min: 1, max: Number.MAX_SAFE_INTEGER }),
    /--stop-after must be an integer ≥ 1, got ''/,
  );
});

test('numberFlag accepts decimals in range and refuses the rest', () => {
  assert.equal(numberFlag('0.3', 'min-score', { min: 0, max: 1 }), 0.3);
  assert.equal(numberFlag('.5', 'min-score', { min: 0, max: 1 }), 0.5);
  for (const bad of ['', 'NaN', '1e999', '1.2', '-0.1', '0.3x'])
    assert.throws(() => numberFlag(bad, 'min-score', { min: 0, max: 1 }), /--min-score must be a number in 0–1/);
});

test('CATFACE_THREADS: unset or 1–256 is fine; junk, 0, negative and huge values are named and refused', () => {
  assert.equal(threadsEnvProblem(undefined), null);
  assert.equal(threadsEnvProblem('4'), null);
  for (const bad of ['', 'junk', '0', '-2', '2.5', '100000'])
    assert.match(threadsEnvProblem(bad) ?? '', /CATFACE_THREADS must be an integer in 1–256/, bad);
  const run = spawnSync(process.execPath, [cli, 'info'], { env: { ...process.env, CATFACE_THREADS: 'lots' }, encoding: 'utf8' });
  assert.equal(run.status, 2);
  assert.match(run.stderr, /^catface: CATFACE_THREADS must be an integer in 1–256 .*got 'lots'/);
  const ok = spawnSync(process.execPath, [cli, 'info'], { env: { ...process.env, CATFACE_THREADS: '1' }, encoding: 'utf8' });
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /threads {2}1\n/);
});
