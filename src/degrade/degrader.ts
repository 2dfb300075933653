// HQ batch → LQ twin batch, as CATFace trains (SPEC §6): per batch a fixed fraction (default 50%) of images
// goes through the turbulence simulator, the rest through the unconstrained-imaging pipeline; optionally the
// AdaFace augmentations first change the HQ images themselves (the LQ twin is made from the augmented HQ).
//
// Determinism: every random choice of a call is drawn synchronously, at call time, from the Degrader's own
// xoshiro128** stream (seeded by `seed`); torch noise fields use the global generator reseeded from that stream
// and restored afterwards. So a Degrader with seed s yields the same twins for the same batches in the same
// order, whatever else uses torch's generator, even with several calls in flight. `degrade` is async because
// JPEG runs on libuv's pool through sharp: `const { hq, lq } = await degrader.degrade(batch)`.

import { Prng } from '../common/prng.js';
import * as torch from '../torch/index.js';
import { type Tensor, tidy } from '../torch/index.js';
import { type AdaFaceConfig, type AdaFacePlan, applyAdaFace, planAdaFace, resolveAdaFaceConfig } from './adaface.js';
import { withTorchSeed } from './rng.js';
import { defaultTurbulenceConfig, Turbulence, type TurbulenceConfig, validateTurbulenceConfig } from './turbulence.js';
import {
  applyUnconstrained,
  planUnconstrained,
  resolveUnconstrainedConfig,
  type UnconstrainedConfig,
  type UnconstrainedOptions,
  type UnconstrainedPlan,
} from './unconstrained.js';
import { checkImages, checkNumber } from './validate.js';

export interface DegraderConfig {
  /** Seed of the Degrader's random stream. Default 0. */
  seed: number;
  /** Fraction of each batch degraded by turbulence (rounded to whole images); the rest is unconstrained. Default 0.5. */
  turbulenceFraction: number;
  turbulence: Partial<TurbulenceConfig>;
  unconstrained: UnconstrainedOptions;
  /** AdaFace augmentations of the HQ images (null: off). Default null. */
  adaface: Partial<AdaFaceConfig> | null;
}

export const defaultDegraderConfig: DegraderConfig = {
  seed: 0,
  turbulenceFraction: 0.5,
  turbulence: {},
  unconstrained: {},
  adaface: null,
};

/** Every field of a Degrader's config, defaults filled in. */
export interface ResolvedDegraderConfig {
  seed: number;
  turbulenceFraction: number;
  turbulence: TurbulenceConfig;
  unconstrained: UnconstrainedConfig;
  adaface: AdaFaceConfig | null;
}

/** Fills the defaults of `config` and validates it; errors name the field (e.g. `unconstrained.blur.sigma`, `degrader.seed`). */
export function resolveDegraderConfig(config: Partial<DegraderConfig> = {}): ResolvedDegraderConfig {
  const c = { ...defaultDegraderConfig, ...config };
  checkNumber(c.seed, 'degrader.seed');
  checkNumber(c.turbulenceFraction, 'degrader.turbulenceFraction', 0, 1);
  const turbulence = { ...defaultTurbulenceConfig, ...c.turbulence };
  validateTurbulenceConfig(turbulence);
  return {
    seed: c.seed,
    turbulenceFraction: c.turbulenceFraction,
    turbulence,
    unconstrained: resolveUnconstrainedConfig(c.unconstrained),
    adaface: c.adaface ? resolveAdaFaceConfig(c.adaface) : null,
  };
}

/** One call's result: new tensors the caller owns (dispose them). */
export interface DegradedBatch {
  /** The HQ images (AdaFace-augmented when enabled; otherwise a copy of the input). */
  hq: Tensor;
  /** Their LQ twins, same shape, in [0, 1]. */
  lq: Tensor;
  /** Which rows went through turbulence. */
  turbulent: boolean[];
  /** D/r0 of each turbulent row (null for unconstrained rows). */
  strengths: (number | null)[];
}

interface CallPlan {
  adaface: AdaFacePlan | null;
  turbulentRows: number[];
  strengths: number[];
  turbulenceSeed: number;
  unconstrainedRows: number[];
  unconstrained: UnconstrainedPlan;
}

export class Degrader {
  readonly turbulence: Turbulence;
  private readonly fraction: number;
  private readonly unconstrainedConfig: UnconstrainedConfig;
  private readonly adafaceConfig: AdaFaceConfig | null;
  private readonly rng: Prng;

