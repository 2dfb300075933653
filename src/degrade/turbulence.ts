// Anisoplanatic atmospheric turbulence after Chimitt & Chan (Zernike-based simulator, the physics behind P2S):
// (1) tilt — a spatially correlated pixel-shift field drawn by FFT filtering white noise with the tilt
//     correlation C(s), scaled to the Z-tilt variance of Noll's statistics, applied by bilinear warping;
// (2) blur — a G×G grid of patches, each with 36 Zernike coefficients drawn from Noll's covariance (j = 2…37,
//     eigen-decomposed once), PSF = |FFT(pupil · e^{i Σ aⱼZⱼ})|² normalised to unit sum, the patch-wise
//     convolutions (one grouped conv2d for the whole batch) blended by Gaussian windows.
// Coefficients are in radians of phase (e^{iΣaZ}, i.e. SPEC's e^{i2πΣaZ} with a in waves). Tilt modes j = 2, 3
// are carried by the warp, so the PSF phase uses j ≥ 4. Standard deviations scale as (D/r0)^(5/6), variances
// as (D/r0)^(5/3) (Noll). Torch draws use the global generator: seed it (see rng.ts `withTorchSeed`).
import * as torch from '../torch/index.js';
import { type Tensor, tidy } from '../torch/index.js';
import { tiltCorrelation, tiltCorrelationTable } from './tilt-correlation.js';
import { checkImages, checkNumber, checkPositiveInt, checkRange } from './validate.js';
import { nollCovariance, nollCovarianceEntry, zernikeGrid } from './zernike.js';

export interface TurbulenceConfig {
  /** D/r0 drawn uniformly per image from this range (paper §4.1.3). Default [0.25, 2]. */
  strength: [number, number];
  /** Aperture diameter D in metres. Default 0.1. */
  aperture: number;
  /** Propagation distance L in metres. Default 800: with the other defaults the diffraction limit λ/D spans 1.6 px of a 112-px face crop (0.9 px at 64 px). */
  pathLength: number;
  /** Wavelength λ in metres. Default 525e-9. */
  wavelength: number;
  /** Width of the scene the image spans at distance L, in metres (a face crop: ~0.3). Default 0.3. */
  sceneWidth: number;
  /** Blur patches per side (G×G independent PSFs). Default 4. */
  patches: number;
  /** Apply the tilt warp. Default true. */
  tilt: boolean;
  /** Apply the patch-wise blur. Default true. */
  blur: boolean;
  /** JSON file caching the tilt-correlation table across processes; null keeps it in memory only. */
  cacheFile: string | null;
}

export const defaultTurbulenceConfig: TurbulenceConfig = {
  strength: [0.25, 2],
  aperture: 0.1,
  pathLength: 800,
  wavelength: 525e-9,
  sceneWidth: 0.3,
  patches: 4,
  tilt: true,
  blur: true,
  cacheFile: null,
};

/** Noll modes drawn per patch: j = 2…37. */
const FIRST_MODE = 2;
const MODE_COUNT = 36;
/** Modes in the PSF phase: j ≥ 4 (tilt is the warp's job). */
const PHASE_OFFSET = 2;
/** Pupil samples across the aperture (resolves radial order 8 with > 2 samples per ripple). */
const PUPIL_SAMPLES = 20;
/** Blur kernel radius in units of the widest expected PSF core, max(λ/D, λ/r0). */
const KERNEL_RADIUS_FACTOR = 2;
/** The tilt field is drawn on a grid of this many aperture diameters' pitch (it is smooth below D) and upsampled. */
const TILT_GRID_PITCH = 0.25;
/** Blending window σ as a fraction of the patch size. */
const WINDOW_SIGMA = 0.3;
/** Each patch's region reaches this fraction of a patch into its neighbours (the window there is e^(−3.1)). */
const OVERLAP = 0.25;

/** Sizes and cached tensors for one image size. */
interface Geometry {
  height: number;
  width: number;
  /** λ/D in image pixels. */
  diffractionPx: number;
  /** One-axis tilt standard deviation in pixels at D/r0 = 1. */
  tiltSigmaPx: number;
  /** Pixels between the tilt field's coarse nodes, and the node counts covering the image. */
  tiltPitch: number;
  tiltNodes: [number, number];
  /** √(FFT2 of the tilt correlation) on the coarse grid's doubled torus [2·nodesH, 2·nodesW]. */
  tiltFilter: Tensor;
  /** Identity sampling grid [1, H, W, 2]. */
  baseGrid: Tensor;
  blur: BlurGeometry;
}

