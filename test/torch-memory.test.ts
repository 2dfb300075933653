// Native memory: V8 is told about each storage once (views and in-place results add nothing), scopes free what
// they should, in-place ops act on views' shared storage, and a training-like loop in tidy keeps RSS flat.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setImmediate as nextTurn } from 'node:timers/promises';
import * as torch from '../src/torch/index.js';
import { collectGarbage, thirdsGrowth, thirdsSpan } from './helpers/memory.js';

const MB = 1024 * 1024;

const external = (): number => torch.externalBytes();

test('external memory (as told to V8) counts each storage once and drops when the last handle goes', () => {
  const before = external();
  const big = torch.zeros([(16 * MB) / 4]); // 16 MiB of float32
  const afterAlloc = external() - before;
  assert.ok(afterAlloc >= 16 * MB && afterAlloc < 17 * MB, `allocation reported ${afterAlloc} bytes`);
  const views = [big.view(4, -1), big.narrow(0, 0, 1000), big.reshape(2, -1), big.to('float32')];
  big.add_(1); // in-place: no new handle, no new memory
  assert.ok(external() - before < 17 * MB, 'views and in-place results must not be counted again');
  big.dispose();
  assert.ok(external() - before >= 16 * MB, 'storage still held by views stays counted');
  for (const v of views) v.dispose();
  assert.ok(external() - before < MB, `after the last view: ${external() - before} bytes still counted`);
});

test('gradients are counted once and freed with zeroGrad-style reset', () => {
  const x = torch.zeros([(4 * MB) / 4], { requiresGrad: true });
  x.mul(2).sum().backward();
  const first = x.grad;
  const withGrad = external();
  const handles = [first, x.grad, x.grad];
  assert.ok(Math.abs(external() - withGrad) < 1024, 'grad handles alias one storage');
  torch.dispose(handles);
  x.grad = null;
  assert.ok(withGrad - external() >= 4 * MB, 'dropping the gradient releases its storage');
  x.dispose();
});

test('in-place ops write through views and bump the version counter', () => {
  const x = torch.arange(0, 6).reshape(2, 3);
  const row = x.select(0, 1);
  assert.ok(row.sharesStorageWith(x));
  const v0 = x._version();
  row.mul_(10);
  x.narrow(1, 0, 1).fill_(-1);
  assert.deepEqual(x.toArray(), [
    [-1, 1, 2],
    [-1, 40, 50],
  ]);
  assert.ok(x._version() > v0);
  const col = x.transpose(0, 1);
  assert.equal(col.isContiguous(), false);
  assert.equal(col.contiguous().isContiguous(), true);
  assert.deepEqual(col.clone().toArray(), [
    [-1, -1],
    [1, 40],
    [2, 50],
  ]);
  // Modifying a tensor that backward still needs is detected, as in PyTorch.
  const w = torch.ones([3], { requiresGrad: true });
  const y = w.mul(2).exp();
  const loss = y.sum();
  torch.noGrad(() => y.add_(1));
  assert.throws(() => loss.backward(), /modified by an inplace operation/);
});

test('tidy frees temporaries: tracked count and external memory return to the start', () => {
  const w = torch.keep(torch.randn([256, 256], { requiresGrad: true }));
  const start = external();
  for (let i = 0; i < 20; i++) {
    const lossValue = torch.tidy(() => {
      const x = torch.randn([64, 256]);
      const loss = x.matmul(w).relu().square().mean();
      loss.backward();
      return loss.item();
    });
    assert.ok(Number.isFinite(lossValue));
    w.grad = null;
  }
  assert.ok(external() - start < 64 * 1024, `external memory grew by ${external() - start} bytes`);
  w.dispose();
});

