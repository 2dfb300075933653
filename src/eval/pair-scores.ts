// Scores for lists of (left, right) row pairs of a feature matrix, on the engine. Pairs are grouped by their
// left row (a counting sort); each block of left rows is multiplied with the right rows its pairs use in one
// float32 matmul and the needed entries are taken out. Dense BLAS beats gathering two 512-d rows per pair by
// far (IJB-C: 15.6 M template pairs), and memory stays bounded by the block.
import * as torch from '../torch/index.js';

/** Cosine = dot product of unit rows; squared-distance is returned negated, so higher is always "more alike". */
export type PairMetric = 'cosine' | 'negative-squared-distance';

export interface PairScoreOptions {
  metric?: PairMetric;
  /** Upper bound on the entries of one block's score matrix (default 2^25: 128 MB of float32). */
  blockEntries?: number;
}

/** L2-normalises the rows of a [N, D] feature tensor (a new tensor). */
export function normalizeRows(features: torch.Tensor): torch.Tensor {
  return torch.F.normalize(features, 2, 1);
}

function checkIndices(name: string, idx: Int32Array, rows: number): void {
  for (let i = 0; i < idx.length; i++) {
    if (!(idx[i] >= 0 && idx[i] < rows)) throw new RangeError(`pairScores: ${name}[${i}] = ${idx[i]} is outside the ${rows} feature rows`);
  }
}

// A dense block costs rows × columns dot products, gathering costs two row copies and a dot per pair. Measured
// here (512-d, 2 threads): one gathered pair costs about as much as 500 matmul entries.
const denseAdvantage = 512;
const gatherChunk = 65536;

function denseBlock(features: torch.Tensor, blockRows: number[], blockColumns: number[], take: Int32Array): Float32Array {
  return torch.tidy(() => {
    const a = features.indexSelect(0, torch.fromTypedArray(Int32Array.from(blockRows)));
    const b = features.indexSelect(0, torch.fromTypedArray(Int32Array.from(blockColumns)));
    const picked = torch.callOp('aten::take', [a.mm(b.t()), torch.fromTypedArray(take).long()]) as torch.Tensor;
    return picked.float().dataSync() as Float32Array;
  });
}

type RowScore = (a: torch.Tensor, b: torch.Tensor) => torch.Tensor;
const dotOfRows: RowScore = (a, b) => a.mul(b).sum(1);
const negativeSquaredDistance: RowScore = (a, b) => a.sub(b).square().sum(1).neg();

function gatheredScores(features: torch.Tensor, left: Int32Array, right: Int32Array, score: RowScore): Float32Array {
  const out = new Float32Array(left.length);
  for (let start = 0; start < left.length; start += gatherChunk) {
    const end = Math.min(left.length, start + gatherChunk);
    const part = torch.tidy(() => {
      const a = features.indexSelect(0, torch.fromTypedArray(left.subarray(start, end)));
      const b = features.indexSelect(0, torch.fromTypedArray(right.subarray(start, end)));
      return score(a, b).float().dataSync() as Float32Array;
    });
    out.set(part, start);
  }
  return out;
}

/**
 * Scores of row pairs `left[i]`, `right[i]` of `features` [N, D] (float32). With 'cosine' the rows must
 * already be unit length (the score is their dot product).
 */
export function pairScores(
  features: torch.Tensor,
  pairLeft: Int32Array,
  pairRight: Int32Array,
  options: PairScoreOptions = {},
): Float32Array {
  if (features.ndim !== 2) throw new RangeError(`pairScores: features must be [N, D], got [${features.shape}]`);
  if (pairLeft.length !== pairRight.length) {
    throw new RangeError(`pairScores: ${pairLeft.length} left indices but ${pairRight.length} right indices`);
  }
  const rows = features.shape[0];
  checkIndices('left', pairLeft, rows);
  checkIndices('right', pairRight, rows);
  // Both scores are symmetric: ordering each pair (lower row first) means a block of left rows only needs
  // the columns at or after its first row — half of the matrix for pairs drawn at random.
  const left = Int32Array.from(pairLeft, (l, i) => Math.min(l, pairRight[i]));
  const right = Int32Array.from(pairRight, (r, i) => Math.max(r, pairLeft[i]));
  const metric = options.metric ?? 'cosine';
  const pairs = left.length;
  const out = new Float32Array(pairs);
  if (pairs === 0) return out;
  // Distances from the differences themselves: |a|² + |b|² − 2a·b cancels for close rows (a face and its
  // mirror under flip fusion came out at ±1e-7, some "squared distances" negative).
  if (metric !== 'cosine') return gatheredScores(features, left, right, negativeSquaredDistance);

  // Counting sort of the pairs by left row; the right rows are copied into that order once, so every later
  // pass reads memory sequentially (random access into 15 M-entry arrays costs more than the matmul).
  const firstPair = new Int32Array(rows + 1);
  for (let i = 0; i < pairs; i++) firstPair[left[i] + 1]++;
  for (let r = 0; r < rows; r++) firstPair[r + 1] += firstPair[r];
  const byLeft = new Int32Array(pairs);
  const fill = firstPair.slice(0, rows);
  for (let i = 0; i < pairs; i++) byLeft[fill[left[i]]++] = i;
  const sortedRight = new Int32Array(pairs);
  for (let k = 0; k < pairs; k++) sortedRight[k] = right[byLeft[k]];

  const columnOf = new Int32Array(rows).fill(-1);
  const maxEntries = options.blockEntries ?? 1 << 25;
  let row = 0;
  while (row < rows) {
    // Grow the block of left rows while its (left rows × distinct right rows) matrix fits.
    const blockRows: number[] = [];
    const blockColumns: number[] = [];
    let end = row;
    for (; end < rows; end++) {
      const from = firstPair[end];
      const to = firstPair[end + 1];
      if (from === to) continue;
      let added = 0;
      for (let k = from; k < to; k++) if (columnOf[sortedRight[k]] < 0) added++;
      if (blockRows.length > 0 && (blockRows.length + 1) * (blockColumns.length + added) > maxEntries) break;
      blockRows.push(end);
      for (let k = from; k < to; k++) {
        const r = sortedRight[k];
        if (columnOf[r] < 0) {
          columnOf[r] = blockColumns.length;
          blockColumns.push(r);
        }
      }
    }
    if (blockRows.length > 0) {
      // The block's pairs are one contiguous run [first, last) of the sorted order.
      const first = firstPair[row];
      const last = firstPair[end];
      const width = blockColumns.length;
      const leftOf = new Int32Array(last - first);
      blockRows.forEach((r, position) => {
        leftOf.fill(position, firstPair[r] - first, firstPair[r + 1] - first);
      });
      let dots: Float32Array;
      if ((last - first) * denseAdvantage >= blockRows.length * width) {
        const take = new Int32Array(last - first);
        for (let k = first; k < last; k++) take[k - first] = leftOf[k - first] * width + columnOf[sortedRight[k]];
        dots = denseBlock(features, blockRows, blockColumns, take);
      } else {
        // Sparse block (few pairs for the matrix it spans): gather the row pairs instead.
        const lefts = Int32Array.from(leftOf, (position) => blockRows[position]);
        dots = gatheredScores(features, lefts, sortedRight.subarray(first, last), dotOfRows);
      }
      for (let k = first; k < last; k++) out[byLeft[k]] = dots[k - first];
      for (const c of blockColumns) columnOf[c] = -1;
    }
    row = end;
  }
  return out;
}
