// The approximate index for large galleries: usearch's HNSW (inner product on unit vectors = cosine).
// Chosen by bench/gallery-index.ts (README "Gallery search"): prebuilt binaries for linux-x64/arm64 and macOS
// (no compiler needed), typed-array input, real removal, multi-threaded bulk build.
import { createRequire } from 'node:module';
import type { ApproximateIndex } from './approximate-index.js';

interface UsearchIndex {
  add(keys: bigint | BigUint64Array, vectors: Float32Array, threads?: number): void;
  remove(keys: bigint): number;
  search(vector: Float32Array, k: number, threads?: number): { keys: BigUint64Array; distances: Float32Array };
  size(): number;
}

const require = createRequire(import.meta.url);

/** An HNSW index over `dim`-d unit vectors (M = 16, ef_construction = 128, ef_search = 64). */
export function usearchIndex(dim: number): ApproximateIndex {
  const { Index } = require('usearch') as { Index: new (config: object) => UsearchIndex };
  const index = new Index({ dimensions: dim, metric: 'ip', connectivity: 16, expansion_add: 128, expansion_search: 64 });
  return {
    add: (faceId, embedding) => index.add(BigInt(faceId), embedding),
    remove: (faceId) => {
      index.remove(BigInt(faceId));
    },
    search: (query, k) => {
      if (index.size() === 0) return { faceIds: [], scores: [] };
      const hits = index.search(query, Math.min(k, index.size()), 1);
      return { faceIds: Array.from(hits.keys, Number), scores: Array.from(hits.distances, (d) => 1 - d) };
    },
  };
}
