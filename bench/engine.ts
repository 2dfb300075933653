// Engine benchmark: an IR-18 training step (forward + backward + SGD momentum 0.9, weight decay 5e-4, 512-d
// embedding, 1000-class linear head without bias, cross-entropy) and a forward pass (eval, no grad), batch 32,
// at 64 px (widths 32/64/128/256) and 112 px (64/128/256/512), against the PyTorch anchor
// (../shared/anchors/pytorch_iresnet_bench.py) run as a subprocess in the same run with the same threads.
// catface and the anchor alternate over --rounds rounds (bench/common.ts): per-round ratios, their median and
// min–max, and the CPU-time ratio.
//   npm run bench:engine [-- --sizes 64,112 --rounds 7 --steps 5 --warmup 2 --threads 2 --batch 32]
import { parseArgs } from 'node:util';
import { IResNet, iresnetConfig } from '../src/models/iresnet.js';
import { Linear } from '../src/nn/linear.js';
import { SGD } from '../src/nn/optim/sgd.js';
import * as torch from '../src/torch/index.js';
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
    rounds: { type: 'string', default: '7' },
    steps: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '2' },
    threads: { type: 'string', default: '2' },
    batch: { type: 'string', default: '32' },
    classes: { type: 'string', default: '1000' },
  },
});
const positive = positiveFlags('bench:engine', args);
const rounds = positive('rounds');
const steps = positive('steps');
const warmup = Number(args.warmup);
const threads = positive('threads');
const batch = positive('batch');
const classes = positive('classes');
const WIDTHS: Record<number, number[]> = { 64: [32, 64, 128, 256], 112: [64, 128, 256, 512] };
const sizes = (args.sizes as string).split(',').map(Number);
for (const s of sizes) if (!WIDTHS[s]) throw new RangeError(`bench:engine: --sizes takes 64 and/or 112, got ${s}`);

torch.setNumThreads(threads);

interface Timings {
  train: StepTimes;
  infer: StepTimes;
}

async function catfaceRun(size: number): Promise<Timings> {
  torch.manualSeed(0);
  const model = new IResNet(iresnetConfig('ir18', { inputSize: size, widths: WIDTHS[size] }));
  const head = new Linear(512, classes, { bias: false });
  const params = [...model.parameters(), ...head.parameters()].filter((p) => p.requiresGrad);
  const optimizer = new SGD(params, { lr: 0.1, momentum: 0.9, weightDecay: 5e-4 });
  const x = torch.keep(torch.randn([batch, 3, size, size]));
  const y = torch.keep(torch.randint(0, classes, [batch]));
  model.train();
  const train = await timeSteps(
    () =>
      torch.tidy(() => {
        optimizer.zeroGrad();
        torch.F.crossEntropy(head.forward(model.forward(x)), y).backward();
        optimizer.step();
      }),
    warmup,
    steps,
  );
  model.eval();
  const infer = await timeSteps(
    () =>
      torch.tidy(() => {
        torch.noGrad(() => model.forward(x));
      }),
    warmup,
    steps,
  );
  optimizer.dispose();
  model.dispose();
  head.dispose();
  x.dispose();
  y.dispose();
  return { train, infer };
}

interface AnchorResult {
  peak_rss_mb: number;
  engine: string;
}

/** One anchor run: its timing loops are train then infer. */
function anchorRun(size: number) {
  const flags = { size, widths: WIDTHS[size].join(','), batch, threads, steps, warmup, classes };
  return runNamedAnchor<AnchorResult, 'train' | 'infer'>('bench:engine', 'pytorch_iresnet_bench.py', flags, ['train', 'infer']);
}

const result: Record<string, unknown> = {
  threads,
  batch,
  classes,
  steps,
  warmup,
  rounds,
  torch: torch.buildInfo().torch,
  load_average_start: loadAverage(),
};
for (const size of sizes) {
  const anchors: AnchorResult[] = [];
  const compared = await alternate({
    rounds,
    label: `${size}px`,
    items: { train: batch, infer: batch },
    ours: () => catfaceRun(size),
    anchor: () => {
      const a = anchorRun(size);
      anchors.push(a.result);
      return a;
    },
  });
  for (const kind of ['train', 'infer'] as const) {
    console.log(describeComparison(`IR-18 ${size}px widths ${WIDTHS[size].join('/')} ${kind}`, compared[kind]));
    Object.assign(result, rateComparisonFields(kind, `_${size}`, compared[kind]));
  }
  Object.assign(result, {
    [`pytorch_peak_rss_mb_${size}`]: Math.max(...anchors.map((a) => a.peak_rss_mb)),
    pytorch: anchors[0].engine,
  });
}
printComparedResult(result);
