// Degradation benchmark: images/s of every effect and of the mixed Degrader (50% turbulence, 50% unconstrained)
// at 64 and 112 px, batch 32, next to the IR-18 training rate at 112 px measured in the same run (the rate
// the degrader must outpace so LQ twins never starve training). Targets: mixed ≥ 200 img/s at 64 px and
// ≥ 2× the training rate at 112 px. Faces are ORL images (../shared/data) when present, else smooth noise.
// No anchor: each figure is the median over --rounds timed batches, with the min–max beside it.
//   npm run bench:degrade [-- --sizes 64,112 --batch 32 --rounds 7 --warmup 1 --train-steps 5 --threads 2]
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { Prng } from '../src/common/prng.js';
import { applyAdaFace, planAdaFace, resolveAdaFaceConfig } from '../src/degrade/adaface.js';
import { Degrader } from '../src/degrade/degrader.js';
import { withTorchSeed } from '../src/degrade/rng.js';
import { Turbulence } from '../src/degrade/turbulence.js';
import { applyStage, drawStage, resolveUnconstrainedConfig, STAGES } from '../src/degrade/unconstrained.js';
import { IResNet, iresnetConfig } from '../src/models/iresnet.js';
import { Linear } from '../src/nn/linear.js';
import { SGD } from '../src/nn/optim/sgd.js';
import * as torch from '../src/torch/index.js';
import { loadAverage, positiveFlags, rateSpread, type Spread, spreadFields, timeSteps } from './common.js';

const { values: args } = parseArgs({
  options: {
    sizes: { type: 'string', default: '64,112' },
    batch: { type: 'string', default: '32' },
    threads: { type: 'string', default: '2' },
    rounds: { type: 'string', default: '7' },
    warmup: { type: 'string', default: '1' },
    'train-steps': { type: 'string', default: '5' },
  },
});
const positive = positiveFlags('bench:degrade', args);
const batch = positive('batch');
const rounds = positive('rounds');
const trainSteps = positive('train-steps');
const warmup = Number(args.warmup);
const sizes = (args.sizes as string).split(',').map(Number);
for (const s of sizes) if (!(Number.isInteger(s) && s >= 16)) throw new RangeError(`bench:degrade: --sizes takes integers ≥ 16, got ${s}`);
torch.setNumThreads(positive('threads'));

const here = dirname(fileURLToPath(import.meta.url));
const orl = join(here, '..', '..', '..', 'shared', 'data', 'orl');

/** Images/s of `fn` (one batch) over `times` rounds after `warmup`: median and min–max. */
async function rate(fn: () => unknown, times = rounds): Promise<Spread> {
  return rateSpread(batch, (await timeSteps(fn, warmup, times)).wall);
}

/** `batch` RGB faces [B, 3, size, size] in [0, 1]. */
async function faces(size: number): Promise<{ images: torch.Tensor; source: string }> {
  if (existsSync(orl)) {
    const files = readdirSync(orl)
      .filter((d) => d.startsWith('s'))
      .flatMap((d) => [join(orl, d, '1.png'), join(orl, d, '5.png')])
      .filter((f) => existsSync(f))
      .slice(0, batch);
    const raw = await Promise.all(files.map((f) => sharp(f).resize(size, size, { fit: 'cover' }).greyscale().raw().toBuffer()));
    const all = new Uint8Array(batch * size * size);
    for (let i = 0; i < batch; i++) all.set(raw[i % raw.length], i * size * size);
    const images = torch.tidy(() =>
      torch.fromBytes(all, 'uint8', [batch, 1, size, size]).float().div(255).expand(batch, 3, size, size).contiguous(),
    );
    return { images, source: 'ORL faces' };
  }
  const images = torch.tidy(() =>
    torch.F.interpolate(torch.rand([batch, 3, size / 4, size / 4]), { size: [size, size], mode: 'bilinear' }).clamp(0, 1),
  );
  return { images, source: 'smooth noise (../shared/data absent)' };
}

