// What the protocols need from a face model: unit embeddings of aligned crops. Our models (through the
// inference API) and the face-api.js peer both satisfy `Embedder`, so every protocol scores both the same
// way. Flip test-time augmentation embeds each crop and its mirror image and fuses the two (SPEC §8).
import type { Tensor } from '../torch/index.js';
import * as torch from '../torch/index.js';

export interface EmbedOutput {
  /** [B, D] row-major features (unit length or not: the fusion normalises). */
  embeddings: Float32Array;
  dim: number;
  /** [B] feature norms ‖f‖ before normalisation (AdaFace's quality), needed by 'norm-weighted' fusion. */
  norms?: Float32Array;
}

export interface Embedder {
  /** A short name for reports and caches, e.g. 'catface-ir18' or 'faceapi'. */
  readonly name: string;
  /** Side of the square aligned crops `embed` takes. */
  readonly imageSize: number;
  /** What else the embeddings depend on (e.g. the weights file's stamp), so caches notice a changed model. */
  readonly fingerprint?: string;
  /** Embeds aligned crops, each imageSize × imageSize × 3 uint8 RGB (HWC). */
  embed(crops: Uint8Array[]): Promise<EmbedOutput> | EmbedOutput;
}

/**
 * How a crop and its mirror image combine: 'none' uses the crop alone; 'sum' adds the two unit embeddings
 * and re-normalises; 'norm-weighted' weights each unit embedding by its feature norm before adding
 * (equivalently, adds the raw features), so the more confident view counts more.
 */
export type FlipFusion = 'none' | 'sum' | 'norm-weighted';

/** Mirrors an H×W×3 HWC crop left–right. */
export function flipCrop(crop: Uint8Array, size: number): Uint8Array {
  const out = new Uint8Array(crop.length);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const from = (y * size + x) * 3;
      const to = (y * size + (size - 1 - x)) * 3;
      out[to] = crop[from];
      out[to + 1] = crop[from + 1];
      out[to + 2] = crop[from + 2];
    }
  }
  return out;
}

/** Fuses embeddings of crops [B, D] and their mirrors into unit rows (a new tensor). */
export function fuseFlips(plain: EmbedOutput, flipped: EmbedOutput | null, fusion: FlipFusion): Tensor {
  const rows = plain.embeddings.length / plain.dim;
  return torch.tidy(() => {
    const a = torch.F.normalize(torch.fromTypedArray(plain.embeddings, [rows, plain.dim]), 2, 1);
    if (fusion === 'none' || flipped === null) return a;
    const b = torch.F.normalize(torch.fromTypedArray(flipped.embeddings, [rows, flipped.dim]), 2, 1);
    if (fusion === 'sum') return torch.F.normalize(a.add(b), 2, 1);
    if (!plain.norms || !flipped.norms) throw new Error("flip fusion 'norm-weighted' needs feature norms, and this embedder gives none");
    const na = torch.fromTypedArray(plain.norms).unsqueeze(1);
    const nb = torch.fromTypedArray(flipped.norms).unsqueeze(1);
    return torch.F.normalize(a.mul(na).add(b.mul(nb)), 2, 1);
  });
}

export interface EmbedAllOptions {
  fusion?: FlipFusion;
  /** Crops per embed call (default 64). */
  batchSize?: number;
  /** Called after each batch with the number of crops done. */
  onProgress?: (done: number, total: number) => void;
}

/**
 * Embeds `count` crops fetched by `crop(i)` (decoded lazily, one batch in memory at a time) into a
 * [count, D] tensor of unit rows. The caller owns (and disposes) the result.
 */
export async function embedAll(
  embedder: Embedder,
  count: number,
  crop: (index: number) => Promise<Uint8Array>,
  options: EmbedAllOptions = {},
): Promise<Tensor> {
  const fusion = options.fusion ?? 'sum';
  const batchSize = options.batchSize ?? 64;
  const parts: Tensor[] = [];
  try {
    for (let start = 0; start < count; start += batchSize) {
      const indices = Array.from({ length: Math.min(batchSize, count - start) }, (_, i) => start + i);
      const crops = await Promise.all(indices.map(crop));
      crops.forEach((c, i) => {
        const expected = embedder.imageSize * embedder.imageSize * 3;
        if (c.length !== expected) throw new RangeError(`embedAll: crop ${indices[i]} has ${c.length} bytes, expected ${expected}`);
      });
      const plain = await embedder.embed(crops);
      const flipped = fusion === 'none' ? null : await embedder.embed(crops.map((c) => flipCrop(c, embedder.imageSize)));
      parts.push(torch.keep(fuseFlips(plain, flipped, fusion)));
      options.onProgress?.(start + indices.length, count);
    }
    if (parts.length === 0) throw new RangeError('embedAll: no crops to embed');
    return torch.tidy(() => torch.cat(parts, 0));
  } finally {
    torch.dispose(parts);
  }
}
