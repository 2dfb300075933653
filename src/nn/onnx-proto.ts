// The ONNX file format (onnx/onnx.proto, protobuf 3) for the few messages an inference graph needs: ModelProto,
// GraphProto, NodeProto, AttributeProto, TensorProto, ValueInfoProto and the tensor type/shape. A hand-written
// encoder (varints, length-delimited fields) so writing a model needs no protobuf package and no schema compiler.

/** A dimension: a number, or a name for a size known at run time (the batch). */
export type Dim = number | string;

export type AttributeValue = number | string | number[] | { floats: number[] } | { float: number };

export interface OnnxNode {
  opType: string;
  inputs: string[];
  outputs: string[];
  name: string;
  attributes: Record<string, AttributeValue>;
}

export interface OnnxTensor {
  name: string;
  dims: number[];
  dataType: 'float32' | 'int64';
  /** Little-endian bytes (ONNX's raw_data). */
  raw: Uint8Array;
}

export interface OnnxValueInfo {
  name: string;
  shape: Dim[];
}

export interface OnnxModel {
  irVersion: number;
  opset: number;
  producerName: string;
  producerVersion: string;
  graphName: string;
  nodes: OnnxNode[];
  initializers: OnnxTensor[];
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
  metadata: Record<string, string>;
}

/** ONNX TensorProto.DataType codes. */
const DATA_TYPE = { float32: 1, int64: 7 } as const;
/** ONNX AttributeProto.AttributeType codes. */
const ATTRIBUTE_TYPE = { FLOAT: 1, INT: 2, STRING: 3, FLOATS: 6, INTS: 7 } as const;

/** Accumulates one protobuf message; nested messages are encoded first and written as bytes. */
class Writer {
  private readonly chunks: Uint8Array[] = [];
  private length = 0;

  private push(bytes: Uint8Array): void {
    this.chunks.push(bytes);
    this.length += bytes.length;
  }

  private varint(value: bigint): void {
    // Negative int64 values are written as their 64-bit two's complement (ten bytes), as protobuf does.
    let v = BigInt.asUintN(64, value);
    const out: number[] = [];
    do {
      let byte = Number(v & 0x7fn);
      v >>= 7n;
      if (v !== 0n) byte |= 0x80;
      out.push(byte);
    } while (v !== 0n);
    this.push(Uint8Array.from(out));
  }

  private key(field: number, wireType: number): void {
    this.varint(BigInt((field << 3) | wireType));
  }

  int(field: number, value: number): this {
    if (!Number.isSafeInteger(value)) throw new RangeError(`onnx: ${value} is not an integer protobuf can hold exactly`);
    this.key(field, 0);
    this.varint(BigInt(value));
    return this;
  }

  float(field: number, value: number): this {
    this.key(field, 5);
    const bytes = new Uint8Array(4);
    new DataView(bytes.buffer).setFloat32(0, value, true);
    this.push(bytes);
    return this;
  }

  bytes(field: number, value: Uint8Array): this {
    this.key(field, 2);
    this.varint(BigInt(value.length));
    this.push(value);
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, new TextEncoder().encode(value));
  }

  message(field: number, value: Writer): this {
    return this.bytes(field, value.finish());
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.length);
    let offset = 0;
    for (const chunk of this.chunks) {
      out.set(chunk, offset);
      offset += chunk.length;
    }
    return out;
  }
}

function attribute(name: string, value: AttributeValue): Writer {
  const w = new Writer().string(1, name);
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) throw new RangeError(`onnx: attribute '${name}' = ${value} is not an integer (use { float })`);
    return w.int(3, value).int(20, ATTRIBUTE_TYPE.INT);
  }
  if (typeof value === 'string') return w.string(4, value).int(20, ATTRIBUTE_TYPE.STRING);
  if (Array.isArray(value)) {
    for (const v of value) w.int(8, v);
    return w.int(20, ATTRIBUTE_TYPE.INTS);
  }
  if ('float' in value) return w.float(2, value.float).int(20, ATTRIBUTE_TYPE.FLOAT);
  for (const v of value.floats) w.float(7, v);
  return w.int(20, ATTRIBUTE_TYPE.FLOATS);
}

function node(n: OnnxNode): Writer {
  const w = new Writer();
  for (const input of n.inputs) w.string(1, input);
  for (const output of n.outputs) w.string(2, output);
  w.string(3, n.name).string(4, n.opType);
  for (const [name, value] of Object.entries(n.attributes)) w.message(5, attribute(name, value));
  return w;
}

function tensor(t: OnnxTensor): Writer {
  const w = new Writer();
  for (const d of t.dims) w.int(1, d);
  return w.int(2, DATA_TYPE[t.dataType]).string(8, t.name).bytes(9, t.raw);
}

function valueInfo(v: OnnxValueInfo): Writer {
  const shape = new Writer();
  for (const d of v.shape) shape.message(1, typeof d === 'number' ? new Writer().int(1, d) : new Writer().string(2, d));
  const tensorType = new Writer().int(1, DATA_TYPE.float32).message(2, shape);
  return new Writer().string(1, v.name).message(2, new Writer().message(1, tensorType));
}

/** The model as the bytes of an `.onnx` file. */
export function encodeOnnxModel(model: OnnxModel): Uint8Array {
  const graph = new Writer();
  for (const n of model.nodes) graph.message(1, node(n));
  graph.string(2, model.graphName);
  for (const t of model.initializers) graph.message(5, tensor(t));
  for (const v of model.inputs) graph.message(11, valueInfo(v));
  for (const v of model.outputs) graph.message(12, valueInfo(v));
  const w = new Writer()
    .int(1, model.irVersion)
    .string(2, model.producerName)
    .string(3, model.producerVersion)
    .message(7, graph)
    .message(8, new Writer().string(1, '').int(2, model.opset));
  for (const [key, value] of Object.entries(model.metadata)) w.message(14, new Writer().string(1, key).string(2, value));
  return w.finish();
}
