// BlazeFace + FaceMesh on onnxruntime: the tfjs graphs exported in memory (models/mesh-detector-onnx.ts), each in
// its own session, behind `MeshNetworks`, so detection runs models/mesh-face-detector.ts's one pipeline (inputs
// and resampling on libtorch, as TF does them; post-processing on plain arrays). The photo pipeline's default.
import * as ort from 'onnxruntime-node';
import { blazeFaceOnnx, faceMeshOnnx, MESH_ONNX_INPUT } from '../models/mesh-detector-onnx.js';
import { loadMeshGraphs, type MeshNetworks, type NetworkRunner } from '../models/mesh-face-detector.js';
import { openOnnxSession } from './onnx-session.js';

function onnxRunner(session: ort.InferenceSession): NetworkRunner {
  return async (input, outputs) => {
    const feed = new ort.Tensor('float32', input.dataSync() as Float32Array, input.shape); // dataSync: row-major NCHW
    const out = await session.run({ [MESH_ONNX_INPUT]: feed }, [...outputs]);
    return outputs.map((o) => out[o].data as Float32Array);
  };
}

export class OnnxMeshNetworks implements MeshNetworks {
  readonly blazeFace: NetworkRunner;
  readonly faceMesh: NetworkRunner;

  private constructor(private readonly sessions: ort.InferenceSession[]) {
    this.blazeFace = onnxRunner(sessions[0]);
    this.faceMesh = onnxRunner(sessions[1]);
  }

  /** Reads Human's graphs, exports them and opens a session on each (`threads`: as openOnnxSession). */
  static async open(threads?: number): Promise<OnnxMeshNetworks> {
    const graphs = loadMeshGraphs();
    let models: Uint8Array[];
    try {
      models = [blazeFaceOnnx(graphs.blazeFace), faceMeshOnnx(graphs.faceMesh)];
    } finally {
      graphs.blazeFace.dispose();
      graphs.faceMesh.dispose();
    }
    return new OnnxMeshNetworks(await Promise.all(models.map((m) => openOnnxSession(m, threads))));
  }

  /** Frees both sessions. */
  async dispose(): Promise<void> {
    await Promise.all(this.sessions.map((s) => s.release()));
  }
}
