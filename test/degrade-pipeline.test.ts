// The unconstrained-imaging stages, AdaFace augmentations and the Degrader: measured statistics (noise σ,
// frequency content, kernel moments), determinism, shapes and ranges, and errors on bad input.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Prng } from '../src/common/prng.js';
import { applyAdaFace, planAdaFace, resolveAdaFaceConfig } from '../src/degrade/adaface.js';
import { Degrader } from '../src/degrade/degrader.js';
import { jpegRoundTrip } from '../src/degrade/jpeg.js';
import { blurKernels } from '../src/degrade/kernels.js';
import { downUp } from '../src/degrade/resample.js';
import { withTorchSeed } from '../src/degrade/rng.js';
import {
  addNoise,
  applyStage,
  applyUnconstrained,
  defaultUnconstrainedConfig,
  planUnconstrained,
  resolveUnconstrainedConfig,
  STAGES,
} from '../src/degrade/unconstrained.js';
import * as torch from '../src/torch/index.js';

/** Smooth-plus-edges test images [b, c, size, size] in [0, 1]. */
function card(b: number, c: number, size: number): torch.Tensor {
  return torch.tidy(() => {
    const axis = torch.linspace(-1, 1, size);
    const y = axis.reshape(1, 1, size, 1);
    const x = axis.reshape(1, 1, 1, size);
    const disk = x.square().add(y.square()).lt(0.5).float().mul(0.5);
    const shade = x.add(1).mul(0.2);
    const base = disk.add(shade).add(0.1).clamp(0, 1);
    const tint = torch.linspace(0.8, 1, c).reshape(1, c, 1, 1);
    return base.mul(tint).expand(b, c, size, size).contiguous();
  });
}

/** Per image: the mean squared difference between neighbouring pixels (high-frequency energy; blur lowers it). */
function edgeEnergy(images: torch.Tensor): number[] {
  return torch.tidy(() => {
    const [h, w] = [images.shape[2], images.shape[3]];
    const dx = images
      .narrow(3, 1, w - 1)
      .sub(images.narrow(3, 0, w - 1))
      .square()
      .mean([1, 2, 3]);
    const dy = images
      .narrow(2, 1, h - 1)
      .sub(images.narrow(2, 0, h - 1))
      .square()
      .mean([1, 2, 3]);
    return Array.from(dx.add(dy).toFloat64Array());
  });
}

/** Per image: the mean absolute difference between two batches. */
function meanChange(a: torch.Tensor, b: torch.Tensor): number[] {
  return torch.tidy(() => Array.from(a.sub(b).abs().mean([1, 2, 3]).toFloat64Array()));
}

/** Amplitude of the horizontal frequency f (cycles/pixel) in each row-average spectrum: |Σ x e^{−i2πfx}| / n. */
function amplitudeAt(images: torch.Tensor, f: number): number {
  const row = images.mean([0, 1, 2]).toFloat64Array();
  let re = 0;
  let im = 0;
  row.forEach((v, x) => {
    re += v * Math.cos(2 * Math.PI * f * x);
    im -= v * Math.sin(2 * Math.PI * f * x);
  });
  return Math.hypot(re, im) / row.length;
}

test('Gaussian noise has the requested σ and Poisson noise the variance x/peak (within 5%)', () => {
  const flat = torch.full([4, 3, 64, 64], 0.5);
  for (const gray of [false, true]) {
    const noisy = withTorchSeed(1, () => addNoise(flat, Array(4).fill({ kind: 'gaussian', sigma: 10 / 255, peak: 1, gray })));
    const sigma = noisy.sub(0.5).std().item();
    assert.ok(Math.abs(sigma / (10 / 255) - 1) < 0.05, `measured σ ${sigma * 255}/255, requested 10/255 (gray ${gray})`);
    if (gray) assert.ok(noisy.select(1, 0).equal(noisy.select(1, 2)), 'gray noise differs between channels');
    noisy.dispose();
  }
  const peak = 1000;
  const shot = withTorchSeed(2, () => addNoise(flat, Array(4).fill({ kind: 'poisson', sigma: 0, peak, gray: false })));
  const variance = shot.var().item();
  assert.ok(Math.abs(variance / (0.5 / peak) - 1) < 0.05, `Poisson variance ${variance}, expected ${0.5 / peak}`);
  assert.ok(Math.abs(shot.mean().item() - 0.5) < 0.002);
  shot.dispose();
  flat.dispose();
});