/**
 * Sums overlapping regions back onto the canvas (col2im): `columns` [B, C·regionH·regionW, G·G] holds, for each of the
 * G×G tiles, its region of (tile + 2·overlap) pixels per side; neighbouring regions overlap by 2·overlap.
 */
function foldRegions(columns: Tensor, g: number, tileH: number, tileW: number, overlapH: number, overlapW: number): Tensor {
  const region = [tileH + 2 * overlapH, tileW + 2 * overlapW];
  const canvas = [g * tileH + 2 * overlapH, g * tileW + 2 * overlapW];
  return torch.callOp('aten::col2im', [columns, canvas, region, [1, 1], [0, 0], [tileH, tileW]]) as Tensor;
}

interface BlurGeometry {
  oversample: number;
  kernel: number;
  /** Samples across the pupil's bounding box. */
  pupilBox: number;
  /** Pupil-plane Zernike modes j ≥ 4: [34, pupilBox²]. */
  modes: Tensor;
  /** Pupil amplitude (1 inside the disk) [pupilBox, pupilBox]. */
  pupil: Tensor;
  /** DFT rows [q·k, pupilBox] (complex) giving the field at the kernel's sub-pixel angles. */
  dft: Tensor;
  tileH: number;
  tileW: number;
  overlapH: number;
  overlapW: number;
  /** Blending window over one region [regionH, regionW]. */
  window: Tensor;
  /** The windows' overlap-added sum over the padded canvas [1, 1, Hc, Wc]. */
  windowSum: Tensor;
}

export function validateTurbulenceConfig(c: TurbulenceConfig): void {
  checkRange(c.strength, 'turbulence.strength', 0);
  checkNumber(c.aperture, 'turbulence.aperture', Number.MIN_VALUE);
  checkNumber(c.pathLength, 'turbulence.pathLength', Number.MIN_VALUE);
  checkNumber(c.wavelength, 'turbulence.wavelength', Number.MIN_VALUE);
  checkNumber(c.sceneWidth, 'turbulence.sceneWidth', Number.MIN_VALUE);
  checkPositiveInt(c.patches, 'turbulence.patches');
}

/** The turbulence simulator; holds cached tables and tensors per image size (free them with `dispose`). */
export class Turbulence {
  readonly config: TurbulenceConfig;
  /** Noll covariance square root R (R·Rᵀ = Σ) for D/r0 = 1, float32 [36, 36]. */
  private readonly covarianceRoot: Tensor;
  private readonly geometries = new Map<string, Geometry>();

  constructor(config: Partial<TurbulenceConfig> = {}) {
    this.config = { ...defaultTurbulenceConfig, ...config };
    validateTurbulenceConfig(this.config);
    this.covarianceRoot = torch.keep(
      tidy(() => {
        const sigma = torch.fromTypedArray(nollCovariance(FIRST_MODE, MODE_COUNT), [MODE_COUNT, MODE_COUNT]);
        const [values, vectors] = torch.eigh(sigma);
        return vectors.mul(values.clampMin(0).sqrt().unsqueeze(0)).float();
      }),
    );
  }

  /** λ/D in pixels for an image `width` pixels wide: λL / (D · sceneWidth / width). */
  diffractionPx(width: number): number {
    const { wavelength, pathLength, aperture, sceneWidth } = this.config;
    return (wavelength * pathLength * width) / (aperture * sceneWidth);
  }

  /** One-axis tilt σ in pixels: √Var(a₂)·(D/r0)^(5/6)·(2/π)·λ/D (Z-tilt). */
  tiltSigmaPx(width: number, strength: number): number {
    return Math.sqrt(nollCovarianceEntry(2, 2)) * strength ** (5 / 6) * (2 / Math.PI) * this.diffractionPx(width);
  }

  /** Draws D/r0 for `count` images from the configured range with `uniform` (a [0, 1) source). */
  drawStrengths(count: number, uniform: () => number): number[] {
    const [lo, hi] = this.config.strength;
    return Array.from({ length: count }, () => lo + (hi - lo) * uniform());
  }

