// A 300-step training loop (small IR-18, SGD with momentum) must keep its resident memory flat: native tensors
// are invisible to V8's collector, so a leak of one tensor per step shows up here, not in the heap.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { IResNet, iresnetConfig } from '../src/models/iresnet.js';
import { Linear } from '../src/nn/linear.js';
import * as torch from '../src/torch/index.js';
import { collectGarbage, thirdsGrowth, thirdsSpan } from './helpers/memory.js';

// Node runs the finalizers of collected tensor handles (small native objects) on the event loop: a loop
// that never yields keeps them, and the holes they pin fragment the heap (RSS +40% over 300 steps here).
// Like any real training loop (progress output, data loading), this one awaits between steps.
test('300 training steps keep RSS growth after warm-up below that of a 64 KB-per-step leak', async (t) => {
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
  collectGarbage();
  const rss: number[] = [];
  for (let i = warmup; i < 300; i++) {
    step();
    if (i % 50 === 49) collectGarbage();
    await nextTurn();
    if (i % 10 === 9) rss.push(process.memoryUsage.rss());
  }
  // A leak of one 64 KB tensor per step (the smallest activation here is 8×8×32×32 float32 = 256 KB) would
  // add this bound; allocator noise comes and goes and moves neither third's median.
  const bound = 64 * 1024 * thirdsSpan(rss.length, 10);
  const growth = thirdsGrowth(rss);
  assert.ok(
    growth < bound,
    `RSS grew ${(growth / 2 ** 20).toFixed(1)} MB over ${300 - warmup} steps (bound ${(bound / 2 ** 20).toFixed(1)} MB)`,
  );
  assert.equal(losses.length, 300);
  assert.ok(losses.every(Number.isFinite), 'finite losses');
  assert.ok(losses[299] < losses[0], `the loss went down (${losses[0].toFixed(3)} → ${losses[299].toFixed(3)})`);
});
