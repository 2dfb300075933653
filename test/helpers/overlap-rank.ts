// One rank of test/distributed-overlap.test.ts (spawned with torchrun's variables): trains a small multi-bucket
// model 6 steps with DataParallel's overlap off, then again from the same start with it on, and prints one JSON
// line: how far apart the two results are, how far training moved the weights, the reducer's buckets, and
// per-parameter sums (the test compares them across ranks). argv[2] 'unused': step 3 leaves the last layer out
// of the loss on every rank, then a 7th overlapped step leaves it out on rank 1 only. Failures exit with code 3.
import * as dist from '../../src/distributed/index.js';
import { SGD } from '../../src/nn/optim/index.js';
import * as torch from '../../src/torch/index.js';
import { DataParallel } from '../../src/train/data-parallel.js';

const unusedScenario = process.argv[2] === 'unused';
const STEPS = 6;
const WIDTH = 512; // a 512×512 float32 layer is 1 MiB, so the model spans several buckets

/** Layer k of the model: every rank draws the same start (seeded). */
function initialWeights(): torch.Tensor[] {
  torch.manualSeed(11);
  return torch.tidy(() =>
    Array.from({ length: 4 }, () => torch.keep(torch.randn([WIDTH, WIDTH]).mul(1 / Math.sqrt(WIDTH)))).flatMap((w) => [
      w,
      torch.keep(torch.zeros([WIDTH])),
    ]),
  );
}

/** Trains copies of `start` for `steps` steps; rank-specific inputs; `skipLast(step)` leaves the last layer out. */
function run(group: dist.ProcessGroup, start: torch.Tensor[], overlap: boolean, steps: number, skipLast: (step: number) => boolean) {
  const params = start.map((t) => torch.keep(t.clone().requiresGrad_(true)));
  const dp = new DataParallel(group, { bucketBytes: 2 ** 20, overlap });
  const sgd = new SGD(params, { lr: 0.1, momentum: 0.9, weightDecay: 5e-4 });
  torch.manualSeed(100 + group.rank);
  for (let step = 1; step <= steps; step++) {
    torch.tidy(() => {
      sgd.zeroGrad();
      let h = torch.randn([8, WIDTH]);
      const layers = skipLast(step) ? 3 : 4;
      for (let k = 0; k < layers; k++)
        h = h
          .matmul(params[2 * k])
          .add(params[2 * k + 1])
          .tanh();
      dp.backward(h.sub(0.5).pow(2).mean(), params);
      sgd.step();
    });
  }
  const out = { params, buckets: dp.bucketSizes(), findsUnused: dp.findsUnusedParameters };
  dp.dispose();
  return out;
}

const maxDiff = (a: torch.Tensor[], b: torch.Tensor[]) =>
  Math.max(...a.map((t, i) => torch.tidy(() => t.sub(b[i]).abs().max().item() as number)));

try {
  torch.setNumThreads(1);
  const group = await dist.initProcessGroup({ timeoutMs: 60000 });
  const start = initialWeights();
  const skip = unusedScenario ? (step: number) => step === 3 : () => false;
  const off = run(group, start, false, STEPS, skip);
  const on = run(group, start, true, STEPS, skip);
  const result: Record<string, unknown> = {
    rank: group.rank,
    onVsOff: maxDiff(on.params, off.params),
    moved: maxDiff(on.params, start),
    buckets: on.buckets,
    findsUnused: on.findsUnused,
    sums: on.params.map((p) => torch.tidy(() => p.double().sum().item())),
  };
  if (unusedScenario) {
    // the reducer now searches for unused parameters: rank 1 alone leaving the last layer out still averages
    const varying = run(group, start, true, STEPS + 1, (step) => step === 3 || (step === STEPS + 1 && group.rank === 1));
    result.varyingSums = varying.params.map((p) => torch.tidy(() => p.double().sum().item()));
    result.varyingFindsUnused = varying.findsUnused;
  }
  dist.destroyProcessGroup();
  process.stdout.write(`${JSON.stringify(result)}\n`);
} catch (error) {
  process.stderr.write(`${(error as Error).stack}\n`);
  process.exit(3);
}
