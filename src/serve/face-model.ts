// The inference API on a saved model directory: `embed`, `verify`, `attributes` and `quality` (the FR
// feature norm, AdaFace's quality proxy) on aligned face images (file paths or encoded bytes, decoded off the
// main thread by sharp) or on aligned, normalised tensors [B, 3, S, S].
//
// The network runs synchronously on the calling thread (libtorch uses its own intra-op threads). In a server,
// use `FaceModelWorker` (face-model-worker.ts): the same API with the forward passes in a child process, so
// the event loop keeps answering requests.

import { readFile } from 'node:fs/promises';
import { decodeImage } from '../data/decode.js';
import type { Embedder, EmbedOutput } from '../eval/embedding.js';
import { createFusion } from '../models/fusion.js';
import type { Fusion } from '../models/fusion-base.js';
import { MultiBranchNet } from '../models/multi-branch.js';
import type { Tensor } from '../torch/index.js';
import * as torch from '../torch/index.js';
import { type FaceAlignment, type ModelSpec, modelAlignment, readModelDir, weightsUnder } from './model-dir.js';

/** An aligned face crop: a file path or the encoded image bytes (JPEG/PNG/WebP…); resized to the model's input. */
export type FaceImage = string | Uint8Array;

export type EmbeddingKind = 'fused' | 'fr';

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

/** Converts H×W×3 uint8 RGB crops to the network's input, SPEC §1: (x/255 − 0.5)/0.5, [B, 3, H, W]. */
export function pixelsToInput(pixels: Uint8Array[], size: number): Tensor {
  const stride = size * size * 3;
  const all = new Uint8Array(pixels.length * stride);
  pixels.forEach((p, i) => {
    if (p.length !== stride) throw new RangeError(`pixelsToInput: crop ${i} has ${p.length} bytes, expected ${size}×${size}×3 = ${stride}`);
    all.set(p, i * stride);
  });
  return torch.tidy(() =>
    torch.fromBytes(all, 'uint8', [pixels.length, size, size, 3]).permute([0, 3, 1, 2]).to('float32').div(127.5).sub(1).contiguous(),
  );
}

/** Network (+ fusion) forward on normalised images, without autograd: embedding, FR norm, attribute probabilities. */
export function inferenceForward(
  network: MultiBranchNet,
  fusion: Fusion | null,
  images: Tensor,
  kind: EmbeddingKind,
): { embedding: Tensor; quality: Tensor; attributes: Tensor } {
  if (kind === 'fused' && !fusion) throw new Error("FaceModel: this model has no fusion (stage 2 was not trained); use kind 'fr'");
  return torch.tidy(() =>
    torch.noGrad(() => {
      const out = network.forward(images);
      const embedding = kind === 'fused' ? (fusion as Fusion).forward(out.fr.map, out.sb.map).embedding : out.embedding;
      return { embedding, quality: out.norm.reshape([-1]), attributes: out.attributes.sigmoid() };
    }),
  );
}

/** The evaluation protocols' view of a network (src/eval's Embedder): HWC uint8 crops → embeddings and norms. */
export function networkEmbedder(name: string, network: MultiBranchNet, fusion: Fusion | null, kind: EmbeddingKind): Embedder {
  const imageSize = network.config.inputSize;
  return {
    name,
    imageSize,
    embed(crops: Uint8Array[]): EmbedOutput {
      const input = pixelsToInput(crops, imageSize);
      try {
        const out = inferenceForward(network, fusion, input, kind);
        const result = {
          embeddings: out.embedding.dataSync() as Float32Array,
          dim: out.embedding.shape[1],
          norms: out.quality.dataSync() as Float32Array,
        };
        torch.dispose(out);
        return result;
      } finally {
        input.dispose();
      }
    },
  };
}

export class FaceModel {
  private constructor(
    readonly spec: ModelSpec,
    readonly network: MultiBranchNet,
    readonly fusion: Fusion | null,
  ) {}

  /** Loads a model directory written by `catface train` / `catface demo` (see model-dir.ts). */
  static load(dir: string): FaceModel {
    const { spec, weights } = readModelDir(dir);
    try {
      const network = new MultiBranchNet(spec.network);
      network.loadStateDict(weightsUnder(weights, 'network'), { source: `${dir} (network)` });
      let fusion: Fusion | null = null;
      if (spec.fusion) {
        fusion = createFusion(spec.fusion);
        fusion.loadStateDict(weightsUnder(weights, 'fusion'), { source: `${dir} (fusion)` });
      }
      network.eval();
      fusion?.eval();
      return new FaceModel(spec, network, fusion);
    } finally {
      torch.dispose([...weights.values()]);
    }
  }

  get imageSize(): number {
    return this.spec.imageSize;
  }

  /** How photos are cropped for this model (directories without the field: ArcFace at the input size). */
  get alignment(): FaceAlignment {
    return modelAlignment(this.spec);
  }

  /** Everything the model computes for a normalised batch [B, 3, S, S] (or [3, S, S]); tensors owned by the caller. */
  forwardTensor(
    images: Tensor,
    kind: EmbeddingKind = this.spec.defaultEmbedding,
  ): { embedding: Tensor; quality: Tensor; attributes: Tensor } {
    const s = this.spec.imageSize;
    const batch = images.ndim === 3 ? images.unsqueeze(0) : images;
    if (batch.ndim !== 4 || batch.shape[1] !== 3 || batch.shape[2] !== s || batch.shape[3] !== s) {
      throw new RangeError(`FaceModel: expected aligned images [B, 3, ${s}, ${s}] normalised to [-1, 1], got [${images.shape}]`);
    }
    return inferenceForward(this.network, this.fusion, batch, kind);
  }

  /** This model as an evaluation Embedder (src/eval protocols: pair verification, IJB, identification). */
  embedder(kind: EmbeddingKind = this.spec.defaultEmbedding, name = `catface-${kind}`): Embedder {
    return networkEmbedder(name, this.network, this.fusion, kind);
  }

  /** Decodes aligned crops to the model's input tensor. */
  async load(images: FaceImage[]): Promise<Tensor> {
    const s = this.spec.imageSize;
    const pixels = await Promise.all(
      images.map(async (image, i) => {
        const source = typeof image === 'string' ? image : `image ${i}`;
        const bytes =
          typeof image === 'string'
            ? await readFile(image).catch((err) => Promise.reject(new Error(`${image}: cannot read (${err.code ?? err.message})`)))
            : image;
        return decodeImage(bytes, source, { height: s, width: s, fit: 'fill' });
      }),
    );
    return pixelsToInput(pixels, s);
  }

  private async run<T>(
    inputs: FaceImage[] | Tensor,
    kind: EmbeddingKind | undefined,
    read: (out: { embedding: Tensor; quality: Tensor; attributes: Tensor }) => T,
  ): Promise<T> {
    const owned = Array.isArray(inputs) ? await this.load(inputs) : null;
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
    const input = pixelsToInput(crops, this.imageSize);
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
    this.network.dispose();
    this.fusion?.dispose();
  }
}

/** The cosine similarity of two unit embeddings and the decision at `threshold`. */
export function verification(a: Float32Array, b: Float32Array, threshold: number | null): Verification {
  let similarity = 0;
  for (let i = 0; i < a.length; i++) similarity += a[i] * b[i];
  return { similarity, same: threshold === null ? null : similarity >= threshold, threshold };
}
