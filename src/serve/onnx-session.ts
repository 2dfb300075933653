// One onnxruntime-node session on `.onnx` bytes, as every onnx part of the service opens it: CPU, sequential,
// every graph optimisation, intra-op threads as asked (else $CATFACE_THREADS, else onnxruntime's choice).
import * as ort from 'onnxruntime-node';

export async function openOnnxSession(bytes: Uint8Array, threads?: number): Promise<ort.InferenceSession> {
  const env = Number(process.env.CATFACE_THREADS);
  return ort.InferenceSession.create(bytes, {
    intraOpNumThreads: threads ?? (Number.isInteger(env) && env > 0 ? env : 0),
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
}
