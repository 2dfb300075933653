// The verification protocols of `catface demo` and `catface ablate` on a held-out image folder (synthetic
// identities, or aligned real photos): every genuine pair and as many seeded impostor pairs, scored on clean
// images, on their degraded twins (the training Degrader with a fixed seed), and clean gallery vs degraded
// probe. Every model of a comparison sees the same pairs, so differences can be bootstrapped pair by pair.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { pixelsToUnit, unitToBytes } from '../common/image-convention.js';
import { Prng } from '../common/prng.js';
import { type FaceSample, readImageBytes } from '../data/dataset.js';
import { decodeImage } from '../data/decode.js';
import { readImageFolder } from '../data/readers/image-folder.js';
import { Degrader } from '../degrade/degrader.js';
import { embedAll } from '../eval/embedding.js';
import { pairScores } from '../eval/pair-scores.js';
import { auc, type RocCurve, SortedScores, tarAtFar } from '../eval/roc.js';
import { tenFold } from '../eval/tenfold.js';
import { writeFileDurably } from '../io/durable.js';
import type { EmbeddingKind, FaceModel } from '../serve/face-model.js';
import type { Tensor } from '../torch/index.js';
import * as torch from '../torch/index.js';

export const PROTOCOLS = ['clean vs clean', 'degraded vs degraded', 'clean gallery vs degraded probe'] as const;
export type ProtocolName = (typeof PROTOCOLS)[number];

export interface Pairs {
  left: Int32Array;
  right: Int32Array;
  same: boolean[];
}

/** A held-out set ready to score: clean crops then their degraded twins (HWC uint8), and the pairs. */
export interface TestSet {
  size: number;
  samples: FaceSample[];
  /** crops[i] clean, crops[i + n] its degraded twin. */
  crops: Uint8Array[];
  n: number;
  identities: number;
  pairs: Pairs;
}

/** One embedding on one protocol. */
export interface ProtocolScore {
  protocol: ProtocolName;
  scores: Float32Array;
  /** Pairs with a non-finite score (a diverged model's NaN embedding): scored −2, below any cosine, i.e. rejected. */
  nonFinite: number;
  /** 10-fold accuracy, its spread over folds, and each pair's 0/1 correctness under its fold's threshold. */
  accuracy: number;
  std: number;
  correct: Uint8Array;
  auc: number;
  tarAt1e2: number | null;
  tarAt1e3: number | null;
  roc: RocCurve;
}

/** All genuine pairs (same identity) and as many seeded random impostor pairs, interleaved. */
export function makePairs(labels: number[], seed: number): Pairs {
  const left: number[] = [];
  const right: number[] = [];
  const same: boolean[] = [];
  for (let i = 0; i < labels.length; i++) {
    for (let j = i + 1; j < labels.length; j++) {
      if (labels[i] !== labels[j]) continue;
      left.push(i);
      right.push(j);
      same.push(true);
    }
  }
  const genuine = left.length;
  const prng = new Prng(seed);
  const seen = new Set<number>();
  while (left.length < 2 * genuine) {
    const i = prng.index(labels.length);
    const j = prng.index(labels.length);
    const key = Math.min(i, j) * labels.length + Math.max(i, j);
    if (labels[i] === labels[j] || seen.has(key)) continue;
    seen.add(key);
    left.push(i);
    right.push(j);
    same.push(false);
  }
  // interleave genuine and impostor pairs so the contiguous 10 folds each hold both
  const order = prng.shuffle([...left.keys()]);
  return { left: Int32Array.from(order, (k) => left[k]), right: Int32Array.from(order, (k) => right[k]), same: order.map((k) => same[k]) };
}

/** HWC uint8 crops → degraded HWC uint8 crops, through the training Degrader with a fixed seed. */
export async function degradeCrops(crops: Uint8Array[], size: number, seed: number): Promise<Uint8Array[]> {
  const degrader = new Degrader({ seed });
  const out: Uint8Array[] = [];
  try {
    for (let start = 0; start < crops.length; start += 64) {
      const chunk = crops.slice(start, start + 64);
      const unit = pixelsToUnit(chunk, size);
      const { hq, lq } = await degrader.degrade(unit);
      const bytes = unitToBytes(lq);
      torch.dispose([unit, hq, lq]);
      const stride = size * size * 3;
      for (let i = 0; i < chunk.length; i++) out.push(bytes.slice(i * stride, (i + 1) * stride));
    }
  } finally {
    degrader.dispose();
  }
  return out;
}

