// One catface rank of the distributed tests, spawned by test/distributed.test.ts with torchrun's variables.
// Scenario (argv[2]): 'interop' runs the same collectives as dist_peer.py; 'collectives' every collective on
// catface ranks; 'partial-fc' compares Partial FC with the full margin head; 'loop' all-reduces until a peer dies. Results are one JSON line on stdout; a failure prints
// its message on stderr and exits with code 3.
import * as dist from '../../src/distributed/index.js';
import { MarginHead } from '../../src/losses/margin-head.js';
import { PartialFC } from '../../src/losses/partial-fc.js';
import * as torch from '../../src/torch/index.js';
import { ClassParallelHead, headShards } from '../../src/train/class-parallel.js';
import { DataParallel } from '../../src/train/data-parallel.js';
import { labelledMargin } from '../../src/train/stage-losses.js';

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

async function collectives(group: dist.ProcessGroup): Promise<Record<string, unknown>> {
  const { rank, size: world } = group;
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
  // differentiable: d/dx_r of Σ_q (q + 1)·sum(x) is Σ_q (q + 1) on every rank
  const x = torch.tensor([rank + 1, 2]).requiresGrad_(true);
  const summed = group.sumOverRanks(x);
  summed
    .mul(rank + 1)
    .sum()
    .backward();
  out.sumOverRanks = summed.toArray();
  out.sumOverRanksGrad = (x.grad as torch.Tensor).toArray();
  await dist.barrier();
  return out;
}

/** The largest |a − b| over two tensors' elements. */
function maxDiff(a: torch.Tensor, b: torch.Tensor): number {
  return torch.tidy(() => a.sub(b).abs().max().item() as number);
}

// Every rank builds the same full head and global batch (same seed); the full head's loss and gradients on the
// whole batch are the reference for this rank's Partial FC slice on its own rows.
// `unlabelled`: every third row is labelled −1 (no identity), which both skip.
function partialFc(group: dist.ProcessGroup, sampleRate: number, unlabelled = false): Record<string, number> {
  const classes = 11;
  const embeddingSize = 8;
  const rows = 6;
  const n = rows * group.size;
  torch.manualSeed(3);
  const full = new MarginHead({ classes, embeddingSize });
  const embeddings = torch.F.normalize(torch.randn([n, embeddingSize]), 2, 1);
  const norms = torch.rand([n, 1]).mul(30).add(5);
  const drawn = torch.randint(0, classes, [n]);
  const labels = unlabelled ? torch.where(torch.arange(n).remainder(3).eq(1), -1, drawn) : drawn;
  const everyone = embeddings.clone().requiresGrad_(true);
  const fullLoss = labelledMargin(full, everyone, norms, labels);
  fullLoss.backward();

  const pfc = new PartialFC({ classes, embeddingSize, sampleRate }, new DataParallel(group));
  torch.noGrad(() => pfc.head.kernel.copy_(full.kernel.narrow(1, pfc.start, pfc.count)));
  const mine = embeddings
    .narrow(0, group.rank * rows, rows)
    .clone()
    .requiresGrad_(true);
  const own = (t: torch.Tensor) => t.narrow(0, group.rank * rows, rows);
  const { loss, surrogate } = pfc.forward(mine, own(norms), own(labels));
  surrogate.backward();
  const kernelGrad = pfc.head.kernel.grad as torch.Tensor;
  // the training loop's slices of the same head: gathered whole (6 + 5 columns) and cut back
  const comm = new DataParallel(group);
  const sliced = new ClassParallelHead(full, comm, 1);
  const shards = headShards([sliced], comm);
  const gathered = maxDiff(shards.gather(sliced.kernel, sliced.kernel), full.kernel);
  const cut = maxDiff(shards.slice(full.kernel, sliced.kernel), pfc.head.kernel);
  return {
    loss: loss.item() as number,
    fullLoss: fullLoss.item() as number,
    // the surrogate's gradient is W × the loss's (data-parallel averaging divides by W)
    embeddingGrad: maxDiff((mine.grad as torch.Tensor).div(group.size), own(everyone.grad as torch.Tensor)),
    kernelGrad: maxDiff(kernelGrad, (full.kernel.grad as torch.Tensor).narrow(1, pfc.start, pfc.count)),
    gradScale: (everyone.grad as torch.Tensor).abs().max().item() as number,
    kernelGradScale: (full.kernel.grad as torch.Tensor).abs().max().item() as number,
    mu: Math.abs((pfc.head.mu?.item() as number) - (full.mu?.item() as number)),
    columnsWithGrad: kernelGrad.abs().sum(0).gt(0).sum().item() as number,
    count: pfc.count,
    gathered,
    cut,
  };
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

await runScenario();

async function runScenario(): Promise<void> {
  try {
    torch.setNumThreads(1);
    const group = await dist.initProcessGroup({ timeoutMs });
    const { rank, size } = group;
    if (scenario === 'loop') await loop(rank);
    const result =
      scenario === 'interop'
        ? await interop(rank, size)
        : scenario === 'partial-fc'
          ? { full: partialFc(group, 1), sampled: partialFc(group, 0.5), unlabelled: partialFc(group, 1, true) }
          : await collectives(group);
    dist.destroyProcessGroup();
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`);
    process.exit(3);
  }
}
