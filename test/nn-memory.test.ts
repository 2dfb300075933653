// A 300-step training loop (small IR-18, SGD with momentum) must keep its resident memory flat: native tensors
// are invisible to V8's collector, so a leak of one tensor per step shows up here, not in the heap.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { IResNet, iresnetConfig } from '../src/models/iresnet.js';
import { Linear } from '../src/nn/linear.js';
import * as torch from '../src/torch/index.js';

/** V8's full collection, reachable without --expose-gc on the command line. */
function fullGc(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

const rssMb = (): number => process.memoryUsage.rss() / 2 ** 20;

// Node runs the finalizers of collected tensor handles (small native objects) on the event loop: a loop
// that never yields keeps them, and the holes they pin fragment the heap (RSS +40% over 300 steps here).
// Like any real training loop (progress output, data loading), this one awaits between steps.
test('300 training steps keep RSS growth under 5% after warm-up', async (t) => {
  // One thread: this measures memory, and a shared machine makes two-thread OpenMP barriers very slow.
  const threads = torch.getNumThreads();
  torch.setNumThreads(1);
  t.after(() => torch.setNumThreads(threads));
  torch.manualSeed(0);
  const model = new IResNet(iresnetConfig('ir18', { inputSize: 32, widths: [8, 16, 32, 64], embeddingSize: 32 }));
  const head = new Linear(32, 10, { bias: false });
  const params = [...model.parameters(), ...head.parameters()].filter((p) => p.requiresGrad);
  const momentum = params.map((p) => torch.keep(torch.zerosLike(p)));
  const x = torch.keep(torch.randn([8, 3, 32, 32]));
  const y = torch.keep(torch.randint(0, 10, [8]));
  const losses: number[] = [];
  const step = () =>
    torch.tidy(() => {
      model.zeroGrad();
      head.zeroGrad();
      const loss = torch.F.crossEntropy(head.forward(model.forward(x)), y);
      loss.backward();
      torch.noGrad(() => {
        params.forEach((p, i) => {
          momentum[i].mul_(0.9).add_(p.grad as torch.Tensor);
          p.add_(momentum[i], -0.01);
        });
      });
      losses.push(loss.item());
    });
  const warmup = 50;
  for (let i = 0; i < warmup; i++) {
    step();
    await nextTurn();
  }
  fullGc();
  // Baseline: the median of a few samples, so one allocator hiccup does not set it.
  const baseline: number[] = [];
  for (let i = 0; i < 5; i++) {
    step();
    await nextTurn();
    baseline.push(rssMb());
  }
  baseline.sort((a, b) => a - b);
  const before = baseline[2];
  for (let i = warmup + 5; i < 300; i++) {
    step();
    await nextTurn();
  }
  fullGc();
  const after = rssMb();
  const growth = (after - before) / before;
  assert.ok(growth < 0.05, `RSS grew ${(growth * 100).toFixed(1)}% (${before.toFixed(0)} → ${after.toFixed(0)} MB) over 245 steps`);
  assert.equal(losses.length, 300);
  assert.ok(losses.every(Number.isFinite), 'finite losses');
  assert.ok(losses[299] < losses[0], `the loss went down (${losses[0].toFixed(3)} → ${losses[299].toFixed(3)})`);
});
