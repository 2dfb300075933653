// Degradations that turn high-quality faces into low-quality twins (SPEC §6). Images are [B, C, H, W] float32
// in [0, 1] (C = 1 or 3); convert model inputs in [-1, 1] with (x + 1) / 2 first.
export * from './adaface.js';
export { besselJ } from './bessel.js';
export * from './degrader.js';
export * from './jpeg.js';
export * from './kernels.js';
export * from './photometric.js';
export * from './resample.js';
export * from './rng.js';
export * from './tilt-correlation.js';
export * from './turbulence.js';
export * from './unconstrained.js';
export * from './zernike.js';