  constructor(config: Partial<DegraderConfig> = {}) {
    const c = resolveDegraderConfig(config);
    this.fraction = c.turbulenceFraction;
    this.unconstrainedConfig = c.unconstrained;
    this.adafaceConfig = c.adaface;
    this.turbulence = new Turbulence(c.turbulence);
    this.rng = new Prng(c.seed);
  }

  /** Makes the LQ twins of `batch` ([B, C, H, W] float32 in [0, 1], C = 1 or 3). `batch` is left unchanged. */
  async degrade(batch: Tensor): Promise<DegradedBatch> {
    checkImages(batch, 'Degrader.degrade');
    const [b, , h, w] = batch.shape;
    const plan = this.plan(b, h, w);
    const hq = plan.adaface ? applyAdaFace(batch, plan.adaface) : tidy(() => batch.clone());
    // The unconstrained half starts first so its JPEG work (libuv threads) overlaps the turbulence (this thread).
    // Order does not affect the result: every draw was made in `plan`, every torch draw is seeded explicitly.
    const pending = this.partAsync(hq, plan.unconstrainedRows, (subset) => applyUnconstrained(subset, plan.unconstrained));
    let turbulent: Tensor | null = null;
    let unconstrained: Tensor | null = null;
    try {
      turbulent = this.part(hq, plan.turbulentRows, (subset) =>
        withTorchSeed(plan.turbulenceSeed, () => this.turbulence.apply(subset, plan.strengths)),
      );
      unconstrained = await pending;
    } catch (err) {
      torch.dispose([hq, turbulent]);
      await pending.then(
        (t) => t?.dispose(),
        () => undefined,
      );
      throw err;
    }
    const lq = tidy(() => {
      let out = torch.zerosLike(hq);
      for (const [rows, part] of [
        [plan.turbulentRows, turbulent],
        [plan.unconstrainedRows, unconstrained],
      ] as const) {
        if (part) out = torch.callOp('aten::index_copy', [out, 0, torch.tensor(rows, { dtype: 'int64' }), part]) as Tensor;
      }
      return out;
    });
    turbulent?.dispose();
    unconstrained?.dispose();
    const isTurbulent = Array.from({ length: b }, () => false);
    const strengths: (number | null)[] = Array.from({ length: b }, () => null);
    plan.turbulentRows.forEach((row, i) => {
      isTurbulent[row] = true;
      strengths[row] = plan.strengths[i];
    });
    return { hq, lq, turbulent: isTurbulent, strengths };
  }

  /** The random stream's state (for checkpoints); `restore` resumes it exactly. */
  state(): number[] {
    return this.rng.state();
  }

  restore(state: readonly number[]): void {
    this.rng.restore(state);
  }

  dispose(): void {
    this.turbulence.dispose();
  }

  private plan(b: number, h: number, w: number): CallPlan {
    const rng = this.rng;
    const adaface = this.adafaceConfig ? planAdaFace(b, h, w, rng, this.adafaceConfig) : null;
    const order = rng.shuffle(Array.from({ length: b }, (_, i) => i));
    const count = Math.round(b * this.fraction);
    const turbulentRows = order.slice(0, count).sort((x, y) => x - y);
    const unconstrainedRows = order.slice(count).sort((x, y) => x - y);
    const strengths = this.turbulence.drawStrengths(turbulentRows.length, () => rng.uniform());
    const turbulenceSeed = rng.nextUint32();
    const unconstrained = planUnconstrained(unconstrainedRows.length, rng, this.unconstrainedConfig);
    return { adaface, turbulentRows, strengths, turbulenceSeed, unconstrainedRows, unconstrained };
  }

  private part(images: Tensor, rows: number[], fn: (subset: Tensor) => Tensor): Tensor | null {
    if (rows.length === 0) return null;
    return tidy(() => fn(images.indexSelect(0, torch.tensor(rows, { dtype: 'int64' }))));
  }

  private async partAsync(images: Tensor, rows: number[], fn: (subset: Tensor) => Promise<Tensor>): Promise<Tensor | null> {
    if (rows.length === 0) return null;
    const subset = tidy(() => images.indexSelect(0, torch.tensor(rows, { dtype: 'int64' })));
    try {
      return await fn(subset);
    } finally {
      subset.dispose();
    }
  }
}
