// Human's BlazeFace and FaceMesh as ONNX models (the `.onnx` bytes, no files), from their tfjs graphs
// (`TfjsGraph.toOnnx`), for onnxruntime: input `input` in NCHW as `TfjsGraph.run` takes it, outputs under their
// tfjs names (BLAZEFACE_OUTPUTS, FACE_MESH_OUTPUTS). BlazeFace takes one image, FaceMesh a batch of crops.
import { OnnxGraph } from '../nn/onnx-graph.js';
import { encodeOnnxModel } from '../nn/onnx-proto.js';
import { BLAZEFACE_INPUT_SIZE, BLAZEFACE_OUTPUTS } from './blazeface.js';
import { FACE_MESH_INPUT_SIZE, FACE_MESH_OUTPUTS } from './face-mesh.js';
import type { TfjsGraph } from './tfjs-graph.js';

/** The input's name in both models. */
export const MESH_ONNX_INPUT = 'input';

function toModel(graph: TfjsGraph, name: string, shape: (number | string)[], outputs: readonly string[]): Uint8Array {
  const g = new OnnxGraph();
  const values = graph.toOnnx(g, g.input(MESH_ONNX_INPUT, shape), outputs);
  for (const [i, o] of outputs.entries()) g.output(o, values[i]);
  return encodeOnnxModel(g.finish(name));
}

/** BlazeFace: [1, 3, 256, 256] in [−1, 1] → its four outputs. */
export function blazeFaceOnnx(graph: TfjsGraph): Uint8Array {
  return toModel(graph, 'blazeface', [1, 3, BLAZEFACE_INPUT_SIZE, BLAZEFACE_INPUT_SIZE], BLAZEFACE_OUTPUTS);
}

/** FaceMesh: ['faces', 3, 192, 192] in [0, 1] → face flags ['faces', 1] and meshes ['faces', 1404]. */
export function faceMeshOnnx(graph: TfjsGraph): Uint8Array {
  return toModel(graph, 'facemesh', ['faces', 3, FACE_MESH_INPUT_SIZE, FACE_MESH_INPUT_SIZE], FACE_MESH_OUTPUTS);
}
