// The model's forward on onnxruntime instead of libtorch, behind the `CropModel` the photo pipeline uses (decode,
// detection and alignment stay as they are): the model directory's inference graph is exported in memory
// (models/onnx-export.ts, dynamic batch) and run by onnxruntime-node's CPU provider: FaceRecognizer's default
// backend ('onnx'; `--backend libtorch` runs FaceModel instead).
import * as ort from 'onnxruntime-node';
import { pixelsToNormalizedArray } from '../common/image-convention.js';
import { type FaceAlignment, type ModelSpec, modelAlignment, readModelDir } from '../models/model-dir.js';
import { exportOnnx, ONNX_INPUT } from '../models/onnx-export.js';
import type { EmbeddingKind, FaceAnalysis } from './face-model.js';
import type { CropModel } from './face-recognizer.js';
import { openOnnxSession } from './onnx-session.js';

export interface OnnxModelOptions {
  /** onnxruntime intra-op threads (default: as $CATFACE_THREADS, else onnxruntime's choice, the physical cores). */
  threads?: number;
}

export class OnnxFaceModel implements CropModel {
  private constructor(
    readonly spec: ModelSpec,
    private readonly session: ort.InferenceSession,
  ) {}

  /** Reads a model directory, exports its graph and opens an onnxruntime session on it. */
  static async open(dir: string, options: OnnxModelOptions = {}): Promise<OnnxFaceModel> {
    const { spec, model } = readModelDir(dir);
    let bytes: Uint8Array;
    try {
      bytes = exportOnnx(model, { metadata: { 'catface.model': JSON.stringify(spec) } });
    } finally {
      model.dispose();
    }
    return new OnnxFaceModel(spec, await openOnnxSession(bytes, options.threads));
  }

  get imageSize(): number {
    return this.spec.network.inputSize;
  }

  get alignment(): FaceAlignment {
    return modelAlignment(this.spec);
  }

  /** FaceModel.analyzeCrops on onnxruntime: aligned H×W×3 uint8 RGB crops at the model's input size. */
  async analyzeCrops(crops: Uint8Array[], kind: EmbeddingKind = this.spec.defaultEmbedding): Promise<FaceAnalysis[]> {
    if (kind === 'fused' && !this.spec.fusion)
      throw new Error("OnnxFaceModel: this model has no fusion (stage 2 was not trained); use kind 'fr'");
    if (crops.length === 0) return [];
    const s = this.imageSize;
    const input = new ort.Tensor('float32', pixelsToNormalizedArray(crops, s), [crops.length, 3, s, s]);
    const embeddingName = kind === 'fused' ? 'fused_embedding' : 'fr_embedding';
    const out = await this.session.run({ [ONNX_INPUT]: input }, [embeddingName, 'quality', 'attributes']);
    const e = out[embeddingName].data as Float32Array;
    const q = out.quality.data as Float32Array;
    const a = out.attributes.data as Float32Array;
    const d = e.length / crops.length;
    const names = this.spec.attributes;
    return Array.from(q, (quality, i) => ({
      embedding: e.slice(i * d, (i + 1) * d),
      quality,
      attributes: Object.fromEntries(names.map((name, j) => [name, a[i * names.length + j]])),
    }));
  }

  /** Frees the session. */
  close(): Promise<void> {
    return this.session.release();
  }
}
