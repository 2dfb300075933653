// $CATFACE_THREADS, read by the addon when it loads (native/addon.cc): checked here first, because the addon's
// atoi() would take junk as "all cores" and a huge value would start hundreds of threads.

/** The documented range of $CATFACE_THREADS (libtorch intra-op threads). */
export const THREADS_RANGE = { min: 1, max: 256 } as const;

/** Why $CATFACE_THREADS is unusable, or null when it is unset or a valid count. */
export function threadsEnvProblem(value = process.env.CATFACE_THREADS): string | null {
  if (value === undefined) return null;
  const n = /^\s*\d+\s*$/.test(value) ? Number(value) : Number.NaN;
  if (Number.isInteger(n) && n >= THREADS_RANGE.min && n <= THREADS_RANGE.max) return null;
  return `CATFACE_THREADS must be an integer in ${THREADS_RANGE.min}–${THREADS_RANGE.max} (libtorch intra-op threads), got '${value}'; unset it to use every core`;
}
