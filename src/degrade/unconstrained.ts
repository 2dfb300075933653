// The unconstrained-imaging pipeline (BSRGAN / GFPGAN-style, SPEC §6): each image gets, in its own random
// order, a subset of blur (isotropic / anisotropic Gaussian or motion), down-and-up resampling, Gaussian or
// Poisson noise, JPEG and illumination changes. Parameters are drawn up front from an `Prng` (`planUnconstrained`),
// then every stage runs batched over the images that use it at that position (`applyUnconstrained`).

import type { Prng } from '../common/prng.js';
import * as torch from '../torch/index.js';
import { type Tensor, tidy } from '../torch/index.js';
import { jpegRoundTrip } from './jpeg.js';
import { type BlurKind, type BlurSpec, blurKernels, fftConvolve, kernelSizeFor } from './kernels.js';
import { adjustBrightness, adjustContrast, adjustGamma, perImage } from './photometric.js';
import { type DownMode, downUp, type ResampleSpec, type UpMode } from './resample.js';
import { withTorchSeed } from './rng.js';
import { checkImages, checkNumber, checkProbability, checkRange } from './validate.js';

export type Stage = 'blur' | 'resize' | 'noise' | 'jpeg' | 'illumination';
export const STAGES: readonly Stage[] = ['blur', 'resize', 'noise', 'jpeg', 'illumination'];

export interface UnconstrainedConfig {
  /** Probability that each stage is applied to an image. Defaults: blur 0.8, resize 0.7, noise 0.7, jpeg 0.7, illumination 0.5. */
  probability: Record<Stage, number>;
  /** Shuffle the stage order per image (else the order of STAGES). Default true. */
  shuffle: boolean;
  blur: {
    /** Relative odds of each blur kind. Default isotropic 0.4, anisotropic 0.4, motion 0.2. */
    kinds: Record<BlurKind, number>;
    /** Gaussian σ in pixels, log-uniform (most draws mild, a few strong). Default [0.1, 10]. */
    sigma: [number, number];
    /** Motion streak length in pixels, uniform. Default [3, 15]. */
    motionLength: [number, number];
  };
  resize: {
    /** Side shrink factor, uniform. Default [1, 8]. */
    factor: [number, number];
    downModes: DownMode[];
    upModes: UpMode[];
  };
  noise: {
    /** Gaussian σ on the 0–255 scale, uniform. Default [0, 20]. */
    sigma: [number, number];
    /** Probability that noise is the same in every channel (luminance noise). Default 0.4. */
    grayProbability: number;
    /** Probability of Poisson (shot) noise instead of Gaussian. Default 0.3. */
    poissonProbability: number;
    /** Poisson photon count at full white, log-uniform. Default [100, 10000]. */
    poissonPeak: [number, number];
  };
  jpeg: {
    /** JPEG quality, uniform integers. Default [30, 95]. */
    quality: [number, number];
  };
  illumination: {
    /** Gamma exponent, log-uniform. Default [0.6, 1.7]. */
    gamma: [number, number];
    /** Contrast factor about the mean luma, uniform. Default [0.6, 1.3]. */
    contrast: [number, number];
    /** Probability of a low-light exposure. Default 0.5. */
    lowLightProbability: number;
    /** Brightness factor of a low-light exposure, uniform. Default [0.15, 0.7]. */
    lowLight: [number, number];
  };
}

export const defaultUnconstrainedConfig: UnconstrainedConfig = {
  probability: { blur: 0.8, resize: 0.7, noise: 0.7, jpeg: 0.7, illumination: 0.5 },
  shuffle: true,
  blur: { kinds: { isotropic: 0.4, anisotropic: 0.4, motion: 0.2 }, sigma: [0.1, 10], motionLength: [3, 15] },
  resize: { factor: [1, 8], downModes: ['area', 'bilinear', 'bicubic'], upModes: ['nearest', 'bilinear', 'bicubic'] },
  noise: { sigma: [0, 20], grayProbability: 0.4, poissonProbability: 0.3, poissonPeak: [100, 10000] },
  jpeg: { quality: [30, 95] },
  illumination: { gamma: [0.6, 1.7], contrast: [0.6, 1.3], lowLightProbability: 0.5, lowLight: [0.15, 0.7] },
};

export type UnconstrainedOptions = { [K in keyof UnconstrainedConfig]?: Partial<UnconstrainedConfig[K]> };

