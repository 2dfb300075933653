// Process-wide settings: random generator, threads, devices, versions.
import { addon } from './native.js';

/** Seeds the default generator (CPU, and CUDA when present). */
export function manualSeed(seed: number): void {
  addon.manualSeed(seed);
}

/** The default CPU generator's full state; `setRngState` restores it exactly (for resumable runs). */
export function getRngState(): Uint8Array {
  return new Uint8Array(addon.getRngState());
}

export function setRngState(state: Uint8Array): void {
  addon.setRngState(state);
}

/** Intra-op threads of libtorch (set to every core at load, or to $CATFACE_THREADS). */
export function setNumThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`setNumThreads: need a positive integer, got ${n}`);
  addon.setNumThreads(n);
}

export function getNumThreads(): number {
  return addon.getNumThreads();
}

export function cudaAvailable(): boolean {
  return addon.cudaAvailable();
}

export function cudaDeviceCount(): number {
  return addon.cudaDeviceCount();
}

/** libtorch's version and parallel build summary. */
export function buildInfo(): { torch: string; parallel: string } {
  return { torch: addon.torchVersion, parallel: addon.parallelInfo() };
}

/**
 * Bytes of tensor storage that live JS tensors hold, each storage counted once (views, in-place results and
 * grad handles share it). V8 is told the same amount, so that it collects forgotten handles sooner.
 */
export function externalBytes(): number {
  return addon.externalBytes();
}

/** Tensors JS holds in this thread (handles not yet disposed or collected); for leak tests. */
export function liveTensorCount(): number {
  return addon.liveHandles();
}
