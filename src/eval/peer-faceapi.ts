// The peer TypeScript users run today: face-api.js (@vladmandic/face-api), whose face descriptor is dlib's
// ResNet-34 (128-d) and whose weights ship in its npm package. It runs on tfjs's wasm backend, offline.
//
// face-api's Node wasm build requires the umbrella package `@tensorflow/tfjs`, which is not installed (and
// would pull in layers/data we do not need): while it loads, that name resolves to `@tensorflow/tfjs-core`,
// and the chained tensor methods (`x.as4D()`, `x.sub(y)`, …) that the umbrella package would register are
// added from tfjs-core's functional ops.
import Module, { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Embedder, EmbedOutput } from './embedding.js';

const require = createRequire(import.meta.url);

/** The crop side face-api's recognition net takes. */
export const FACEAPI_INPUT_SIZE = 150;

interface TfTensor {
  dispose(): void;
}
interface TfCore {
  Tensor: { prototype: Record<string, unknown> };
  reshape(x: unknown, shape: number[]): unknown;
  cast(x: unknown, dtype: string): unknown;
  tensor3d(values: Int32Array, shape: [number, number, number], dtype: 'int32'): TfTensor;
  setBackend(name: string): Promise<boolean>;
  ready(): Promise<void>;
  getBackend(): string;
}
interface Loadable {
  loadFromDisk(dir: string): Promise<void>;
  isLoaded: boolean;
}
interface FaceApi {
  tf: TfCore & { setWasmPaths(prefix: string): void };
  nets: {
    faceRecognitionNet: Loadable & { computeFaceDescriptor(inputs: TfTensor[]): Promise<Float32Array | Float32Array[]> };
    ssdMobilenetv1: Loadable;
    faceLandmark68Net: Loadable;
  };
  SsdMobilenetv1Options: new (options: { minConfidence: number }) => unknown;
  detectSingleFace(
    input: TfTensor,
    options: unknown,
  ): { withFaceLandmarks(): { withFaceDescriptor(): Promise<{ descriptor: Float32Array } | undefined> } };
}

function addChainedOps(tf: TfCore): void {
  const proto = tf.Tensor.prototype;
  for (const [name, op] of Object.entries(tf)) {
    if (typeof op === 'function' && /^[a-z]/.test(name) && !(name in proto)) {
      proto[name] = function (this: unknown, ...args: unknown[]) {
        return (op as (...a: unknown[]) => unknown)(this, ...args);
      };
    }
  }
  for (let rank = 1; rank <= 5; rank++) {
    proto[`as${rank}D`] = function (this: unknown, ...shape: number[]) {
      return tf.reshape(this, rank === 1 && shape.length === 0 ? [-1] : shape); // as1D() flattens
    };
  }
  proto.asScalar = function (this: unknown) {
    return tf.reshape(this, []);
  };
  proto.asType = function (this: unknown, dtype: string) {
    return tf.cast(this, dtype);
  };
  proto.toFloat = function (this: unknown) {
    return tf.cast(this, 'float32');
  };
}

function requireFaceApi(): FaceApi {
  const tf = require('@tensorflow/tfjs-core') as TfCore;
  addChainedOps(tf);
  const resolver = Module as unknown as { _resolveFilename(request: string, ...rest: unknown[]): string };
  const original = resolver._resolveFilename;
  resolver._resolveFilename = function (request: string, ...rest: unknown[]) {
    return original.call(this, request === '@tensorflow/tfjs' ? '@tensorflow/tfjs-core' : request, ...rest);
  };
  try {
    const packageDir = dirname(require.resolve('@vladmandic/face-api/package.json'));
    return require(join(packageDir, 'dist', 'face-api.node-wasm.js')) as FaceApi;
  } finally {
    resolver._resolveFilename = original;
  }
}

const faceApiModelDir = () => join(dirname(require.resolve('@vladmandic/face-api/package.json')), 'model');

let loading: Promise<FaceApi> | null = null;

/** Loads face-api, the wasm backend and the recognition weights once per process. */
function loadFaceApi(): Promise<FaceApi> {
  loading ??= (async () => {
    const faceapi = requireFaceApi();
    const wasmDir = dirname(require.resolve('@tensorflow/tfjs-backend-wasm'));
    faceapi.tf.setWasmPaths(`${pathToFileURL(wasmDir).href}/`);
    if (faceapi.tf.getBackend() !== 'wasm' && !(await faceapi.tf.setBackend('wasm'))) {
      throw new Error('face-api peer: the tfjs wasm backend failed to initialise');
    }
    await faceapi.tf.ready();
    await faceapi.nets.faceRecognitionNet.loadFromDisk(faceApiModelDir());
    return faceapi;
  })();
  return loading;
}

/**
 * face-api.js's descriptor as an `Embedder`: 150×150 crops in, 128-d descriptors out (with their norms, so
 * every flip fusion applies). Single-threaded (tfjs wasm in Node has no threads).
 */
export async function faceApiEmbedder(): Promise<Embedder> {
  const faceapi = await loadFaceApi();
  const size = FACEAPI_INPUT_SIZE;
  return {
    name: 'faceapi',
    imageSize: size,
    async embed(crops: Uint8Array[]): Promise<EmbedOutput> {
      const inputs = crops.map((c) => faceapi.tf.tensor3d(Int32Array.from(c), [size, size, 3], 'int32'));
      try {
        const out = await faceapi.nets.faceRecognitionNet.computeFaceDescriptor(inputs);
        const rows = Array.isArray(out) ? out : [out];
        const dim = rows[0].length;
        const embeddings = new Float32Array(rows.length * dim);
        const norms = new Float32Array(rows.length);
        rows.forEach((r, i) => {
          embeddings.set(r, i * dim);
          norms[i] = Math.hypot(...r);
        });
        return { embeddings, dim, norms };
      } finally {
        for (const t of inputs) t.dispose();
      }
    },
  };
}

/**
 * face-api.js's own photo pipeline as its users run it: `detectSingleFace` (SSD MobileNet v1) →
 * `withFaceLandmarks` (68 points) → `withFaceDescriptor` (dlib ResNet-34 on its aligned crop), on a decoded
 * H×W×3 RGB photo. Resolves to the descriptor, or null when no face is found.
 */
export async function faceApiPhotoPipeline(): Promise<(rgb: Uint8Array, width: number, height: number) => Promise<Float32Array | null>> {
  const faceapi = await loadFaceApi();
  for (const net of [faceapi.nets.ssdMobilenetv1, faceapi.nets.faceLandmark68Net])
    if (!net.isLoaded) await net.loadFromDisk(faceApiModelDir());
  const options = new faceapi.SsdMobilenetv1Options({ minConfidence: 0.5 });
  return async (rgb, width, height) => {
    const input = faceapi.tf.tensor3d(Int32Array.from(rgb), [height, width, 3], 'int32');
    try {
      const result = await faceapi.detectSingleFace(input, options).withFaceLandmarks().withFaceDescriptor();
      return result?.descriptor ?? null;
    } finally {
      input.dispose();
    }
  };
}