  /** Turbulent twins of `images` ([B, C, H, W] in [0, 1]) with D/r0 = strengths[b]; uses the torch generator. */
  apply(images: Tensor, strengths: readonly number[]): Tensor {
    checkImages(images, 'Turbulence.apply');
    this.checkStrengths(strengths, images.shape[0]);
    const [, , h, w] = images.shape;
    return tidy(() => {
      let out = images;
      if (this.config.tilt) out = this.warp(out, this.tiltField(strengths, h, w));
      if (this.config.blur) out = this.convolve(out, this.psfs(strengths, h, w));
      return out.clamp(0, 1);
    });
  }

  /** Tilt shifts in pixels [B, 2 (x, y), H, W] for D/r0 = strengths[b]. */
  tiltField(strengths: readonly number[], height: number, width: number): Tensor {
    this.checkStrengths(strengths);
    const g = this.geometry(height, width);
    return tidy(() => {
      const b = strengths.length;
      const [nh, nw] = g.tiltNodes;
      const noise = torch.randn([b, 2, 2 * nh, 2 * nw]);
      const complexNoise = torch.F.complex(noise.select(1, 0), noise.select(1, 1));
      // One complex FFT filters two independent real fields (real part → x, imaginary part → y).
      const field = torch.fft.ifft2(torch.fft.fft2(complexNoise).mul(g.tiltFilter));
      const coarse = torch.stack([field.real(), field.imag()], 1).slice(2, 0, nh).slice(3, 0, nw);
      const p = g.tiltPitch;
      const fine =
        p === 1 ? coarse : torch.F.interpolate(coarse, { size: [(nh - 1) * p + 1, (nw - 1) * p + 1], mode: 'bicubic', alignCorners: true });
      const xy = fine.slice(2, 0, height).slice(3, 0, width);
      const scale = torch.tensor(strengths.map((s) => g.tiltSigmaPx * s ** (5 / 6))).reshape(b, 1, 1, 1);
      return xy.mul(scale).contiguous();
    });
  }

  /** Warps `images` by pixel shifts [B, 2, H, W] with bilinear sampling (border values outside). */
  warp(images: Tensor, shifts: Tensor): Tensor {
    const [, , h, w] = images.shape;
    const g = this.geometry(h, w);
    return tidy(() => {
      const normalised = shifts.mul(torch.tensor([2 / w, 2 / h]).reshape(1, 2, 1, 1)).permute(0, 2, 3, 1);
      return torch.F.gridSample(images, g.baseGrid.add(normalised), { mode: 'bilinear', paddingMode: 'border' });
    });
  }

  /** Per-patch PSFs [B, G², k, k] (non-negative, unit sum) for D/r0 = strengths[b]. */
  psfs(strengths: readonly number[], height: number, width: number): Tensor {
    this.checkStrengths(strengths);
    // Kernels are sized for the configured maximum D/r0, or for stronger values passed here (in steps of 0.5).
    const ceiling = Math.max(this.config.strength[1], Math.ceil(2 * Math.max(0, ...strengths)) / 2);
    const { blur } = this.geometry(height, width, ceiling);
    const patches = this.config.patches ** 2;
    return tidy(() => {
      const b = strengths.length;
      const scale = torch.tensor(strengths.map((s) => s ** (5 / 6))).reshape(b, 1, 1);
      const coefficients = torch.randn([b, patches, MODE_COUNT]).matmul(this.covarianceRoot.t()).mul(scale);
      const box = blur.pupilBox;
      const phase = coefficients
        .slice(2, PHASE_OFFSET)
        .reshape(b * patches, MODE_COUNT - PHASE_OFFSET)
        .matmul(blur.modes)
        .reshape(b * patches, box, box);
      const field = torch.F.polar(blur.pupil.expand(b * patches, box, box), phase);
      // The far field at just the kernel's angles: a matrix Fourier transform A·f·Aᵀ (cheaper than a padded FFT).
      const far = blur.dft.matmul(field).matmul(blur.dft.t());
      const fine = far.abs().square().unsqueeze(1);
      const q = blur.oversample;
      const kernels = q > 1 ? torch.F.avgPool2d(fine, q) : fine;
      const normalised = kernels.div(kernels.sum([2, 3], true));
      return normalised.reshape(b, patches, blur.kernel, blur.kernel);
    });
  }