/** IR-18 (full widths) training step rate at `size` px: forward, 1000-class softmax, backward, SGD. */
async function trainRate(size: number): Promise<Spread> {
  torch.manualSeed(0);
  const model = new IResNet(iresnetConfig('ir18', { inputSize: size }));
  const head = new Linear(512, 1000, { bias: false });
  const params = [...model.parameters(), ...head.parameters()].filter((p) => p.requiresGrad);
  const optimizer = new SGD(params, { lr: 0.1, momentum: 0.9, weightDecay: 5e-4 });
  const x = torch.keep(torch.randn([batch, 3, size, size]));
  const y = torch.keep(torch.randint(0, 1000, [batch]));
  model.train();
  const s = await rate(
    () =>
      torch.tidy(() => {
        model.zeroGrad();
        head.zeroGrad();
        torch.F.crossEntropy(head.forward(model.forward(x)), y).backward();
        optimizer.step();
      }),
    trainSteps,
  );
  model.dispose();
  head.dispose();
  torch.dispose([x, y]);
  return s;
}

const result: Record<string, number | boolean | string> = { rounds, load_average_start: loadAverage() };
/** Adds `<name>_img_s_<size>` (median over rounds) with its `_min` and `_max`. */
const record = (name: string, size: number, s: Spread) => Object.assign(result, spreadFields(`${name}_img_s`, `_${size}`, s, 1));

for (const size of sizes) {
  const { images, source } = await faces(size);
  console.log(`[${size}px] batch ${batch}, ${torch.getNumThreads()} threads, ${source}`);
  const rng = new Prng(1);
  const strengths = Array.from({ length: batch }, () => rng.uniform(0.25, 2));
  for (const [name, config] of [
    ['turbulence_tilt', { blur: false }],
    ['turbulence_blur', { tilt: false }],
    ['turbulence', {}],
  ] as const) {
    const turbulence = new Turbulence(config);
    record(name, size, await rate(() => withTorchSeed(1, () => turbulence.apply(images, strengths).dispose())));
    turbulence.dispose();
  }
  const unconstrained = resolveUnconstrainedConfig();
  for (const stage of STAGES) {
    const specs = Array.from({ length: batch }, () => drawStage(stage, rng, unconstrained));
    record(stage, size, await rate(async () => (await applyStage(images, specs, 1)).dispose()));
  }
  const adaface = resolveAdaFaceConfig({ cropProbability: 1, lowResProbability: 1, photometricProbability: 1 });
  const adaPlan = planAdaFace(batch, size, size, rng, adaface);
  record('adaface', size, await rate(() => applyAdaFace(images, adaPlan).dispose()));
  const degrader = new Degrader({ seed: 1 });
  record(
    'mixed',
    size,
    await rate(async () => {
      const out = await degrader.degrade(images);
      torch.dispose([out.hq, out.lq]);
    }),
  );
  degrader.dispose();
  images.dispose();
  const line = Object.entries(result)
    .filter(([k]) => k.endsWith(`_img_s_${size}`))
    .map(
      ([k, v]) =>
        `${k.replace(`_img_s_${size}`, '')} ${v} (${result[k.replace('_img_s_', '_img_s_min_')]}–${result[k.replace('_img_s_', '_img_s_max_')]})`,
    )
    .join(', ');
  console.log(`[${size}px] img/s: ${line}`);
}

if (sizes.includes(112)) {
  const trainSpread = await trainRate(112);
  const train = trainSpread.median;
  record('train', 112, trainSpread);
  result.train_source = 'catface IR-18 (src/models/iresnet.ts), widths 64/128/256/512, batch 32, SGD';
  const ratio = (result.mixed_img_s_112 as number) / train;
  result.mixed_over_train_112 = +ratio.toFixed(2);
  result.target_112_met = ratio >= 2;
  console.log(
    `[112px] IR-18 training ${train.toFixed(2)} img/s; mixed degrader ${result.mixed_img_s_112} img/s = ×${ratio.toFixed(2)} (target ×2)`,
  );
}
if (sizes.includes(64)) result.target_64_met = (result.mixed_img_s_64 as number) >= 200;
result.load_average_end = loadAverage();
console.log(`RESULT ${JSON.stringify(result)}`);
