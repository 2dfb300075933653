// CATFace → ONNX: the inference graph (trunk, FR and SB branches, fusion, heads) written from the model's own
// modules (`toOnnx`, which mirrors each `forward`) with its weights, as the bytes of an `.onnx` file. Pure: the
// caller writes the bytes (the CLI durably). Input `images` [B, 3, S, S] normalised to [−1, 1]; the outputs are
// what `CATFace.infer` reads, named:
//   fr_embedding [B, E]      the FR branch's unit embedding
//   fused_embedding [B, E']  the fused (CATFace) unit embedding — only when the model has a fusion
//   quality [B]              the FR feature norm ‖f‖ (AdaFace's quality proxy)
//   attribute_logits [B, K]  the SB head's logits
//   attributes [B, K]        their sigmoid probabilities

import { type Dim, ONNX_OPSETS, OnnxGraph } from '../nn/onnx-graph.js';
import { encodeOnnxModel, type OnnxModel } from '../nn/onnx-proto.js';
import type { CATFace } from './catface.js';

export interface OnnxExportOptions {
  /** A fixed batch size, or 'dynamic' (a named batch dimension). Default 'dynamic'. */
  batch?: number | 'dynamic';
  /** ONNX opset, 17–21. Default 17. */
  opset?: number;
  /** String metadata stored in the file (metadata_props), e.g. the model directory's description. */
  metadata?: Record<string, string>;
}

export const ONNX_INPUT = 'images';
export const ONNX_OUTPUTS = ['fr_embedding', 'fused_embedding', 'quality', 'attribute_logits', 'attributes'] as const;
export type OnnxOutputName = (typeof ONNX_OUTPUTS)[number];

/** The model's inference graph as an OnnxModel (what `exportOnnx` encodes). */
export function catfaceOnnxModel(model: CATFace, options: OnnxExportOptions = {}): OnnxModel {
  const batch = options.batch ?? 'dynamic';
  if (batch !== 'dynamic' && !(Number.isInteger(batch) && batch >= 1))
    throw new RangeError(`onnx export: batch must be a positive integer or 'dynamic', got ${batch}`);
  const g = new OnnxGraph(options.opset ?? ONNX_OPSETS.min);
  const s = model.imageSize;
  const b: Dim = batch === 'dynamic' ? 'batch' : batch;
  const { network, fused } = model.toOnnx(g, g.input(ONNX_INPUT, [b, 3, s, s]));
  g.output('fr_embedding', network.embedding);
  if (fused) g.output('fused_embedding', fused.embedding);
  g.output('quality', g.reshape(network.norm, [-1]));
  g.output('attribute_logits', network.attributes);
  g.output('attributes', g.unary('Sigmoid', network.attributes));
  return g.finish('catface', options.metadata ?? {});
}

/** The bytes of the model's `.onnx` file. */
export function exportOnnx(model: CATFace, options: OnnxExportOptions = {}): Uint8Array {
  return encodeOnnxModel(catfaceOnnxModel(model, options));
}