  /** Convolves each patch region with its PSF [B, G², k, k] and blends the regions with Gaussian windows. */
  convolve(images: Tensor, psfs: Tensor): Tensor {
    const [b, c, h, w] = images.shape;
    const { blur } = this.geometry(h, w);
    const g = this.config.patches;
    const k = psfs.shape[2];
    const r = (k - 1) / 2;
    const { tileH, tileW, overlapH, overlapW } = blur;
    const regionH = tileH + 2 * overlapH;
    const regionW = tileW + 2 * overlapW;
    return tidy(() => {
      const padded = torch.F.pad(
        images,
        [overlapW + r, g * tileW - w + overlapW + r, overlapH + r, g * tileH - h + overlapH + r],
        'replicate',
      );
      // Overlapping regions [B, G, G, C, regionH + 2r, regionW + 2r] as channels of one grouped convolution.
      const rows = torch.callOp('aten::unfold', [padded, 2, regionH + 2 * r, tileH]) as Tensor;
      const regions = torch.callOp('aten::unfold', [rows, 3, regionW + 2 * r, tileW]) as Tensor;
      const channels = regions.permute(0, 2, 3, 1, 4, 5).reshape(1, b * g * g * c, regionH + 2 * r, regionW + 2 * r);
      // conv2d correlates: flip the PSFs to convolve.
      const weights = psfs
        .flip(2, 3)
        .unsqueeze(2)
        .expand(b, g * g, c, k, k)
        .reshape(b * g * g * c, 1, k, k);
      const blurred = torch.F.conv2d(channels, weights, null, { groups: b * g * g * c }).mul(blur.window);
      const columns = blurred
        .reshape(b, g, g, c, regionH, regionW)
        .permute(0, 3, 4, 5, 1, 2)
        .reshape(b, c * regionH * regionW, g * g);
      const canvas = foldRegions(columns, g, tileH, tileW, overlapH, overlapW);
      return canvas
        .div(blur.windowSum)
        .slice(2, overlapH, overlapH + h)
        .slice(3, overlapW, overlapW + w);
    });
  }

  /** Frees the cached tensors. */
  dispose(): void {
    this.covarianceRoot.dispose();
    for (const g of this.geometries.values()) {
      for (const t of [g.tiltFilter, g.baseGrid, g.blur.modes, g.blur.pupil, g.blur.dft, g.blur.window, g.blur.windowSum]) t.dispose();
    }
    this.geometries.clear();
  }

  private checkStrengths(strengths: readonly number[], batch?: number): void {
    if (!Array.isArray(strengths)) throw new TypeError('Turbulence: strengths must be an array of D/r0 values');
    if (batch !== undefined && strengths.length !== batch) {
      throw new RangeError(`Turbulence: ${strengths.length} strengths for a batch of ${batch} images`);
    }
    strengths.forEach((s, i) => {
      checkNumber(s, `Turbulence: strengths[${i}] (D/r0)`, 0);
    });
  }

  private geometry(height: number, width: number, strengthCeiling = this.config.strength[1]): Geometry {
    checkPositiveInt(height, 'Turbulence: image height');
    checkPositiveInt(width, 'Turbulence: image width');
    const key = `${height}x${width}@${strengthCeiling}`;
    let g = this.geometries.get(key);
    if (!g) {
      g = this.buildGeometry(height, width, strengthCeiling);
      this.geometries.set(key, g);
    }
    return g;
  }

  private buildGeometry(height: number, width: number, strengthCeiling: number): Geometry {
    const { aperture, sceneWidth } = this.config;
    const diffractionPx = this.diffractionPx(width);
    // Separation of neighbouring pixels at the target, in aperture diameters.
    const separationPerPx = sceneWidth / width / aperture;
    const tiltPitch = Math.max(1, Math.floor(TILT_GRID_PITCH / separationPerPx));
    const tiltNodes: [number, number] = [Math.ceil((height - 1) / tiltPitch) + 1, Math.ceil((width - 1) / tiltPitch) + 1];
    const [mh, mw] = [2 * tiltNodes[0], 2 * tiltNodes[1]];
    const nodeSeparation = separationPerPx * tiltPitch;
    const table = tiltCorrelationTable(nodeSeparation * Math.hypot(...tiltNodes), 257, this.config.cacheFile ?? undefined);
    const correlation = new Float64Array(mh * mw);
    for (let y = 0; y < mh; y++) {
      const dy = Math.min(y, mh - y);
      for (let x = 0; x < mw; x++) correlation[y * mw + x] = tiltCorrelation(table, nodeSeparation * Math.hypot(dy, Math.min(x, mw - x)));
    }
    const tiltFilter = torch.keep(
      tidy(() => {
        const spectrum = torch.fft.fft2(torch.fromTypedArray(correlation, [mh, mw])).real();
        // The torus makes a few tiny negative eigenvalues; drop them.
        return torch.F.complex(spectrum.clampMin(0).sqrt(), torch.zeros([mh, mw], { dtype: 'float64' })).to('complex64');
      }),
    );
    const baseGrid = torch.keep(
      tidy(() =>
        torch.F.affineGrid(
          torch.tensor([
            [
              [1, 0, 0],
              [0, 1, 0],
            ],
          ]),
          [1, 1, height, width],
          false,
        ).contiguous(),
      ),
    );
    return {
      height,
      width,
      diffractionPx,
      tiltSigmaPx: this.tiltSigmaPx(width, 1),
      tiltPitch,
      tiltNodes,
      tiltFilter,
      baseGrid,
      blur: this.buildBlurGeometry(height, width, diffractionPx, strengthCeiling),
    };
  }