test('down-sampling by k removes frequencies above its Nyquist 1/(2k), keeps those below', () => {
  // Frequencies on exact DFT bins of 120 px; `high` lies above the new Nyquist 1/(2k) and away from the spectral
  // images m/k ± low that up-sampling creates.
  const n = 120;
  for (const k of [2, 4]) {
    const low = 0.2 / k;
    const high = 0.7 / k;
    const image = torch.tidy(() => {
      const x = torch.arange(n).reshape(1, 1, 1, n);
      return x
        .mul(2 * Math.PI * low)
        .cos()
        .mul(0.2)
        .add(
          x
            .mul(2 * Math.PI * high)
            .cos()
            .mul(0.2),
        )
        .add(0.5)
        .expand(1, 1, n, n)
        .contiguous();
    });
    for (const down of ['area', 'bilinear', 'bicubic'] as const) {
      for (const up of ['nearest', 'bilinear', 'bicubic'] as const) {
        const out = downUp(image, [{ factor: k, down, up }]);
        assert.deepEqual(out.shape, [1, 1, n, n]);
        const kept = amplitudeAt(out, low) / amplitudeAt(image, low);
        const leaked = amplitudeAt(out, high) / amplitudeAt(image, high);
        assert.ok(leaked < 0.03, `k=${k} ${down}/${up}: ${(leaked * 100).toFixed(1)}% of the frequency ${high} survives`);
        assert.ok(kept > 0.5, `k=${k} ${down}/${up}: only ${(kept * 100).toFixed(0)}% of the frequency ${low} kept`);
        out.dispose();
      }
    }
    image.dispose();
  }
});

test('blur kernels sum to 1 with the requested second moments; JPEG error falls with quality', async () => {
  const size = 41;
  const kernels = blurKernels(
    [
      { kind: 'isotropic', sigmaX: 2, sigmaY: 2, angle: 0, length: 0 },
      { kind: 'anisotropic', sigmaX: 4, sigmaY: 1, angle: Math.PI / 2, length: 0 },
      { kind: 'motion', sigmaX: 1, sigmaY: 1, angle: 0, length: 12 },
    ],
    size,
  );
  const sums = kernels.sum([1, 2, 3]).toFloat64Array();
  for (const s of sums) assert.ok(Math.abs(s - 1) < 1e-5);
  const axis = torch.arange(size).sub((size - 1) / 2);
  const moment = (i: number, dim: 2 | 3) => {
    const along = dim === 3 ? axis.reshape(1, size) : axis.reshape(size, 1);
    return kernels.select(0, i).select(0, 0).mul(along.square()).sum().item();
  };
  assert.ok(Math.abs(moment(0, 3) / 4 - 1) < 0.02, `isotropic σx² ${moment(0, 3)}`);
  // Rotated by 90°: the long axis (σ = 4) lies along y.
  assert.ok(Math.abs(moment(1, 2) / 16 - 1) < 0.02 && Math.abs(moment(1, 3) / 1 - 1) < 0.05, 'anisotropic moments');
  // A 12-px streak along x: the variance of 12 unit pixels, (L² − 1)/12, along x; nothing along y.
  assert.ok(Math.abs(moment(2, 3) / (143 / 12) - 1) < 0.1 && moment(2, 2) < 0.05, `motion moments ${moment(2, 3)}, ${moment(2, 2)}`);
  kernels.dispose();

  const images = torch.tidy(() =>
    card(2, 3, 64)
      .add(torch.rand([2, 3, 64, 64]).mul(0.1))
      .clamp(0, 1),
  );
  const errors: number[] = [];
  for (const q of [30, 60, 95]) {
    const out = await jpegRoundTrip(images, [q, q]);
    assert.deepEqual(out.shape, images.shape);
    errors.push(out.sub(images).abs().mean().item());
    out.dispose();
  }
  assert.ok(errors[0] > errors[1] && errors[1] > errors[2], `JPEG errors by quality 30/60/95: ${errors}`);
  images.dispose();
});

test('illumination applies gamma, contrast and low light exactly as specified', async () => {
  const images = card(2, 3, 32);
  const out = await applyStage(
    images,
    [
      { stage: 'illumination', illumination: { gamma: 2, contrast: 1, brightness: 1 } },
      { stage: 'illumination', illumination: { gamma: 1, contrast: 1, brightness: 0.25 } },
    ],
    0,
  );
  assert.ok(out.select(0, 0).allclose(images.select(0, 0).square(), 1e-5, 1e-6), 'gamma 2');
  assert.ok(out.select(0, 1).allclose(images.select(0, 1).mul(0.25), 1e-5, 1e-6), 'low light ×0.25');
  out.dispose();
  images.dispose();
});

