// 1:N identification (TinyFace style): probes are searched in a gallery that may hold distractors (images
// of identities no probe has). Closed-set: the CMC curve, rank-k = share of mated probes whose first
// gallery image of their identity is among the k best scores. Open-set: DIR at FAR, the threshold set on
// the best scores of non-mated probes (NIST's definition).
import * as torch from '../torch/index.js';

export interface SearchResult {
  /** Probes × k best cosine scores, best first (row-major). */
  scores: Float32Array;
  /** Probes × k gallery row indices matching `scores`. */
  indices: Int32Array;
  k: number;
  /** Set by leaveOneOutSearch: probe i is gallery row i, left out of its own search. */
  leaveOneOut?: boolean;
}

export interface SearchOptions {
  /** Number of best gallery entries kept per probe (default 20, capped at the gallery size). */
  k?: number;
  /** Probes per matmul (default 64: a 64 × 1 M score block is 256 MB). */
  chunk?: number;
}

/** The k best gallery rows for each probe by dot product of unit features [P, D] · [G, D]ᵀ (float32 matmul + topk). */
export function search(gallery: torch.Tensor, probes: torch.Tensor, options: SearchOptions = {}): SearchResult {
  if (gallery.ndim !== 2 || probes.ndim !== 2 || gallery.shape[1] !== probes.shape[1]) {
    throw new RangeError(`search: gallery [${gallery.shape}] and probes [${probes.shape}] must be [G, D] and [P, D]`);
  }
  const k = Math.min(options.k ?? 20, gallery.shape[0]);
  const chunk = options.chunk ?? 64;
  const p = probes.shape[0];
  const scores = new Float32Array(p * k);
  const indices = new Int32Array(p * k);
  for (let start = 0; start < p; start += chunk) {
    const rows = Math.min(chunk, p - start);
    torch.tidy(() => {
      const block = probes.narrow(0, start, rows).mm(gallery.t());
      const [values, where] = block.topk(k, 1, true, true);
      scores.set(values.dataSync() as Float32Array, start * k);
      indices.set(where.to('int32').dataSync() as Int32Array, start * k);
    });
  }
  return { scores, indices, k };
}

export interface ClosedSetResult {
  /** CMC[r−1] = share of mated probes identified within rank r, for r = 1 … k. */
  cmc: Float64Array;
  /** Rank of each mated probe's first correct gallery entry (1-based; k+1 when beyond the searched k). */
  ranks: Int32Array;
  /** Row indices (into the probe list) of the mated probes, in the order of `ranks`. */
  matedProbes: Int32Array;
}

/** Identities a probe can find: any gallery label, or with leave-one-out only those with a second image. */
function labelsInGallery(result: SearchResult, galleryLabels: ArrayLike<number>): Set<number> {
  if (!result.leaveOneOut) return new Set(Array.from(galleryLabels));
  const seen = new Set<number>();
  const twice = new Set<number>();
  for (const label of Array.from(galleryLabels)) (seen.has(label) ? twice : seen).add(label);
  return twice;
}

/** Closed-set CMC over the mated probes (probes whose identity has at least one gallery image). */
export function closedSet(result: SearchResult, galleryLabels: ArrayLike<number>, probeLabels: ArrayLike<number>): ClosedSetResult {
  const { k, indices } = result;
  const present = labelsInGallery(result, galleryLabels);
  const ranks: number[] = [];
  const mated: number[] = [];
  for (let i = 0; i < probeLabels.length; i++) {
    if (!present.has(probeLabels[i])) continue;
    let rank = k + 1;
    for (let r = 0; r < k; r++) {
      if (galleryLabels[indices[i * k + r]] === probeLabels[i]) {
        rank = r + 1;
        break;
      }
    }
    ranks.push(rank);
    mated.push(i);
  }
  if (ranks.length === 0) throw new RangeError('closedSet: no probe has its identity in the gallery');
  const cmc = new Float64Array(k);
  for (const rank of ranks) if (rank <= k) cmc[rank - 1]++;
  for (let r = 1; r < k; r++) cmc[r] += cmc[r - 1];
  for (let r = 0; r < k; r++) cmc[r] /= ranks.length;
  return { cmc, ranks: Int32Array.from(ranks), matedProbes: Int32Array.from(mated) };
}

