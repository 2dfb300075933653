// One catface rank of the distributed tests, spawned by test/distributed.test.ts with torchrun's variables.
// Scenario (argv[2]): 'interop' runs the same collectives as dist_peer.py; 'collectives' every collective on
// catface ranks; 'loop' all-reduces until a peer dies. Results are one JSON line on stdout; a failure prints
// its message on stderr and exits with code 3.
import * as dist from '../../src/distributed/index.js';
import * as torch from '../../src/torch/index.js';

const scenario = process.argv[2];
const timeoutMs = Number(process.env.DIST_TIMEOUT_MS ?? 60000);

async function interop(rank: number, world: number): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = { rank, world };
  let t = torch
    .arange(5)
    .mul(rank + 1)
    .add(rank);
  await dist.allReduce(t);
  out.sum = t.toArray();
  t = torch.tensor([rank * 3, 7 - rank, -1 - rank]);
  await dist.allReduce(t, 'max');
  out.max = t.toArray();
  const big = torch.fromTypedArray(BigInt64Array.from([BigInt(rank + 10), 1n << 40n]));
  await dist.allReduce(big);
  out.int64 = Array.from(big.dataSync() as BigInt64Array, Number);
  t = rank === 1 ? torch.arange(4).mul(7) : torch.zeros([4]);
  await dist.broadcast(t, 1);
  out.broadcast1 = t.toArray();
  t = rank === 0 ? torch.full([3], 2.5) : torch.zeros([3]);
  await dist.broadcast(t, 0);
  out.broadcast0 = t.toArray();
  const parts = Array.from({ length: world }, () => torch.zeros([2, 3]));
  await dist.allGather(parts, torch.full([2, 3], rank).add(torch.arange(6).reshape([2, 3])));
  out.gather = parts.map((p) => p.toArray());
  await dist.barrier();
  return out;
}

async function collectives(rank: number, world: number): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = { rank, world };
  const avg = torch.tensor([rank, 2 * rank + 1]);
  const min = torch.tensor([rank, -rank]);
  // issued together, waited together: works complete in issue order
  await Promise.all([dist.allReduce(avg, 'avg').wait(), dist.allReduce(min, 'min').wait()]);
  out.avg = avg.toArray();
  out.min = min.toArray();
  const inputs = Array.from({ length: world }, (_, r) => torch.tensor([10 * r + rank, rank]));
  const mine = torch.zeros([2]);
  await dist.reduceScatter(mine, inputs);
  out.reduceScatter = mine.toArray();
  const mean = torch.zeros([2]);
  await dist.reduceScatter(mean, inputs, 'avg');
  out.reduceScatterAvg = mean.toArray();
  const synchronous = torch.tensor([1]);
  dist.allReduce(synchronous).waitSync();
  out.sync = synchronous.toArray();
  await dist.barrier();
  return out;
}

async function loop(rank: number): Promise<never> {
  const t = torch.ones([1024]);
  for (let step = 1; ; step++) {
    await dist.allReduce(t);
    t.fill_(1);
    if (step === 3) process.stdout.write(`${JSON.stringify({ rank, ready: true })}\n`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

try {
  torch.setNumThreads(1);
  const group = await dist.initProcessGroup({ timeoutMs });
  const { rank, size } = group;
  if (scenario === 'loop') await loop(rank);
  const result = scenario === 'interop' ? await interop(rank, size) : await collectives(rank, size);
  dist.destroyProcessGroup();
  process.stdout.write(`${JSON.stringify(result)}\n`);
} catch (error) {
  process.stderr.write(`${(error as Error).message}\n`);
  process.exit(3);
}
