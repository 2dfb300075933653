// Training-step benchmark: images/s of a full stage-1 step (HQ + LQ batch through the shared trunk and both
// branches, AdaFace + attribute BCE + self-attention distillation, backward, SGD) and of a stage-2 step
// (frozen stage-1 network without autograd, CATF + fused head + AdaFace, backward, SGD), at 64 px (widths
// 32/64/128/256, batch 32) and 112 px (default widths, batch 16), against the PyTorch anchor
// ../shared/anchors/pytorch_catface_bench.py with the same arguments, in the same run, same threads.
// HQ + LQ pairs count as 2 images, as the anchor counts them. catface and the anchor alternate over --rounds
// rounds (bench/common.ts): per-round ratios, their median and min–max, and the CPU-time ratio.
//   npm run bench:train [-- --sizes 64,112 --rounds 5 --steps 5 --warmup 2 --threads 2]
import { parseArgs } from 'node:util';
import { MarginHead } from '../src/losses/margin-head.js';
import { createFusion } from '../src/models/fusion.js';
import { MultiBranchNet } from '../src/models/multi-branch.js';
import { SGD } from '../src/nn/optim/index.js';
import * as torch from '../src/torch/index.js';
import { stage1Losses, stage2Loss } from '../src/train/stage-losses.js';
import {
  alternate,
  describeComparison,
  loadAverage,
  positiveFlags,
  printComparedResult,
  rateComparisonFields,
  runNamedAnchor,
  type StepTimes,
  timeSteps,
} from './common.js';

const { values: args } = parseArgs({
  options: {
    sizes: { type: 'string', default: '64,112' },
    rounds: { type: 'string', default: '5' },
    steps: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '2' },
    threads: { type: 'string', default: '2' },
    classes: { type: 'string', default: '1000' },
  },
});
const positive = positiveFlags('bench:train', args);
const rounds = positive('rounds');
const steps = positive('steps');
const warmup = Number(args.warmup);
const threads = positive('threads');
const classes = positive('classes');
const SETUPS: Record<number, { widths: number[]; batch: number }> = {
  64: { widths: [32, 64, 128, 256], batch: 32 },
  112: { widths: [64, 128, 256, 512], batch: 16 },
};
const sizes = (args.sizes as string).split(',').map(Number);
for (const s of sizes) if (!SETUPS[s]) throw new RangeError(`bench:train: --sizes takes 64 and/or 112, got ${s}`);
const ATTRIBUTES = 5;

torch.setNumThreads(threads);

interface Timings {
  stage1: StepTimes;
  stage2: StepTimes;
  paramsStage1: number;
  paramsCatf: number;
}

/** The anchor's setting: random HQ batch, LQ = HQ + 0.3·noise, SGD lr 0.01, momentum 0.9, weight decay 5e-4 on all. */
async function catfaceRun(size: number): Promise<Timings> {
  const { widths, batch } = SETUPS[size];
  torch.manualSeed(0);
  const network = new MultiBranchNet({ depth: 'ir18', widths, inputSize: size, attributes: ATTRIBUTES });
  const frHead = new MarginHead({ classes });
  const fusion = createFusion({ kind: 'catf', channels: widths[3], height: network.mapSide, width: network.mapSide });
  const fusedHead = new MarginHead({ classes });
  const hq = torch.keep(torch.randn([batch, 3, size, size]));
  const lq = torch.keep(torch.tidy(() => hq.add(torch.randn([batch, 3, size, size]).mul(0.3))));
  const labels = torch.keep(torch.randint(0, classes, [batch]));
  const attributes = torch.keep(torch.tidy(() => torch.randint(0, 2, [batch, ATTRIBUTES]).float()));
  const sgd = (modules: { parameters(): torch.Tensor[] }[]) =>
    new SGD(
      modules.flatMap((m) => m.parameters()).filter((p) => p.requiresGrad),
      { lr: 0.01, momentum: 0.9, weightDecay: 5e-4 },
    );
  const opt1 = sgd([network, frHead]);
  const weights = { lambdaFR: 3, lambdaSB: 1, lambdaDist: 1, attributeWeights: null, distill: {} };
  const stage1 = await timeSteps(
    () =>
      torch.tidy(() => {
        opt1.zeroGrad();
        stage1Losses(network, frHead, { hq, lq, labels, attributes }, weights).total.backward();
        opt1.step();
      }),
    warmup,
    steps,
  );
  const opt2 = sgd([fusion, fusedHead]);
  const stage2 = await timeSteps(
    () =>
      torch.tidy(() => {
        opt2.zeroGrad();
        network.eval();
        const loss = stage2Loss(network, fusion, fusedHead, { hq, lq, labels }, true);
        network.train();
        loss.backward();
        opt2.step();
      }),
    warmup,
    steps,
  );
  const result = { stage1, stage2, paramsStage1: network.numParameters(), paramsCatf: fusion.numParameters() };
  for (const m of [network, frHead, fusion, fusedHead]) m.dispose();
  opt1.dispose();
  opt2.dispose();
  torch.dispose([hq, lq, labels, attributes]);
  return result;
}

interface AnchorResult {
  params_stage1: number;
  params_catf: number;
  peak_rss_mb: number;
  engine: string;
}

/** One anchor run: its timing loops are stage1 then stage2. */
function anchorRun(size: number) {
  const { widths, batch } = SETUPS[size];
  const flags = { size, widths: widths.join(','), batch, threads, steps, warmup, classes, attrs: ATTRIBUTES };
  return runNamedAnchor<AnchorResult, 'stage1' | 'stage2'>('bench:train', 'pytorch_catface_bench.py', flags, ['stage1', 'stage2']);
}

const result: Record<string, unknown> = {
  threads,
  classes,
  steps,
  warmup,
  rounds,
  torch: torch.buildInfo().torch,
  load_average_start: loadAverage(),
};
for (const size of sizes) {
  const { widths, batch } = SETUPS[size];
  const images = 2 * batch;
  let params: [number, number] = [0, 0];
  const anchors: AnchorResult[] = [];
  const compared = await alternate({
    rounds,
    label: `${size}px`,
    items: { stage1: images, stage2: images },
    ours: async () => {
      const t = await catfaceRun(size);
      params = [t.paramsStage1, t.paramsCatf];
      return t;
    },
    anchor: () => {
      const a = anchorRun(size);
      anchors.push(a.result);
      return a;
    },
  });
  if (params[0] !== anchors[0].params_stage1 || params[1] !== anchors[0].params_catf) {
    console.log(
      `note: parameter counts differ — catface stage 1 ${params[0]}, CATF ${params[1]}; pytorch ${anchors[0].params_stage1}, ${anchors[0].params_catf}`,
    );
  }
  const title = `CATFace ${size}px widths ${widths.join('/')} batch ${batch} (+${batch} LQ)`;
  for (const stage of ['stage1', 'stage2'] as const) {
    console.log(describeComparison(`${title} ${stage}`, compared[stage]));
    Object.assign(result, rateComparisonFields(stage, `_${size}`, compared[stage]));
  }
  Object.assign(result, {
    [`batch_${size}`]: batch,
    [`params_stage1_${size}`]: params[0],
    [`params_catf_${size}`]: params[1],
    [`pytorch_peak_rss_mb_${size}`]: Math.max(...anchors.map((a) => a.peak_rss_mb)),
    pytorch: anchors[0].engine,
  });
}
printComparedResult(result);