export interface DirAtFar {
  far: number;
  /** null where the non-mated probe count cannot support this FAR. */
  dir: number | null;
  threshold: number | null;
}

/**
 * Open-set detection-and-identification rate: at the threshold that lets at most FAR of the non-mated probes'
 * best scores pass, the share of mated probes whose best gallery entry is their identity and passes.
 */
export function openSet(
  result: SearchResult,
  galleryLabels: ArrayLike<number>,
  probeLabels: ArrayLike<number>,
  fars: readonly number[],
): DirAtFar[] {
  const { k, indices, scores } = result;
  const present = labelsInGallery(result, galleryLabels);
  const nonMated: number[] = [];
  const matedHits: number[] = [];
  let matedCount = 0;
  for (let i = 0; i < probeLabels.length; i++) {
    const best = scores[i * k];
    if (!present.has(probeLabels[i])) nonMated.push(best);
    else {
      matedCount++;
      if (galleryLabels[indices[i * k]] === probeLabels[i]) matedHits.push(best);
    }
  }
  if (matedCount === 0) throw new RangeError('openSet: no mated probes (no probe identity is in the gallery)');
  nonMated.sort((a, b) => b - a);
  return fars.map((far) => {
    if (!(far > 0 && far <= 1)) throw new RangeError(`openSet: FAR must be in (0, 1], got ${far}`);
    if (nonMated.length * far < 1 - 1e-9) return { far, dir: null, threshold: null };
    // Accept when score > threshold: at most floor(FAR · n) non-mated best scores lie strictly above it.
    const allowed = Math.floor(nonMated.length * far + 1e-9);
    const threshold = allowed >= nonMated.length ? Number.NEGATIVE_INFINITY : nonMated[allowed];
    const detected = matedHits.filter((s) => s > threshold).length;
    return { far, dir: detected / matedCount, threshold };
  });
}

export interface GalleryProbeSplit {
  /** Row indices of the gallery entries. */
  gallery: Int32Array;
  /** Row indices of the probes. */
  probes: Int32Array;
}

/**
 * The image-folder identification protocol: for each identity, its first `perIdentity` images (in dataset
 * order) form the gallery and the rest are probes. Identities with no image left over give no probe.
 */
export function firstImagesAsGallery(labels: ArrayLike<number>, perIdentity = 1): GalleryProbeSplit {
  if (!Number.isInteger(perIdentity) || perIdentity < 1)
    throw new RangeError(`firstImagesAsGallery: perIdentity must be ≥ 1, got ${perIdentity}`);
  const seen = new Map<number, number>();
  const gallery: number[] = [];
  const probes: number[] = [];
  for (let i = 0; i < labels.length; i++) {
    const count = seen.get(labels[i]) ?? 0;
    seen.set(labels[i], count + 1);
    (count < perIdentity ? gallery : probes).push(i);
  }
  return { gallery: Int32Array.from(gallery), probes: Int32Array.from(probes) };
}

/**
 * Leave-one-out: each image is a probe against every other image. Searches the set against itself for k+1
 * and drops each probe's own row, giving a k-wide result.
 */
export function leaveOneOutSearch(features: torch.Tensor, options: SearchOptions = {}): SearchResult {
  const n = features.shape[0];
  const k = Math.min(options.k ?? 20, n - 1);
  if (k < 1) throw new RangeError('leaveOneOutSearch: needs at least 2 images');
  const wide = search(features, features, { ...options, k: k + 1 });
  const scores = new Float32Array(n * k);
  const indices = new Int32Array(n * k);
  for (let i = 0; i < n; i++) {
    let out = 0;
    for (let r = 0; r < k + 1 && out < k; r++) {
      const g = wide.indices[i * (k + 1) + r];
      if (g === i) continue;
      scores[i * k + out] = wide.scores[i * (k + 1) + r];
      indices[i * k + out++] = g;
    }
  }
  return { scores, indices, k, leaveOneOut: true };
}
