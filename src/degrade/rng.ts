// Seeded randomness for degradations. Scalar parameters (strengths, orders, JPEG qualities) come from the
// project's PRNG (common/prng.ts), so a Degrader's draws never depend on anything else in the process. Noise
// fields come from libtorch's generator, reseeded from that stream for each synchronous block and restored
// afterwards (`withTorchSeed`), so other users of the global torch generator are left undisturbed.
import { getRngState, manualSeed, setRngState } from '../torch/index.js';

/**
 * Runs `fn` (synchronous) with libtorch's default generator seeded to `seed`, then restores the generator's
 * previous state, so torch draws inside are reproducible and invisible to everyone else.
 */
export function withTorchSeed<T>(seed: number, fn: () => T): T {
  const saved = getRngState();
  manualSeed(seed);
  try {
    return fn();
  } finally {
    setRngState(saved);
  }
}
