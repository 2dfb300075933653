// The addon keeps its state per JS environment: worker threads load it next to the main thread, run ops at the
// same time, and exit (with tensors still alive) without disturbing the others; the process then exits 0.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const script = join(dirname(fileURLToPath(import.meta.url)), 'helpers', 'threads-ops.js');

interface Run {
  loss: number;
  grad: number[];
  live: number;
}

test('two worker threads and the main thread run autograd loops concurrently, then all exit cleanly', () => {
  const r = spawnSync(process.execPath, [script, '--run'], { encoding: 'utf8', env: { ...process.env, CATFACE_THREADS: '1' } });
  assert.equal(r.status, 0, `exit ${r.status} (signal ${r.signal}):\n${r.stderr}`);
  const line = r.stdout.split('\n').find((l) => l.startsWith('RESULT '));
  assert.ok(line, `no RESULT line in:\n${r.stdout}\n${r.stderr}`);
  const { main, workers } = JSON.parse(line.slice(7)) as { main: Run; workers: Run[] };
  assert.equal(workers.length, 2);
  assert.ok(Number.isFinite(main.loss) && main.grad.length === 16 && main.grad.some((g) => g !== 0));
  for (const w of [main, ...workers]) assert.equal(w.live, 0, 'every tensor of the loop was freed');
  // The same computation gives the same numbers in every thread (no state shared between environments).
  for (const w of workers) {
    assert.equal(w.loss, main.loss);
    assert.deepEqual(w.grad, main.grad);
  }
});
