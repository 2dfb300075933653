// safetensors files: 8-byte little-endian header length, a JSON header {name: {dtype, shape, data_offsets}},
// then the raw little-endian tensor bytes. Written durably (src/io/durable.ts), so a crash never leaves half a file.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { writeFileDurably } from '../io/durable.js';
import { fromBytes } from '../torch/creation.js';
import type { DType, Tensor } from '../torch/tensor.js';

const TO_ST: Partial<Record<DType, string>> = {
  float32: 'F32',
  float64: 'F64',
  float16: 'F16',
  bfloat16: 'BF16',
  int64: 'I64',
  int32: 'I32',
  int16: 'I16',
  int8: 'I8',
  uint8: 'U8',
  bool: 'BOOL',
};
const FROM_ST: Record<string, DType> = Object.fromEntries(Object.entries(TO_ST).map(([k, v]) => [v, k as DType]));
const BYTES: Record<DType, number> = {
  float32: 4,
  float64: 8,
  float16: 2,
  bfloat16: 2,
  int64: 8,
  int32: 4,
  int16: 2,
  int8: 1,
  uint8: 1,
  bool: 1,
  complex64: 8,
  complex128: 16,
};

export type Metadata = Record<string, string>;

/** Serialises named tensors (and optional string metadata) to safetensors bytes. */
export function serializeSafetensors(tensors: Record<string, Tensor> | Map<string, Tensor>, metadata?: Metadata): Buffer {
  const entries = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of entries) {
    const dtype = TO_ST[t.dtype];
    if (!dtype) throw new TypeError(`safetensors: tensor '${name}' has dtype ${t.dtype}, which safetensors cannot store`);
    const bytes = t.toBytes();
    header[name] = { dtype, shape: t.shape, data_offsets: [offset, offset + bytes.length] };
    chunks.push(bytes);
    offset += bytes.length;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8); // keep the data 8-byte aligned (in UTF-8 bytes)
  const head = Buffer.alloc(8);
  head.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  return Buffer.concat([head, Buffer.from(json), ...chunks]);
}

/** Writes a safetensors file durably (temp file, fsync, rename). */
export function saveSafetensors(path: string, tensors: Record<string, Tensor> | Map<string, Tensor>, metadata?: Metadata): void {
  writeFileDurably(path, serializeSafetensors(tensors, metadata));
}

export interface SafetensorsContent {
  tensors: Map<string, Tensor>;
  metadata: Metadata;
}

/** Parses safetensors bytes; `source` names the file in errors. */
export function parseSafetensors(bytes: Uint8Array, source = 'safetensors'): SafetensorsContent {
  if (bytes.length < 8) throw new Error(`${source}: too short to be a safetensors file (${bytes.length} bytes)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  if (headerLength > bytes.length - 8 || headerLength > 100_000_000) {
    throw new Error(
      `${source}: header length ${headerLength} exceeds the file (${bytes.length} bytes); not a safetensors file or truncated`,
    );
  }
  let header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] } | Metadata>;
  try {
    header = JSON.parse(Buffer.from(bytes.subarray(8, 8 + headerLength)).toString('utf8'));
  } catch (err) {
    throw new Error(`${source}: the JSON header does not parse (${(err as Error).message})`);
  }
  const dataStart = 8 + headerLength;
  const tensors = new Map<string, Tensor>();
  const metadata = (header.__metadata__ as Metadata | undefined) ?? {};
  const ranges: { name: string; begin: number; end: number }[] = [];
  try {
    for (const [name, info] of Object.entries(header)) {
      if (name === '__metadata__') continue;
      const { dtype, shape, data_offsets } = info as { dtype: string; shape: number[]; data_offsets: [number, number] };
      const dt = FROM_ST[dtype];
      if (!dt) throw new Error(`${source}: tensor '${name}' has unsupported dtype '${dtype}'`);
      if (!Array.isArray(shape) || shape.some((s) => !Number.isInteger(s) || s < 0)) {
        throw new Error(`${source}: tensor '${name}' has a bad shape ${JSON.stringify(shape)}`);
      }
      const [begin, end] = data_offsets;
      const expected = shape.reduce((a, b) => a * b, 1) * BYTES[dt];
      if (!(end - begin === expected && begin >= 0 && dataStart + end <= bytes.length)) {
        throw new Error(
          `${source}: tensor '${name}' data_offsets [${begin}, ${end}] do not match shape [${shape}] of ${dtype} or exceed the file`,
        );
      }
      ranges.push({ name, begin, end });
      tensors.set(name, fromBytes(bytes.subarray(dataStart + begin, dataStart + end), dt, shape));
    }
    ranges.sort((a, b) => a.begin - b.begin);
    for (let i = 1; i < ranges.length; i++) {
      const [prev, cur] = [ranges[i - 1], ranges[i]];
      if (cur.begin < prev.end)
        throw new Error(
          `${source}: tensors '${prev.name}' and '${cur.name}' overlap (data_offsets [${prev.begin}, ${prev.end}] and [${cur.begin}, ${cur.end}])`,
        );
    }
  } catch (err) {
    for (const t of tensors.values()) t.dispose();
    throw err;
  }
  return { tensors, metadata };
}

/** Reads a safetensors file. */
export function loadSafetensors(path: string): SafetensorsContent {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const bytes = Buffer.allocUnsafe(size);
    let read = 0;
    while (read < size) read += readSync(fd, bytes, read, size - read, read);
    return parseSafetensors(bytes, path);
  } finally {
    closeSync(fd);
  }
}
