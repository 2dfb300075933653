// tfjs weight files (a `weightsManifest` and its binary shards, as face-api.js and Human ship them in their npm
// packages) decoded into libtorch tensors by tfjs name.
import { fromBytes } from '../torch/creation.js';
import type { Tensor } from '../torch/tensor.js';

export interface TfjsWeightSpec {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: { dtype: 'uint8' | 'uint16' | 'float16'; scale?: number; min?: number };
}
export type TfjsManifest = { paths: string[]; weights: TfjsWeightSpec[] }[];

/** IEEE half-precision bits → number. */
function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 31) return fraction ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

/**
 * Decodes a tfjs weights manifest and its shards (each group's shards concatenated in `paths` order) into
 * tensors by tfjs name: float32 weights (undoing uint8/uint16 affine quantisation, value = q·scale + min, and
 * float16 storage) and int32 constants (shapes, paddings).
 */
export function parseTfjsWeights(manifest: TfjsManifest, shards: Map<string, Uint8Array>, source = 'manifest'): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  for (const group of manifest) {
    const parts = group.paths.map((p) => {
      const bytes = shards.get(p);
      if (!bytes) throw new Error(`${source}: shard '${p}' is missing`);
      return bytes;
    });
    const data = Buffer.concat(parts);
    let offset = 0;
    for (const spec of group.weights) {
      const count = spec.shape.reduce((a, b) => a * b, 1);
      const q = spec.quantization;
      const width = q ? { uint8: 1, uint16: 2, float16: 2 }[q.dtype] : 4;
      if (spec.dtype !== 'float32' && !(spec.dtype === 'int32' && !q))
        throw new Error(`${source}: weight '${spec.name}' has dtype ${spec.dtype}; only float32 weights and int32 constants are supported`);
      if (width === undefined) throw new Error(`${source}: weight '${spec.name}' uses ${q?.dtype} quantisation, which is not supported`);
      if (offset + count * width > data.length) throw new Error(`${source}: shards end before weight '${spec.name}' (truncated)`);
      const bytes = data.buffer.slice(data.byteOffset + offset, data.byteOffset + offset + count * width);
      offset += count * width;
      if (spec.dtype === 'int32') {
        out.set(spec.name, fromBytes(new Int32Array(bytes), 'int32', spec.shape));
        continue;
      }
      let values: Float32Array;
      if (!q) values = new Float32Array(bytes);
      else if (q.dtype === 'float16') values = Float32Array.from(new Uint16Array(bytes), halfToFloat);
      else {
        const raw = q.dtype === 'uint8' ? new Uint8Array(bytes) : new Uint16Array(bytes);
        values = Float32Array.from(raw, (v) => v * (q.scale ?? 1) + (q.min ?? 0));
      }
      out.set(spec.name, fromBytes(values, 'float32', spec.shape));
    }
    if (offset !== data.length) throw new Error(`${source}: ${data.length - offset} bytes left after the last weight`);
  }
  return out;
}
