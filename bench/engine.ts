// Engine benchmark: an IR-18 training step (forward + backward + SGD momentum 0.9, weight decay 5e-4, 512-d
// embedding, 1000-class linear head without bias, cross-entropy) and a forward pass (eval, no grad), batch 32,
// at 64 px (widths 32/64/128/256) and 112 px (64/128/256/512), against the PyTorch anchor
// (../shared/anchors/pytorch_iresnet_bench.py) run as a subprocess in the same run with the same threads.
// catface and anchor runs alternate to spread the noise of a shared machine over both.
//   npm run bench:engine [-- --sizes 64,112 --rounds 2 --steps 5 --warmup 2 --threads 2 --batch 32]
import { dirname, join } from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { IResNet, iresnetConfig } from '../src/models/iresnet.js';
import { Linear } from '../src/nn/linear.js';
import { SGD } from '../src/nn/optim/sgd.js';
import * as torch from '../src/torch/index.js';
import { median, positiveFlags, runAnchor } from './common.js';

const { values: args } = parseArgs({
  options: {
    sizes: { type: 'string', default: '64,112' },
    rounds: { type: 'string', default: '2' },
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

/** Seconds per step of `fn` after `warmup` untimed steps; the event loop turns between steps (outside the timing), as in a real loop, so Node can finalise collected tensor handles. */
async function time(fn: () => void): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < warmup + steps; i++) {
    const t0 = performance.now();
    fn();
    if (i >= warmup) out.push((performance.now() - t0) / 1000);
    await nextTurn();
  }
  return out;
}

interface Timings {
  train: number[];
  infer: number[];
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
  const train = await time(() =>
    torch.tidy(() => {
      optimizer.zeroGrad();
      torch.F.crossEntropy(head.forward(model.forward(x)), y).backward();
      optimizer.step();
    }),
  );
  model.eval();
  const infer = await time(() =>
    torch.tidy(() => {
      torch.noGrad(() => model.forward(x));
    }),
  );
  optimizer.dispose();
  model.dispose();
  head.dispose();
  x.dispose();
  y.dispose();
  return { train, infer };
}

interface AnchorResult {
  train_img_s: number;
  infer_img_s: number;
  peak_rss_mb: number;
  engine: string;
}

function anchorRun(size: number): AnchorResult {
  const flags = { size, widths: WIDTHS[size].join(','), batch, threads, steps, warmup, classes };
  return runAnchor<AnchorResult>(
    'bench:engine',
    'pytorch_iresnet_bench.py',
    Object.entries(flags).flatMap(([k, v]) => [`--${k}`, String(v)]),
  );
}

const result: Record<string, unknown> = { threads, batch, classes, steps, warmup, rounds, torch: torch.buildInfo().torch };
for (const size of sizes) {
  const ours: Timings = { train: [], infer: [] };
  const anchor: AnchorResult[] = [];
  for (let r = 0; r < rounds; r++) {
    const t = await catfaceRun(size);
    ours.train.push(...t.train);
    ours.infer.push(...t.infer);
    anchor.push(anchorRun(size));
    console.log(
      `[${size}px round ${r + 1}/${rounds}] catface train ${(batch / median(t.train)).toFixed(1)} img/s, infer ${(batch / median(t.infer)).toFixed(1)} img/s | ` +
        `pytorch train ${anchor[r].train_img_s.toFixed(1)}, infer ${anchor[r].infer_img_s.toFixed(1)}`,
    );
  }
  // Medians over every timed step of every round (the anchor reports a median per round: take their median).
  const train = batch / median(ours.train);
  const infer = batch / median(ours.infer);
  const anchorTrain = median(anchor.map((a) => a.train_img_s));
  const anchorInfer = median(anchor.map((a) => a.infer_img_s));
  console.log(
    `IR-18 ${size}px widths ${WIDTHS[size].join('/')}: train catface ${train.toFixed(2)} vs pytorch ${anchorTrain.toFixed(2)} img/s ` +
      `(×${(train / anchorTrain).toFixed(3)}); infer catface ${infer.toFixed(2)} vs pytorch ${anchorInfer.toFixed(2)} img/s (×${(infer / anchorInfer).toFixed(3)})`,
  );
  Object.assign(result, {
    [`catface_train_img_s_${size}`]: +train.toFixed(3),
    [`pytorch_train_img_s_${size}`]: +anchorTrain.toFixed(3),
    [`catface_infer_img_s_${size}`]: +infer.toFixed(3),
    [`pytorch_infer_img_s_${size}`]: +anchorInfer.toFixed(3),
    [`train_ratio_${size}`]: +(train / anchorTrain).toFixed(4),
    [`infer_ratio_${size}`]: +(infer / anchorInfer).toFixed(4),
    [`pytorch_peak_rss_mb_${size}`]: Math.max(...anchor.map((a) => a.peak_rss_mb)),
    pytorch: anchor[0].engine,
  });
}
result.catface_peak_rss_mb = +(process.resourceUsage().maxRSS / 1024).toFixed(1);
console.log(`RESULT ${JSON.stringify(result)}`);
