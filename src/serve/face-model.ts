// The inference API on a saved model directory: `embed`, `verify`, `attributes` and `quality` (the FR
// feature norm, AdaFace's quality proxy) on aligned face images (file paths or encoded bytes, decoded off the
// main thread by sharp) or on aligned, normalised tensors [B, 3, S, S].
//
// The network runs synchronously on the calling thread (libtorch uses its own intra-op threads). In a server,
// use `FaceModelWorker` (face-model-worker.ts): the same API with the forward passes in a child process, so
// the event loop keeps answering requests.

import { readFile } from 'node:fs/promises';
import { pixelsToNormalized } from '../common/image-convention.js';
import { decodeImage } from '../data/decode.js';
import { catfaceEmbedder } from '../eval/catface-embedder.js';
import type { Embedder } from '../eval/embedding.js';
import type { CATFace, CATFaceInference, EmbeddingKind } from '../models/catface.js';
import { type FaceAlignment, type ModelSpec, modelAlignment, readModelDir } from '../models/model-dir.js';
import type { Tensor } from '../torch/index.js';
import * as torch from '../torch/index.js';

export type { EmbeddingKind } from '../models/catface.js';

/** An aligned face crop: a file path or the encoded image bytes (JPEG/PNG/WebP…); resized to the model's input. */
export type FaceImage = string | Uint8Array;

export interface FaceAnalysis {
  /** Unit embedding (the model's default kind unless asked otherwise). */
  embedding: Float32Array;
  /** The FR branch's feature norm ‖f‖: higher means a more recognisable (better quality) face. */
  quality: number;
  /** Probability of each attribute, by name. */
  attributes: Record<string, number>;
}

export interface Verification {
  /** Cosine similarity of the two unit embeddings, in [−1, 1]. */
  similarity: number;
  /** similarity ≥ threshold; null when neither the model nor the call gives a threshold. */
  same: boolean | null;
  threshold: number | null;
}

/** Reads and decodes aligned crops (paths or encoded bytes) to size×size×3 uint8 RGB, stretched to fit. */
export function readFaceImages(images: FaceImage[], size: number): Promise<Uint8Array[]> {
  return Promise.all(
    images.map(async (image, i) => {
      const source = typeof image === 'string' ? image : `image ${i}`;
      const bytes =
        typeof image === 'string'
          ? await readFile(image).catch((err) => Promise.reject(new Error(`${image}: cannot read (${err.code ?? err.message})`)))
          : image;
      return decodeImage(bytes, source, { height: size, width: size, fit: 'fill' });
    }),
  );
}

export class FaceModel {
  private constructor(
    readonly spec: ModelSpec,
    readonly model: CATFace,
  ) {}

  /** Loads a model directory written by `catface train` / `catface demo` (see models/model-dir.ts). */
  static load(dir: string): FaceModel {
    const { spec, model } = readModelDir(dir);
    return new FaceModel(spec, model);
  }

  get imageSize(): number {
    return this.model.imageSize;
  }

  /** How photos are cropped for this model (directories without the field: ArcFace at the input size). */
  get alignment(): FaceAlignment {
    return modelAlignment(this.spec);
  }

  /** Everything the model computes for a normalised batch [B, 3, S, S] (or [3, S, S]); tensors owned by the caller. */
  forwardTensor(images: Tensor, kind: EmbeddingKind = this.spec.defaultEmbedding): CATFaceInference {
    const s = this.imageSize;
    const batch = images.ndim === 3 ? images.unsqueeze(0) : images;
    if (batch.ndim !== 4 || batch.shape[1] !== 3 || batch.shape[2] !== s || batch.shape[3] !== s) {
      throw new RangeError(`FaceModel: expected aligned images [B, 3, ${s}, ${s}] normalised to [-1, 1], got [${images.shape}]`);
    }
    return this.model.infer(batch, kind);
  }

  /** This model as an evaluation Embedder (src/eval protocols: pair verification, IJB, identification). */
  embedder(kind: EmbeddingKind = this.spec.defaultEmbedding, name = `catface-${kind}`): Embedder {
    return catfaceEmbedder(this.model, kind, name);
  }

  /** Reads and decodes aligned crops (paths or encoded bytes) into the model's normalised input tensor. */
  async decode(images: FaceImage[]): Promise<Tensor> {
    return pixelsToNormalized(await readFaceImages(images, this.imageSize), this.imageSize);
  }

  private async run<T>(inputs: FaceImage[] | Tensor, kind: EmbeddingKind | undefined, read: (out: CATFaceInference) => T): Promise<T> {
    const owned = Array.isArray(inputs) ? await this.decode(inputs) : null;
    try {
      const out = this.forwardTensor(owned ?? (inputs as Tensor), kind);
      try {
        return read(out);
      } finally {
        torch.dispose(out);
      }
    } finally {
      owned?.dispose();
    }
  }

  /** Full analysis per face: embedding, quality and attribute probabilities. */
  async analyze(inputs: FaceImage[] | Tensor, kind?: EmbeddingKind): Promise<FaceAnalysis[]> {
    return this.run(inputs, kind, (out) => {
      const e = out.embedding.dataSync() as Float32Array;
      const q = out.quality.dataSync() as Float32Array;
      const a = out.attributes.dataSync() as Float32Array;
      const d = out.embedding.shape[1];
      const k = this.spec.attributes.length;
      return Array.from(q, (quality, i) => ({
        embedding: e.slice(i * d, (i + 1) * d),
        quality,
        attributes: Object.fromEntries(this.spec.attributes.map((name, j) => [name, a[i * k + j]])),
      }));
    });
  }

  /** Full analysis of aligned H×W×3 uint8 RGB crops at the model's input size (what the photo pipeline makes). */
  async analyzeCrops(crops: Uint8Array[], kind?: EmbeddingKind): Promise<FaceAnalysis[]> {
    const input = pixelsToNormalized(crops, this.imageSize);
    try {
      return await this.analyze(input, kind);
    } finally {
      input.dispose();
    }
  }

  /** Unit embeddings, one per face. */
  async embed(inputs: FaceImage[] | Tensor, kind?: EmbeddingKind): Promise<Float32Array[]> {
    return (await this.analyze(inputs, kind)).map((r) => r.embedding);
  }

  /** Attribute probabilities per face. */
  async attributes(inputs: FaceImage[] | Tensor): Promise<Record<string, number>[]> {
    return (await this.analyze(inputs, 'fr')).map((r) => r.attributes);
  }

  /** The FR feature norm per face (AdaFace's image-quality proxy). */
  async quality(inputs: FaceImage[] | Tensor): Promise<number[]> {
    return (await this.analyze(inputs, 'fr')).map((r) => r.quality);
  }

  /** Whether two faces show the same person: cosine similarity against the model's (or the given) threshold. */
  async verify(a: FaceImage, b: FaceImage, options: { threshold?: number; kind?: EmbeddingKind } = {}): Promise<Verification> {
    const [ea, eb] = await this.embed([a, b], options.kind);
    return verification(ea, eb, options.threshold ?? this.spec.verifyThreshold);
  }

  dispose(): void {
    this.model.dispose();
  }
}

/** The cosine similarity of two unit embeddings and the decision at `threshold`. */
export function verification(a: Float32Array, b: Float32Array, threshold: number | null): Verification {
  let similarity = 0;
  for (let i = 0; i < a.length; i++) similarity += a[i] * b[i];
  return { similarity, same: threshold === null ? null : similarity >= threshold, threshold };
}