  private buildBlurGeometry(height: number, width: number, diffractionPx: number, maxStrength: number): BlurGeometry {
    // Oversample the PSF until λ/D spans ≥ 2 samples (Nyquist for |FFT|²), then pool back to pixels.
    const oversample = Math.max(1, Math.ceil(2 / diffractionPx));
    const kernel = 2 * Math.ceil(KERNEL_RADIUS_FACTOR * diffractionPx * Math.max(1, maxStrength)) + 1;
    const pupilBox = PUPIL_SAMPLES;
    const { modes, pupil } = zernikeGrid(FIRST_MODE + PHASE_OFFSET, MODE_COUNT - PHASE_OFFSET, pupilBox, pupilBox);
    // Pupil samples D/box apart give far-field angles (λ/D)·box/N per unit of frequency: N = q·(λ/D in px)·box
    // makes that 1/q pixel. Fine sample s of the kernel sits (s − (qk−1)/2)/q px from the optical axis, so the
    // centre of the middle pixel is on the axis.
    const period = oversample * diffractionPx * pupilBox;
    const fineCount = oversample * kernel;
    const dftRe = new Float32Array(fineCount * pupilBox);
    const dftIm = new Float32Array(fineCount * pupilBox);
    for (let s = 0; s < fineCount; s++) {
      for (let x = 0; x < pupilBox; x++) {
        const angle = (-2 * Math.PI * (s - (fineCount - 1) / 2) * (x - (pupilBox - 1) / 2)) / period;
        dftRe[s * pupilBox + x] = Math.cos(angle);
        dftIm[s * pupilBox + x] = Math.sin(angle);
      }
    }
    const dft = tidy(() =>
      torch.F.complex(torch.fromTypedArray(dftRe, [fineCount, pupilBox]), torch.fromTypedArray(dftIm, [fineCount, pupilBox])),
    );
    const g = this.config.patches;
    const tileH = Math.ceil(height / g);
    const tileW = Math.ceil(width / g);
    const overlapH = Math.ceil(OVERLAP * tileH);
    const overlapW = Math.ceil(OVERLAP * tileW);
    const window = tidy(() => {
      const axis = (tile: number, overlap: number) =>
        torch
          .arange(tile + 2 * overlap)
          .sub((tile + 2 * overlap - 1) / 2)
          .div(WINDOW_SIGMA * tile)
          .square()
          .mul(-0.5)
          .exp();
      return axis(tileH, overlapH).unsqueeze(1).mul(axis(tileW, overlapW).unsqueeze(0));
    });
    const windowSum = tidy(() => {
      const regionH = tileH + 2 * overlapH;
      const regionW = tileW + 2 * overlapW;
      const columns = window
        .reshape(1, regionH * regionW, 1)
        .expand(1, regionH * regionW, g * g)
        .contiguous();
      return foldRegions(columns, g, tileH, tileW, overlapH, overlapW);
    });
    return {
      oversample,
      kernel,
      pupilBox,
      modes: torch.keep(torch.fromTypedArray(modes, [MODE_COUNT - PHASE_OFFSET, pupilBox * pupilBox], { dtype: 'float32' })),
      pupil: torch.keep(torch.fromTypedArray(pupil, [pupilBox, pupilBox], { dtype: 'float32' })),
      dft: torch.keep(dft),
      tileH,
      tileW,
      overlapH,
      overlapW,
      window: torch.keep(window),
      windowSum: torch.keep(windowSum.reshape(1, 1, g * tileH + 2 * overlapH, g * tileW + 2 * overlapW)),
    };
  }
}