/** Where a cache of the decoded and degraded crops lives for this folder, size and seed (named by their stamp). */
function cacheFile(cacheDir: string, dir: string, samples: FaceSample[], size: number, seed: number): string {
  const stamp = samples.map((s) => {
    const stat = statSync(s.image.path);
    return `${s.image.path}:${stat.size}:${stat.mtimeMs}`;
  });
  const key = createHash('sha256')
    .update(JSON.stringify([resolve(dir), size, seed, stamp]))
    .digest('hex')
    .slice(0, 16);
  return join(cacheDir, `test-crops-${key}.bin`);
}

/**
 * Reads `dir` (identity folders; attributes.csv read when `attributes` are named), decodes, degrades, pairs. With
 * `cacheDir`, the clean and degraded crops are kept there (one file per folder state, size and seed), so the runs
 * of a study decode and degrade the held-out set once.
 */
export async function loadTestSet(
  dir: string,
  size: number,
  seed: number,
  attributes: readonly string[] = [],
  cacheDir: string | null = null,
): Promise<TestSet> {
  const dataset = readImageFolder(dir, attributes.length > 0 ? { attributes: [...attributes] } : {});
  const n = dataset.samples.length;
  const stride = size * size * 3;
  const cache = cacheDir ? cacheFile(cacheDir, dir, dataset.samples, size, seed) : null;
  let crops: Uint8Array[];
  if (cache && existsSync(cache) && statSync(cache).size === 2 * n * stride) {
    const bytes = readFileSync(cache);
    crops = Array.from({ length: 2 * n }, (_, i) => new Uint8Array(bytes.buffer, bytes.byteOffset + i * stride, stride));
  } else {
    const clean = await Promise.all(
      dataset.samples.map((s) =>
        decodeImage(readImageBytes(s.image), s.image.kind === 'file' ? s.image.path : dir, { height: size, width: size }),
      ),
    );
    crops = [...clean, ...(await degradeCrops(clean, size, seed))];
    if (cache) {
      mkdirSync(dirname(cache), { recursive: true });
      writeFileDurably(cache, Buffer.concat(crops));
    }
  }
  const pairs = makePairs(
    dataset.samples.map((s) => s.label),
    seed,
  );
  if (pairs.same.length === 0) throw new Error(`${dir}: no identity has two images, so there are no genuine pairs to verify`);
  return { size, samples: dataset.samples, crops, n, identities: dataset.classes.length, pairs };
}

/** The crop indices of a protocol's pairs. */
function protocolPairs(test: TestSet, protocol: ProtocolName): { left: Int32Array; right: Int32Array } {
  const { left, right } = test.pairs;
  const shift = (a: Int32Array) => a.map((i) => i + test.n);
  if (protocol === 'clean vs clean') return { left, right };
  if (protocol === 'degraded vs degraded') return { left: shift(left), right: shift(right) };
  return { left, right: shift(right) };
}

/** Scores one embedding of `model` on every protocol (flip-fused embeddings, cosine scores). */
export async function scoreProtocols(model: FaceModel, kind: EmbeddingKind, test: TestSet): Promise<ProtocolScore[]> {
  const features: Tensor = await embedAll(model.embedder(kind), test.crops.length, async (i) => test.crops[i], { fusion: 'sum' });
  try {
    return PROTOCOLS.map((protocol) => {
      const { left, right } = protocolPairs(test, protocol);
      const raw = pairScores(features, left, right);
      const scores = raw.map((v) => (Number.isFinite(v) ? v : -2));
      const nonFinite = raw.reduce((count, v) => count + (Number.isFinite(v) ? 0 : 1), 0);
      const folds = tenFold(scores, test.pairs.same);
      const roc = new SortedScores(scores, test.pairs.same).roc();
      const [t2, t3] = tarAtFar(roc, [1e-2, 1e-3]);
      return {
        protocol,
        scores,
        nonFinite,
        accuracy: folds.accuracy,
        std: folds.std,
        correct: folds.correct,
        auc: auc(roc),
        tarAt1e2: t2.tar,
        tarAt1e3: t3.tar,
        roc,
      };
    });
  } finally {
    features.dispose();
  }
}
