// catface/distributed on loopback: a catface rank and a PyTorch rank in one Gloo group through one TCPStore
// agree (wire compatibility); every collective on catface ranks; a rank killed with SIGKILL makes the other fail
// within the timeout, naming the collective and its rank; bad arguments give clear errors.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import * as dist from '../src/distributed/index.js';
import * as torch from '../src/torch/index.js';
import { freePort } from './helpers/free-port.js';
import { lastJson, rankEnv, start } from './helpers/rank-process.js';

const here = dirname(fileURLToPath(import.meta.url));
const rankScript = join(here, 'helpers', 'dist-rank.js');
const pythonPeer = join(here, '..', '..', 'test', 'helpers', 'dist_peer.py');
const python = '/usr/bin/python3';
const pythonMissing =
  spawnSync(python, ['-c', 'import torch.distributed as d; assert d.is_gloo_available()']).status === 0
    ? false
    : `${python} has no torch.distributed with Gloo (run ./setup.sh): the PyTorch interop test is skipped`;

test('a catface rank 0 and a PyTorch rank 1 share one Gloo group through one TCPStore and agree', {
  timeout: 120000,
  skip: pythonMissing,
}, async () => {
  const port = await freePort();
  const ours = start(process.execPath, [rankScript, 'interop'], rankEnv(port, 0));
  const theirs = start(python, [pythonPeer], rankEnv(port, 1));
  const [a, b] = [lastJson(await ours.done, 'catface rank 0'), lastJson(await theirs.done, 'PyTorch rank 1')];
  const expected = {
    sum: [0, 1, 2, 3, 4].map((i) => i * 1 + 0 + i * 2 + 1),
    max: [3, 7, -1],
    int64: [21, 2 ** 41],
    broadcast1: [0, 7, 14, 21],
    broadcast0: [2.5, 2.5, 2.5],
    gather: [0, 1].map((r) =>
      [
        [0, 1, 2],
        [3, 4, 5],
      ].map((row) => row.map((v) => v + r)),
    ),
  };
  for (const [name, value] of Object.entries(expected)) {
    assert.deepEqual(a[name], value, `catface rank 0: ${name}`);
    assert.deepEqual(b[name], value, `PyTorch rank 1: ${name}`);
  }
});

test('every collective on two catface ranks: avg, min, reduceScatter (sum, avg), a synchronous wait, differentiable sumOverRanks', {
  timeout: 120000,
}, async () => {
  const port = await freePort();
  const ranks = [0, 1].map((r) => start(process.execPath, [rankScript, 'collectives'], rankEnv(port, r)));
  const results = await Promise.all(ranks.map(async (p, r) => lastJson(await p.done, `rank ${r}`)));
  for (const [r, out] of results.entries()) {
    assert.deepEqual(out.avg, [0.5, 2]);
    assert.deepEqual(out.min, [0, -1]);
    // inputs[j] on rank q is [10j + q, q]: rank r receives the sum over q of inputs[r]
    assert.deepEqual(out.reduceScatter, [20 * r + 1, 1]);
    assert.deepEqual(out.reduceScatterAvg, [10 * r + 0.5, 0.5]);
    assert.deepEqual(out.sync, [2]);
    assert.deepEqual(out.sumOverRanks, [3, 4]);
    assert.deepEqual(out.sumOverRanksGrad, [3, 3]);
  }
});

