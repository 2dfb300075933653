// Bounded concurrency: at most `limit` calls of `fn` in flight, so generating or loading N items holds
// `limit` of them in memory, not N.

/** Calls `fn` on every item with at most `limit` calls pending at once; rejects with the first failure. */
export async function forEachBounded<T>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<void>): Promise<void> {
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`forEachBounded: limit must be a positive integer, got ${limit}`);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      await fn(items[index], index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
}
