// One rank of bench:dist (spawned by bench/dist.ts with torchrun's variables): the stage-1 step of bench:train's
// 64 px setting (random HQ batch, LQ = HQ + 0.3·noise, SGD) with data-parallel gradient averaging when
// WORLD_SIZE > 1 (during backward, or after it with --overlap off), or all-reduces of one large gradient. Prints
// `RESULT {json}` with each timed step's wall and CPU seconds and the median backward (+ averaging) seconds.
import { parseArgs } from 'node:util';
import { destroyProcessGroup, initProcessGroup } from '../src/distributed/index.js';
import { MarginHead } from '../src/losses/margin-head.js';
import { MultiBranchNet } from '../src/models/multi-branch.js';
import { ModuleDict } from '../src/nn/containers.js';
import { SGD } from '../src/nn/optim/index.js';
import * as torch from '../src/torch/index.js';
import { DataParallel } from '../src/train/data-parallel.js';
import { stage1Losses } from '../src/train/stage-losses.js';
import { median, timeSteps } from './common.js';

const { values: a } = parseArgs({
  options: {
    mode: { type: 'string', default: 'stage1' },
    size: { type: 'string', default: '64' },
    widths: { type: 'string', default: '32,64,128,256' },
    batch: { type: 'string', default: '16' },
    classes: { type: 'string', default: '1000' },
    steps: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '2' },
    mb: { type: 'string', default: '50' },
    overlap: { type: 'string', default: 'on' },
  },
});
const ATTRIBUTES = 5;
const world = Number(process.env.WORLD_SIZE ?? 1);
const group = world > 1 ? await initProcessGroup({ backend: 'gloo', timeoutMs: 600000 }) : null;
const steps = Number(a.steps);
const warmup = Number(a.warmup);

async function stage1() {
  const size = Number(a.size);
  const batch = Number(a.batch);
  const classes = Number(a.classes);
  torch.manualSeed(0);
  const network = new MultiBranchNet({
    depth: 'ir18',
    widths: (a.widths as string).split(',').map(Number),
    inputSize: size,
    attributes: ATTRIBUTES,
  });
  const frHead = new MarginHead({ classes });
  const hq = torch.keep(torch.randn([batch, 3, size, size]));
  const lq = torch.keep(torch.tidy(() => hq.add(torch.randn([batch, 3, size, size]).mul(0.3))));
  const labels = torch.keep(torch.randint(0, classes, [batch]));
  const attributes = torch.keep(torch.tidy(() => torch.randint(0, 2, [batch, ATTRIBUTES]).float()));
  const params = [network, frHead].flatMap((m) => m.parameters()).filter((p) => p.requiresGrad);
  const sgd = new SGD(params, { lr: 0.01, momentum: 0.9, weightDecay: 5e-4 });
  const dp = group ? new DataParallel(group, { overlap: a.overlap !== 'off' }) : null;
  if (dp) {
    frHead.sumAcrossBatch = dp.sumInPlace;
    await dp.broadcastState(new ModuleDict({ network, frHead }));
  }
  const weights = { lambdaFR: 3, lambdaSB: 1, lambdaDist: 1, attributeWeights: null, distill: {} };
  const backward: number[] = []; // seconds of each step's backward, gradient averaging included
  const times = await timeSteps(
    () =>
      torch.tidy(() => {
        sgd.zeroGrad();
        const loss = stage1Losses(network, frHead, { hq, lq, labels, attributes }, weights).total;
        const started = performance.now();
        if (dp) dp.backward(loss, params);
        else loss.backward();
        backward.push((performance.now() - started) / 1000);
        sgd.step();
      }),
    warmup,
    steps,
  );
  const gradientMB = (params.reduce((n, p) => n + p.numel(), 0) * 4) / 2 ** 20;
  return {
    ...times,
    backward_s_per_step: median(backward.slice(warmup)),
    buckets: dp?.bucketSizes().length ?? 0,
    gradient_mb: gradientMB,
  };
}

async function allReduce() {
  const t = torch.zeros([Math.round((Number(a.mb) * 2 ** 20) / 4)]);
  if (!group) throw new Error('bench:dist allreduce needs WORLD_SIZE > 1');
  return timeSteps(() => group.allReduce(t).wait(), warmup, steps);
}

const result = a.mode === 'allreduce' ? await allReduce() : await stage1();
destroyProcessGroup();
if ((group?.rank ?? 0) === 0) console.log(`RESULT ${JSON.stringify(result)}`);
