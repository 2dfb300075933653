// Which approximate index a large gallery should use, by measurement: recall@10 against exact search (the
// engine matmul + topk the gallery runs by default) and ms per single query, plus build time, for every
// candidate npm package that loads here. Data: unit vectors clustered like face embeddings (5 per
// identity around a centre, within-identity cosine ≈ 0.6); queries are fresh samples of enrolled identities.
//
//   node dist/bench/gallery-index.js --sizes 100000 --dims 128,512 [--queries 200] [--candidates DIR]
//
// --candidates: an extra node_modules folder to load candidates from (they need not be project dependencies).
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as torch from '../src/torch/index.js';
import { median } from './common.js';

interface Candidate {
  name: string;
  build(data: Float32Array, n: number, dim: number): unknown;
  search(index: unknown, query: Float32Array, k: number): number[];
}

// The slices of each package's API this benchmark calls.
interface Usearch {
  add(keys: BigUint64Array, vectors: Float32Array, threads: number): void;
  search(query: Float32Array, k: number, threads: number): { keys: BigUint64Array };
}
interface Hnswlib {
  initIndex(n: number, m: number, efConstruction: number): void;
  addPoint(point: number[], label: number): void;
  setEf(ef: number): void;
  searchKnn(query: number[], k: number): { neighbors: number[] };
}

function gaussian(state: { s: number }): number {
  const u = () => {
    state.s ^= state.s << 13;
    state.s ^= state.s >>> 17;
    state.s ^= state.s << 5;
    return ((state.s >>> 0) + 0.5) / 2 ** 32;
  };
  return Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
}

function normalise(v: Float32Array, at: number, dim: number): void {
  let s = 0;
  for (let j = 0; j < dim; j++) s += v[at + j] ** 2;
  const inv = 1 / Math.sqrt(s);
  for (let j = 0; j < dim; j++) v[at + j] *= inv;
}

/** n clustered unit vectors (5 per centre) and q queries near random centres. */
function dataset(n: number, dim: number, q: number): { data: Float32Array; queries: Float32Array } {
  const state = { s: 12345 };
  const centres = Math.ceil(n / 5);
  const centre = new Float32Array(centres * dim);
  for (let i = 0; i < centre.length; i++) centre[i] = gaussian(state);
  for (let c = 0; c < centres; c++) normalise(centre, c * dim, dim);
  const noise = 0.8 / Math.sqrt(dim); // ‖noise‖ ≈ 0.8 → within-identity cosine ≈ 0.6
  const sample = (out: Float32Array, at: number, c: number) => {
    for (let j = 0; j < dim; j++) out[at + j] = centre[c * dim + j] + noise * gaussian(state);
    normalise(out, at, dim);
  };
  const data = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) sample(data, i * dim, Math.floor(i / 5));
  const queries = new Float32Array(q * dim);
  for (let i = 0; i < q; i++) sample(queries, i * dim, Math.floor(((state.s >>> 0) / 2 ** 32) * centres) % centres);
  return { data, queries };
}

function loadCandidates(extra: string | undefined): Candidate[] {
  const requires = [createRequire(import.meta.url), ...(extra ? [createRequire(join(extra, 'noop.js'))] : [])];
  const load = (name: string): unknown => {
    for (const r of requires) {
      try {
        return r(name);
      } catch {}
    }
    console.log(`${name}: not installed here, skipped`);
    return null;
  };
  const out: Candidate[] = [];
  const usearch = load('usearch') as { Index: new (c: object) => Usearch } | null;
  if (usearch)
    out.push({
      name: 'usearch (HNSW, M=16, ef_add=128, ef=64)',
      build(data, n, dim) {
        const index = new usearch.Index({ dimensions: dim, metric: 'ip', connectivity: 16, expansion_add: 128, expansion_search: 64 });
        const keys = BigUint64Array.from({ length: n }, (_, i) => BigInt(i));
        index.add(keys, data, 0);
        return index;
      },
      search(index, query, k) {
        return Array.from((index as Usearch).search(query, k, 1).keys, Number);
      },
    });
  const hnsw = load('hnswlib-node') as { HierarchicalNSW: new (space: string, dim: number) => Hnswlib } | null;
  if (hnsw)
    out.push({
      name: 'hnswlib-node (M=16, efConstruction=128, ef=64)',
      build(data, n, dim) {
        const index = new hnsw.HierarchicalNSW('ip', dim);
        index.initIndex(n, 16, 128);
        for (let i = 0; i < n; i++) index.addPoint(Array.from(data.subarray(i * dim, (i + 1) * dim)), i);
        index.setEf(64);
        return index;
      },
      search(index, query, k) {
        return (index as Hnswlib).searchKnn(Array.from(query), k).neighbors;
      },
    });
  if (load('faiss-node')) console.log('faiss-node: loaded, but this benchmark has no adapter for it yet: skipped');
  return out;
}

function main(): void {
  const { values } = parseArgs({
    options: {
      sizes: { type: 'string', default: '100000' },
      dims: { type: 'string', default: '128,512' },
      queries: { type: 'string', default: '200' },
      candidates: { type: 'string' },
    },
  });
  const sizes = values.sizes.split(',').map(Number);
  const dims = values.dims.split(',').map(Number);
  const q = Number(values.queries);
  const k = 10;
  const candidates = loadCandidates(values.candidates);
  const results: Record<string, unknown>[] = [];
  for (const n of sizes)
    for (const dim of dims) {
      const { data, queries } = dataset(n, dim, q);
      const gallery = torch.keep(torch.fromTypedArray(data, [n, dim]));
      const truth: number[][] = [];
      const exactMs: number[] = [];
      for (let i = 0; i < q; i++) {
        const t0 = performance.now();
        const ids = torch.tidy(() => {
          const query = torch.fromTypedArray(queries.subarray(i * dim, (i + 1) * dim));
          return Array.from(gallery.matmul(query).topk(k)[1].to('int32').dataSync() as Int32Array);
        });
        exactMs.push(performance.now() - t0);
        truth.push(ids);
      }
      const exact = { n, dim, index: 'exact (engine matmul + topk)', buildS: 0, recallAt10: 1, msPerQuery: median(exactMs) };
      console.log(JSON.stringify(exact));
      results.push(exact);
      for (const c of candidates) {
        const t0 = performance.now();
        const index = c.build(data, n, dim);
        const buildS = (performance.now() - t0) / 1000;
        const ms: number[] = [];
        let hits = 0;
        for (let i = 0; i < q; i++) {
          const t1 = performance.now();
          const ids = c.search(index, queries.subarray(i * dim, (i + 1) * dim), k);
          ms.push(performance.now() - t1);
          const want = new Set(truth[i]);
          hits += ids.filter((id) => want.has(id)).length;
        }
        const row = { n, dim, index: c.name, buildS, recallAt10: hits / (q * k), msPerQuery: median(ms) };
        console.log(JSON.stringify(row));
        results.push(row);
      }
      torch.unkeep(gallery).dispose();
    }
  console.log(`RESULT ${JSON.stringify(results)}`);
}

main();