/** Defaults overlaid with `options` (one level deep), validated. */
export function resolveUnconstrainedConfig(options: UnconstrainedOptions = {}): UnconstrainedConfig {
  const d = defaultUnconstrainedConfig;
  const c: UnconstrainedConfig = {
    probability: { ...d.probability, ...options.probability },
    shuffle: options.shuffle ?? d.shuffle,
    blur: { ...d.blur, ...options.blur, kinds: { ...d.blur.kinds, ...options.blur?.kinds } },
    resize: { ...d.resize, ...options.resize },
    noise: { ...d.noise, ...options.noise },
    jpeg: { ...d.jpeg, ...options.jpeg },
    illumination: { ...d.illumination, ...options.illumination },
  };
  for (const s of STAGES) checkProbability(c.probability[s], `unconstrained.probability.${s}`);
  const kindOdds = Object.entries(c.blur.kinds);
  for (const [k, v] of kindOdds) checkNumber(v, `unconstrained.blur.kinds.${k}`, 0);
  if (!kindOdds.some(([, v]) => v > 0)) throw new RangeError('unconstrained.blur.kinds: at least one kind needs positive odds');
  checkRange(c.blur.sigma, 'unconstrained.blur.sigma', Number.MIN_VALUE);
  checkRange(c.blur.motionLength, 'unconstrained.blur.motionLength', 1);
  checkRange(c.resize.factor, 'unconstrained.resize.factor', 1);
  if (c.resize.downModes.length === 0) throw new RangeError('unconstrained.resize.downModes: empty');
  if (c.resize.upModes.length === 0) throw new RangeError('unconstrained.resize.upModes: empty');
  checkRange(c.noise.sigma, 'unconstrained.noise.sigma', 0, 255);
  checkProbability(c.noise.grayProbability, 'unconstrained.noise.grayProbability');
  checkProbability(c.noise.poissonProbability, 'unconstrained.noise.poissonProbability');
  checkRange(c.noise.poissonPeak, 'unconstrained.noise.poissonPeak', Number.MIN_VALUE);
  checkRange(c.jpeg.quality, 'unconstrained.jpeg.quality', 1, 100);
  checkRange(c.illumination.gamma, 'unconstrained.illumination.gamma', Number.MIN_VALUE);
  checkRange(c.illumination.contrast, 'unconstrained.illumination.contrast', 0);
  checkProbability(c.illumination.lowLightProbability, 'unconstrained.illumination.lowLightProbability');
  checkRange(c.illumination.lowLight, 'unconstrained.illumination.lowLight', 0, 1);
  return c;
}

export interface NoiseSpec {
  kind: 'gaussian' | 'poisson';
  /** σ on the 0–1 scale (Gaussian). */
  sigma: number;
  /** Photon count at white (Poisson). */
  peak: number;
  gray: boolean;
}

export interface IlluminationSpec {
  gamma: number;
  contrast: number;
  /** Brightness factor (1 = no low-light). */
  brightness: number;
}

export type StageSpec =
  | { stage: 'blur'; blur: BlurSpec }
  | { stage: 'resize'; resize: ResampleSpec }
  | { stage: 'noise'; noise: NoiseSpec }
  | { stage: 'jpeg'; quality: number }
  | { stage: 'illumination'; illumination: IlluminationSpec };

/** What happens to each image, in order, plus the seed of the torch draws (noise fields). */
export interface UnconstrainedPlan {
  steps: StageSpec[][];
  torchSeed: number;
}

function pickWeighted<K extends string>(rng: Prng, odds: Record<K, number>): K {
  const entries = Object.entries(odds) as [K, number][];
  let x = rng.uniform(
    0,
    entries.reduce((a, [, v]) => a + v, 0),
  );
  for (const [k, v] of entries) {
    x -= v;
    if (x < 0) return k;
  }
  return entries.filter(([, v]) => v > 0).at(-1)?.[0] as K;
}

/** Draws one stage's parameters. */
export function drawStage(stage: Stage, rng: Prng, c: UnconstrainedConfig): StageSpec {
  switch (stage) {
    case 'blur': {
      const kind = pickWeighted(rng, c.blur.kinds);
      const sigmaX = rng.logUniform(...c.blur.sigma);
      const sigmaY = kind === 'anisotropic' ? rng.logUniform(...c.blur.sigma) : sigmaX;
      return { stage, blur: { kind, sigmaX, sigmaY, angle: rng.uniform(0, Math.PI), length: rng.uniform(...c.blur.motionLength) } };
    }
    case 'resize':
      return {
        stage,
        resize: { factor: rng.uniform(...c.resize.factor), down: rng.pick(c.resize.downModes), up: rng.pick(c.resize.upModes) },
      };
    case 'noise': {
      const kind = rng.chance(c.noise.poissonProbability) ? 'poisson' : 'gaussian';
      return {
        stage,
        noise: {
          kind,
          sigma: rng.uniform(...c.noise.sigma) / 255,
          peak: rng.logUniform(...c.noise.poissonPeak),
          gray: rng.chance(c.noise.grayProbability),
        },
      };
    }
    case 'jpeg':
      return { stage, quality: rng.int(...c.jpeg.quality) };
    case 'illumination': {
      const { gamma, contrast, lowLightProbability, lowLight } = c.illumination;
      const brightness = rng.chance(lowLightProbability) ? rng.uniform(...lowLight) : 1;
      return { stage, illumination: { gamma: rng.logUniform(...gamma), contrast: rng.uniform(...contrast), brightness } };
    }
  }
}