test('the unconstrained plan draws random orders and subsets; stages keep shape, dtype and range', async () => {
  const config = resolveUnconstrainedConfig();
  const plan = planUnconstrained(64, new Prng(4), config);
  const orders = new Set(plan.steps.map((s) => s.map((x) => x.stage).join(',')));
  assert.ok(orders.size > 20, `only ${orders.size} distinct stage orders in 64 images`);
  const fixed = planUnconstrained(16, new Prng(4), resolveUnconstrainedConfig({ shuffle: false }));
  for (const steps of fixed.steps) {
    const positions = steps.map((s) => STAGES.indexOf(s.stage));
    assert.deepEqual(
      positions,
      [...positions].sort((a, b) => a - b),
    );
  }
  const everything = resolveUnconstrainedConfig({ probability: { blur: 1, resize: 1, noise: 1, jpeg: 1, illumination: 1 } });
  for (const channels of [1, 3]) {
    const images = card(6, channels, 40);
    const out = await applyUnconstrained(images, planUnconstrained(6, new Prng(9), everything));
    assert.deepEqual(out.shape, images.shape);
    assert.equal(out.dtype, 'float32');
    assert.ok(out.min().item() >= 0 && out.max().item() <= 1);
    // every image went through noise and JPEG at least: each one changed, not just the batch
    const changes = meanChange(out, images);
    assert.ok(
      changes.every((d) => d > 0.003),
      `per-image change ${changes.map((d) => d.toFixed(4))}`,
    );
    out.dispose();
    images.dispose();
  }
});

test('AdaFace: the crop keeps a box of the drawn area on a zero canvas; augmentations keep shapes', () => {
  const config = resolveAdaFaceConfig({ cropProbability: 1, lowResProbability: 0, photometricProbability: 0 });
  const images = torch.full([8, 3, 48, 48], 0.5);
  const plan = planAdaFace(8, 48, 48, new Prng(2), config);
  const out = applyAdaFace(images, plan);
  plan.crop.forEach((box, i) => {
    assert.ok(box);
    const kept = out.select(0, i).gt(0).float().mean().item();
    const area = (box.height * box.width) / (48 * 48);
    assert.ok(Math.abs(kept - area) < 1e-6, `image ${i}: kept ${kept}, box area ${area}`);
    assert.ok(area >= 0.15 && area <= 1);
  });
  // The low-resolution round trip loses detail in proportion to its factor: every image's high-frequency energy
  // falls, by more than half where the factor is 2 or more.
  const lowResOnly = resolveAdaFaceConfig({ cropProbability: 0, lowResProbability: 1, photometricProbability: 0 });
  const sharp = card(8, 3, 48);
  const lowPlan = planAdaFace(8, 48, 48, new Prng(6), lowResOnly);
  const low = applyAdaFace(sharp, lowPlan);
  const [before, after] = [edgeEnergy(sharp), edgeEnergy(low)];
  lowPlan.lowRes.forEach((spec, i) => {
    assert.ok(spec, `image ${i} has a low-resolution step`);
    assert.ok(after[i] < before[i], `image ${i} (×1/${spec.factor.toFixed(2)}): edge energy ${after[i]} vs ${before[i]}`);
    if (spec.factor >= 2) assert.ok(after[i] < 0.5 * before[i], `image ${i} (×1/${spec.factor.toFixed(2)}): ${after[i]} vs ${before[i]}`);
  });
  assert.ok(
    lowPlan.lowRes.some((spec) => (spec?.factor ?? 0) >= 2),
    'the plan drew at least one factor ≥ 2',
  );
  torch.dispose([sharp, low]);
  const all = resolveAdaFaceConfig({ cropProbability: 1, lowResProbability: 1, photometricProbability: 1 });
  const mixed = applyAdaFace(card(4, 3, 48), planAdaFace(4, 48, 48, new Prng(3), all));
  assert.deepEqual(mixed.shape, [4, 3, 48, 48]);
  assert.ok(mixed.min().item() >= 0 && mixed.max().item() <= 1);
  for (const t of [images, out, mixed]) t.dispose();
});