// A JS tensor is an index into the addon's table: dispose() frees the native tensor and its slot at once, so a
// loop that never yields to the event loop (no finalizer ever runs) stays flat. Before the slot table each
// disposed handle left a native wrapper waiting for its finalizer: this loop grew by ~120 MiB.
test('a synchronous loop of 150 000 ops that never yields keeps RSS and the tensor table flat', () => {
  const a = torch.randn([16, 16]);
  const b = torch.randn([16, 16]);
  const step = (): void => {
    const y = a.add(b); // outside any scope: disposed by hand
    const z = y.matmul(a);
    y.dispose();
    z.dispose();
    torch.tidy(() => {
      torch.F.softmax(a.mul(2), -1); // in a scope: freed when it closes
    });
  };
  for (let i = 0; i < 5000; i++) step(); // warm-up: allocator pools, the JIT and V8's young generation settle
  const rssStart = process.memoryUsage().rss;
  const liveStart = torch.liveTensorCount();
  for (let i = 0; i < 30000; i++) step();
  const growth = (process.memoryUsage().rss - rssStart) / MB;
  assert.equal(torch.liveTensorCount(), liveStart, 'every tensor of the loop was freed');
  assert.ok(growth < 32, `RSS grew ${growth.toFixed(1)} MiB over 150 000 ops without yielding`);
  torch.dispose([a, b]);
});

test('a tensor forgotten outside any scope is freed once V8 collects it (the FinalizationRegistry fallback)', async () => {
  // Handles earlier tests dropped would be freed along with this test's orphans: collect them first, until the
  // count stops moving (bounded).
  for (let turn = 0, before = -1; turn < 50 && torch.liveTensorCount() !== before; turn++) {
    before = torch.liveTensorCount();
    collectGarbage();
    await nextTurn();
  }
  const liveStart = torch.liveTensorCount();
  const bytesStart = external();
  (() => {
    for (let i = 0; i < 20; i++) torch.zeros([1024]).add(1); // 40 orphans outside any scope, never disposed
  })();
  assert.equal(torch.liveTensorCount() - liveStart, 40);
  // Collected objects' finalizers run between event-loop turns: collect and turn until they did (bounded).
  for (let turn = 0; turn < 50 && torch.liveTensorCount() > liveStart; turn++) {
    collectGarbage();
    await nextTurn();
  }
  // (at most the start: an earlier test's late orphan may go in the same collections)
  assert.ok(torch.liveTensorCount() <= liveStart, `${torch.liveTensorCount() - liveStart} orphans were not freed`);
  assert.ok(external() <= bytesStart, 'their storage is no longer counted');
});

// A real training loop yields (data loading, logging) and allocates enough JS to be collected regularly; this loop
// does both explicitly, and bounds growth rather than asserting exact bytes.
test('a 300-step training-like loop in tidy keeps memory flat: RSS growth below a 32 KB-per-step leak, tensor storage within one input', async () => {
  torch.manualSeed(5);
  const conv = torch.keep(torch.randn([16, 3, 3, 3]).mul(0.1).requiresGrad_(true));
  const fc = torch.keep(torch.randn([10, 16]).mul(0.1).requiresGrad_(true));
  const step = (): void =>
    torch.tidy(() => {
      const x = torch.randn([8, 3, 32, 32]);
      const y = torch.randint(0, 10, [8]);
      const h = torch.F.conv2d(x, conv, null, { padding: 1 }).relu();
      const logits = torch.F.linear(torch.F.adaptiveAvgPool2d(h, 1).flatten(1), fc);
      torch.F.crossEntropy(logits, y).backward();
      torch.noGrad(() => {
        for (const p of [conv, fc]) {
          const g = p.grad as torch.Tensor;
          p.sub_(g, 0.01);
          g.zero_();
        }
      });
    });
  for (let i = 0; i < 50; i++) {
    step(); // warm-up: allocator pools and lazy initialisation settle
    await nextTurn();
  }
  collectGarbage();
  await nextTurn();
  const externalStart = torch.externalBytes();
  const rss: number[] = [];
  for (let i = 0; i < 300; i++) {
    step();
    if (i % 50 === 49) collectGarbage();
    await nextTurn();
    if (i % 10 === 9) rss.push(process.memoryUsage().rss);
  }
  // One leaked input per step (8×3×32×32 float32 = 96 KB) would add 3× this bound.
  const bound = 32 * 1024 * thirdsSpan(rss.length, 10);
  const growth = thirdsGrowth(rss);
  assert.ok(growth < bound, `RSS grew ${(growth / MB).toFixed(1)} MB over the loop (bound ${(bound / MB).toFixed(1)} MB)`);
  const held = torch.externalBytes() - externalStart;
  assert.ok(Math.abs(held) < 96 * 1024, `tensor storage held by JS changed by ${held} bytes over the loop`);
  torch.dispose([conv, fc]);
});