/** Draws the stages (subset, order, parameters) for `count` images. */
export function planUnconstrained(count: number, rng: Prng, c: UnconstrainedConfig): UnconstrainedPlan {
  const steps = Array.from({ length: count }, () => {
    const order = c.shuffle ? rng.shuffle(STAGES) : [...STAGES];
    return order.filter((s) => rng.chance(c.probability[s])).map((s) => drawStage(s, rng, c));
  });
  return { steps, torchSeed: rng.nextUint32() };
}

/** Applies one stage, batched, to `images` (each row with its own spec). */
export async function applyStage(images: Tensor, specs: readonly StageSpec[], torchSeed: number): Promise<Tensor> {
  const stage = specs[0].stage;
  if (stage === 'jpeg')
    return jpegRoundTrip(
      images,
      specs.map((s) => (s as { quality: number }).quality),
    );
  return tidy(() => {
    switch (stage) {
      case 'blur': {
        const blurs = specs.map((s) => (s as { blur: BlurSpec }).blur);
        return fftConvolve(images, blurKernels(blurs, kernelSizeFor(blurs))).clamp(0, 1);
      }
      case 'resize':
        return downUp(
          images,
          specs.map((s) => (s as { resize: ResampleSpec }).resize),
        );
      case 'noise':
        return withTorchSeed(torchSeed, () =>
          addNoise(
            images,
            specs.map((s) => (s as { noise: NoiseSpec }).noise),
          ),
        );
      case 'illumination': {
        const light = specs.map((s) => (s as { illumination: IlluminationSpec }).illumination);
        const lit = adjustGamma(
          images,
          light.map((l) => l.gamma),
        );
        return adjustBrightness(
          adjustContrast(
            lit,
            light.map((l) => l.contrast),
          ),
          light.map((l) => l.brightness),
        );
      }
    }
  });
}

/** Gaussian (σ per image, per channel or shared) or Poisson noise (photon count per image), clamped to [0, 1]. */
export function addNoise(images: Tensor, specs: readonly NoiseSpec[]): Tensor {
  return tidy(() => {
    const [b, c, h, w] = images.shape;
    const gaussian = () => {
      const colour = torch.randn([b, c, h, w]);
      const gray = torch.randn([b, 1, h, w]).expand(b, c, h, w);
      const useGray = perImage(specs.map((s) => (s.gray ? 1 : 0))).gt(0.5);
      return images.add(torch.where(useGray, gray, colour).mul(perImage(specs.map((s) => s.sigma))));
    };
    const poisson = () => {
      const peak = perImage(specs.map((s) => s.peak));
      return (torch.callOp('aten::poisson', [images.mul(peak), null]) as Tensor).div(peak);
    };
    const poissonCount = specs.filter((s) => s.kind === 'poisson').length;
    if (poissonCount === 0) return gaussian().clamp(0, 1);
    if (poissonCount === b) return poisson().clamp(0, 1);
    const isPoisson = perImage(specs.map((s) => (s.kind === 'poisson' ? 1 : 0))).gt(0.5);
    return torch.where(isPoisson, poisson(), gaussian()).clamp(0, 1);
  });
}

/** Runs `plan` on `images` ([B, C, H, W] in [0, 1]); returns a new tensor (the caller disposes it). */
export async function applyUnconstrained(images: Tensor, plan: UnconstrainedPlan): Promise<Tensor> {
  checkImages(images, 'applyUnconstrained');
  if (plan.steps.length !== images.shape[0]) {
    throw new RangeError(`applyUnconstrained: plan for ${plan.steps.length} images, batch of ${images.shape[0]}`);
  }
  let current = tidy(() => images.clone());
  const rounds = Math.max(0, ...plan.steps.map((s) => s.length));
  for (let round = 0; round < rounds; round++) {
    for (const [stageIndex, stage] of STAGES.entries()) {
      const rows = plan.steps.flatMap((steps, i) => (steps[round]?.stage === stage ? [i] : []));
      if (rows.length === 0) continue;
      const index = tidy(() => torch.tensor(rows, { dtype: 'int64' }));
      const subset = tidy(() => current.indexSelect(0, index));
      const seed = (plan.torchSeed + round * STAGES.length + stageIndex) >>> 0;
      const processed = await applyStage(
        subset,
        rows.map((i) => plan.steps[i][round]),
        seed,
      );
      const next = tidy(() => torch.callOp('aten::index_copy', [current, 0, index, processed]) as Tensor);
      for (const t of [current, index, subset, processed]) t.dispose();
      current = next;
    }
  }
  return current;
}
