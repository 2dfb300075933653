// Training-step benchmark: images/s of a full stage-1 step (HQ + LQ batch through the shared trunk and both
// branches, AdaFace + attribute BCE + self-attention distillation, backward, SGD) and of a stage-2 step
// (frozen stage-1 network without autograd, CATF + fused head + AdaFace, backward, SGD), at 64 px (widths
// 32/64/128/256, batch 32) and 112 px (default widths, batch 16), against the PyTorch anchor
// ../shared/anchors/pytorch_catface_bench.py with the same arguments, in the same run, same threads.
// HQ + LQ pairs count as 2 images, as the anchor counts them. catface and anchor runs alternate per round.
//   npm run bench:train [-- --sizes 64,112 --rounds 1 --steps 5 --warmup 2 --threads 2]
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { MarginHead } from '../src/losses/margin-head.js';
import { createFusion } from '../src/models/fusion.js';
import { MultiBranchNet } from '../src/models/multi-branch.js';
import { SGD } from '../src/nn/optim/index.js';
import * as torch from '../src/torch/index.js';
import { stage1Losses, stage2Loss } from '../src/train/stage-losses.js';
import { median, positiveFlags, runAnchor } from './common.js';

const { values: args } = parseArgs({
  options: {
    sizes: { type: 'string', default: '64,112' },
    rounds: { type: 'string', default: '1' },
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

/** Seconds per step of `fn` after `warmup` untimed steps. */
function time(fn: () => void): number[] {
  const out: number[] = [];
  for (let i = 0; i < warmup + steps; i++) {
    const t0 = performance.now();
    fn();
    if (i >= warmup) out.push((performance.now() - t0) / 1000);
  }
  return out;
}

interface Timings {
  stage1: number[];
  stage2: number[];
  paramsStage1: number;
  paramsCatf: number;
}

/** The anchor's setting: random HQ batch, LQ = HQ + 0.3·noise, SGD lr 0.01, momentum 0.9, weight decay 5e-4 on all. */
function catfaceRun(size: number): Timings {
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
  const stage1 = time(() =>
    torch.tidy(() => {
      opt1.zeroGrad();
      stage1Losses(network, frHead, { hq, lq, labels, attributes }, weights).total.backward();
      opt1.step();
    }),
  );
  const opt2 = sgd([fusion, fusedHead]);
  const stage2 = time(() =>
    torch.tidy(() => {
      opt2.zeroGrad();
      network.eval();
      const loss = stage2Loss(network, fusion, fusedHead, { hq, lq, labels }, true);
      network.train();
      loss.backward();
      opt2.step();
    }),
  );
  const result = { stage1, stage2, paramsStage1: network.numParameters(), paramsCatf: fusion.numParameters() };
  for (const m of [network, frHead, fusion, fusedHead]) m.dispose();
  opt1.dispose();
  opt2.dispose();
  torch.dispose([hq, lq, labels, attributes]);
  return result;
}

interface AnchorResult {
  stage1_img_s: number;
  stage2_img_s: number;
  params_stage1: number;
  params_catf: number;
  peak_rss_mb: number;
  engine: string;
}

function anchorRun(size: number): AnchorResult {
  const { widths, batch } = SETUPS[size];
  const flags = { size, widths: widths.join(','), batch, threads, steps, warmup, classes, attrs: ATTRIBUTES };
  return runAnchor<AnchorResult>(
    'bench:train',
    'pytorch_catface_bench.py',
    Object.entries(flags).flatMap(([k, v]) => [`--${k}`, String(v)]),
  );
}

const result: Record<string, unknown> = { threads, classes, steps, warmup, rounds, torch: torch.buildInfo().torch };
for (const size of sizes) {
  const { widths, batch } = SETUPS[size];
  const images = 2 * batch;
  const ours: number[][] = [[], []];
  const anchor: AnchorResult[] = [];
  let params: [number, number] = [0, 0];
  for (let r = 0; r < rounds; r++) {
    const t = catfaceRun(size);
    ours[0].push(...t.stage1);
    ours[1].push(...t.stage2);
    params = [t.paramsStage1, t.paramsCatf];
    anchor.push(anchorRun(size));
    console.log(
      `[${size}px round ${r + 1}/${rounds}] catface stage 1 ${(images / median(t.stage1)).toFixed(1)} img/s, stage 2 ${(images / median(t.stage2)).toFixed(1)} img/s | ` +
        `pytorch stage 1 ${anchor[r].stage1_img_s.toFixed(1)}, stage 2 ${anchor[r].stage2_img_s.toFixed(1)}`,
    );
  }
  if (params[0] !== anchor[0].params_stage1 || params[1] !== anchor[0].params_catf) {
    console.log(
      `note: parameter counts differ — catface stage 1 ${params[0]}, CATF ${params[1]}; pytorch ${anchor[0].params_stage1}, ${anchor[0].params_catf}`,
    );
  }
  const s1 = images / median(ours[0]);
  const s2 = images / median(ours[1]);
  const a1 = median(anchor.map((a) => a.stage1_img_s));
  const a2 = median(anchor.map((a) => a.stage2_img_s));
  console.log(
    `CATFace ${size}px widths ${widths.join('/')} batch ${batch} (+${batch} LQ): stage 1 catface ${s1.toFixed(2)} vs pytorch ${a1.toFixed(2)} img/s ` +
      `(×${(s1 / a1).toFixed(3)}); stage 2 catface ${s2.toFixed(2)} vs pytorch ${a2.toFixed(2)} img/s (×${(s2 / a2).toFixed(3)})`,
  );
  Object.assign(result, {
    [`batch_${size}`]: batch,
    [`catface_stage1_img_s_${size}`]: +s1.toFixed(3),
    [`pytorch_stage1_img_s_${size}`]: +a1.toFixed(3),
    [`catface_stage2_img_s_${size}`]: +s2.toFixed(3),
    [`pytorch_stage2_img_s_${size}`]: +a2.toFixed(3),
    [`stage1_ratio_${size}`]: +(s1 / a1).toFixed(4),
    [`stage2_ratio_${size}`]: +(s2 / a2).toFixed(4),
    [`params_stage1_${size}`]: params[0],
    [`params_catf_${size}`]: params[1],
    [`pytorch_peak_rss_mb_${size}`]: Math.max(...anchor.map((a) => a.peak_rss_mb)),
    pytorch: anchor[0].engine,
  });
}
result.catface_peak_rss_mb = +(process.resourceUsage().maxRSS / 1024).toFixed(1);
console.log(`RESULT ${JSON.stringify(result)}`);