test('Degrader: the paper mix, shapes/dtypes/range kept, deterministic per seed and blind to the global RNG', async () => {
  const batch = torch.tidy(() =>
    card(8, 3, 48)
      .add(torch.rand([8, 3, 48, 48]).mul(0.05))
      .clamp(0, 1),
  );
  const run = async (seed: number, globalSeed: number) => {
    torch.manualSeed(globalSeed);
    const d = new Degrader({ seed, turbulence: { patches: 2 } });
    try {
      return await d.degrade(batch);
    } finally {
      d.dispose();
    }
  };
  const a = await run(7, 1);
  const b = await run(7, 999); // a different global torch state must not matter
  const c = await run(8, 1);
  assert.deepEqual(a.lq.shape, batch.shape);
  assert.equal(a.lq.dtype, 'float32');
  assert.ok(a.lq.min().item() >= 0 && a.lq.max().item() <= 1);
  assert.ok(a.hq.equal(batch), 'HQ must be the input when AdaFace is off');
  assert.equal(a.turbulent.filter(Boolean).length, 4);
  // Every twin is degraded, and the turbulent ones are blurred: less high-frequency energy than their HQ image.
  const changes = meanChange(a.lq, batch);
  const [hqEnergy, lqEnergy] = [edgeEnergy(batch), edgeEnergy(a.lq)];
  a.turbulent.forEach((turbulent, i) => {
    assert.ok(changes[i] > 0.003, `image ${i}: LQ differs from HQ by only ${changes[i]}`);
    if (turbulent) assert.ok(lqEnergy[i] < hqEnergy[i], `turbulent image ${i}: edge energy ${lqEnergy[i]} vs ${hqEnergy[i]}`);
  });
  a.strengths.forEach((s, i) => {
    assert.equal(s !== null, a.turbulent[i]);
    if (s !== null) assert.ok(s >= 0.25 && s <= 2);
  });
  assert.ok(a.lq.equal(b.lq), 'same seed gave different twins');
  assert.ok(!a.lq.equal(c.lq), 'different seeds gave identical twins');
  // Degrading leaves the global generator's stream untouched.
  torch.manualSeed(5);
  const expected = torch.randn([4]);
  torch.manualSeed(5);
  const d = new Degrader({ seed: 1, turbulence: { patches: 2 } });
  const r = await d.degrade(batch);
  assert.ok(torch.randn([4]).equal(expected), 'degrade consumed the global torch generator');
  // state/restore replays a call exactly.
  const state = d.state();
  const first = await d.degrade(batch);
  d.restore(state);
  const again = await d.degrade(batch);
  assert.ok(first.lq.equal(again.lq));
  const all = new Degrader({ seed: 2, turbulenceFraction: 1, turbulence: { patches: 2 } });
  assert.ok((await all.degrade(batch)).turbulent.every(Boolean));
  for (const t of [a, b, c, r, first, again]) torch.dispose([t.hq, t.lq]);
  d.dispose();
  all.dispose();
  batch.dispose();
});

test('bad images and parameters are refused with errors naming the field', async () => {
  assert.throws(() => new Degrader({ turbulenceFraction: 1.5 }), /degrader\.turbulenceFraction/);
  assert.throws(() => new Degrader({ turbulence: { strength: [-0.5, 2] } }), /turbulence\.strength/);
  assert.throws(() => new Degrader({ unconstrained: { noise: { sigma: [Number.NaN, 20] } } }), /unconstrained\.noise\.sigma/);
  assert.throws(() => new Degrader({ unconstrained: { jpeg: { quality: [0, 90] } } }), /unconstrained\.jpeg\.quality/);
  assert.throws(() => new Degrader({ unconstrained: { resize: { factor: [0.5, 2] } } }), /unconstrained\.resize\.factor/);
  assert.throws(() => new Degrader({ adaface: { cropScale: [0.2, 1.5] } }), /adaface\.cropScale/);
  assert.throws(
    () => resolveUnconstrainedConfig({ probability: { ...defaultUnconstrainedConfig.probability, jpeg: 2 } }),
    /probability\.jpeg/,
  );
  const d = new Degrader();
  try {
    await assert.rejects(d.degrade(torch.rand([2, 3, 32])), /\[B, C, H, W\]/);
    await assert.rejects(d.degrade(torch.rand([2, 4, 32, 32])), /1 or 3 channels/);
    await assert.rejects(d.degrade(torch.zeros([2, 3, 0, 0])), /at least 8×8/);
    await assert.rejects(d.degrade(torch.rand([2, 3, 32, 32]).double()), /float32/);
    await assert.rejects(d.degrade(torch.full([2, 3, 32, 32], Number.NaN)), /NaN/);
    await assert.rejects(d.degrade(torch.rand([2, 3, 32, 32]).mul(255)), /\[0, 1\]/);
    await assert.rejects(jpegRoundTrip(torch.rand([1, 3, 16, 16]), [101]), /qualities\[0\]/);
    assert.throws(() => downUp(torch.rand([1, 1, 16, 16]), [{ factor: 0.5, down: 'area', up: 'nearest' }]), /factor/);
  } finally {
    d.dispose();
  }
});