test('kill -9 of one rank: the other fails within the timeout, naming the collective and its rank', { timeout: 120000 }, async () => {
  const port = await freePort();
  const timeoutMs = 8000;
  const ranks = [0, 1].map((r) =>
    start(process.execPath, [rankScript, 'loop'], { ...rankEnv(port, r), DIST_TIMEOUT_MS: String(timeoutMs) }),
  );
  // wait until rank 1 has done a few all-reduces, then kill it
  await new Promise<void>((resolve, reject) => {
    ranks[1].child.stdout?.on('data', (d) => {
      if (String(d).includes('"ready":true')) resolve();
    });
    ranks[1].done.then((r) => reject(new Error(`rank 1 ended early: ${r.stderr}`)));
  });
  const killedAt = Date.now();
  ranks[1].child.kill('SIGKILL');
  const survivor = await ranks[0].done;
  const took = Date.now() - killedAt;
  assert.equal(survivor.code, 3, `rank 0 should fail, got ${survivor.code ?? survivor.signal}: ${survivor.stderr}`);
  assert.match(survivor.stderr, /allReduce #\d+ on rank 0 of 2 \(gloo\)/);
  assert.ok(took < timeoutMs + 5000, `rank 0 took ${took} ms to notice (timeout ${timeoutMs} ms)`);
});

test('process group errors are clear', async () => {
  assert.throws(() => dist.getRank(), /not initialised \(call initProcessGroup first\)/);
  assert.throws(() => dist.allReduce(torch.ones([1])), /allReduce: the default process group is not initialised/);
  await assert.rejects(
    dist.initProcessGroup({ initMethod: 'udp://x', rank: 0, worldSize: 1 }),
    /initMethod must be env:\/\/, tcp:\/\/host:port or file:\/\/\/path/,
  );
  await assert.rejects(dist.initProcessGroup({ rank: 2, worldSize: 2, initMethod: 'tcp://127.0.0.1:1' }), /rank 2 is not in a world of 2/);
  assert.throws(
    () => dist.readRankEnv({ WORLD_SIZE: '2', RANK: 'x', MASTER_ADDR: 'h', MASTER_PORT: '1' }),
    /RANK='x' must be an integer in 0…1/,
  );
  assert.throws(() => dist.readRankEnv({ WORLD_SIZE: '2', RANK: '0', MASTER_PORT: '1' }), /MASTER_ADDR is not set/);
  // a world of one through a FileStore: every collective is the identity, and misuse names the collective
  const file = join(here, `store-${process.pid}`);
  const group = await dist.initProcessGroup({ initMethod: `file://${file}`, rank: 0, worldSize: 1, timeoutMs: 5000 });
  try {
    assert.equal(dist.getWorldSize(), 1);
    const t = torch.tensor([1, 2]);
    await dist.allReduce(t, 'avg');
    assert.deepEqual(t.toArray(), [1, 2]);
    assert.throws(
      () => dist.allGather([torch.zeros([2]), torch.zeros([2])], t),
      /allGather on rank 0: needs one tensor per rank \(1\), got 2/,
    );
    assert.throws(() => dist.broadcast(t, 1), /broadcast: src must be a rank in 0…0, got 1/);
    assert.throws(() => group.allReduce(torch.ones([2, 2]).t(), 'sum'), /allReduce on rank 0: tensor 0 is not contiguous/);
    await assert.rejects(dist.initProcessGroup({ rank: 0, worldSize: 1 }), /already initialised/);
  } finally {
    dist.destroyProcessGroup();
  }
  assert.throws(() => group.barrier(), /barrier: the process group was destroyed/);
});

test('Partial FC on 2 ranks equals the full AdaFace head: loss, embedding and centre gradients, norm statistics (also with unlabelled rows)', {
  timeout: 120000,
}, async () => {
  const port = await freePort();
  const ranks = [0, 1].map((r) => start(process.execPath, [rankScript, 'partial-fc'], rankEnv(port, r)));
  const results = await Promise.all(ranks.map(async (p, r) => lastJson(await p.done, `rank ${r}`)));
  for (const [r, out] of results.entries()) {
    const { full, sampled, unlabelled } = out as Record<string, Record<string, number>>;
    // unlabelled: rows labelled −1 skipped, as labelledMargin does on one process
    for (const [name, run] of Object.entries({ full, unlabelled })) {
      const where = `rank ${r} (${name})`;
      assert.ok(Math.abs(run.loss - run.fullLoss) <= 1e-5 * run.fullLoss, `${where}: loss ${run.loss} vs ${run.fullLoss}`);
      assert.ok(run.embeddingGrad <= 1e-6 * run.gradScale + 1e-9, `${where}: embedding gradients differ by ${run.embeddingGrad}`);
      assert.ok(run.kernelGrad <= 1e-6 * Math.max(1, run.kernelGradScale), `${where}: centre gradients differ by ${run.kernelGrad}`);
      assert.ok(run.mu <= 1e-5, `${where}: AdaFace mean differs by ${run.mu}`);
    }
    assert.equal(full.count, r === 0 ? 6 : 5, '11 classes split 6 + 5');
    assert.equal(full.gathered, 0, "the training loop's slices gather into the whole head");
    assert.equal(full.cut, 0, 'and a whole head cuts into the slices');
    // with sampling, only the scored columns (the batch's classes + negatives up to half the slice) get gradients
    assert.ok(Number.isFinite(sampled.loss));
    assert.ok(sampled.columnsWithGrad <= Math.max(Math.ceil(0.5 * sampled.count), sampled.count) && sampled.columnsWithGrad >= 1);
  }
});
