// The graph builder a module emits its inference nodes into (`Layer.toOnnx`), mirroring its `forward`: every value
// carries its static shape (the batch may be a name, for a dynamic batch), each op works out its output shape, and
// weights become initializers. `finish` gives the OnnxModel that onnx-proto.ts encodes. Inference only: batch
// norms use their running statistics and dropout is the identity.
import { createHash } from 'node:crypto';
import { tidy } from '../torch/scope.js';
import type { Tensor } from '../torch/tensor.js';
import type { AttributeValue, Dim, OnnxModel, OnnxNode, OnnxTensor, OnnxValueInfo } from './onnx-proto.js';

export type { Dim } from './onnx-proto.js';

/** A value in the graph: its name and static shape. */
export interface OnnxValue {
  readonly name: string;
  readonly shape: readonly Dim[];
}

/** The opsets the builder emits (17: LayerNormalization; 18 moved the reduce ops' axes to an input). */
export const ONNX_OPSETS = { min: 17, max: 21 } as const;
/** The ONNX IR version each opset came with. */
const IR_VERSION: Record<number, number> = { 17: 8, 18: 8, 19: 9, 20: 9, 21: 10 };

const product = (dims: readonly number[]) => dims.reduce((a, b) => a * b, 1);
const fmt = (shape: readonly Dim[]) => `[${shape.join(', ')}]`;

/** NumPy broadcasting of two static shapes (a named dimension against 1 stays named). */
function broadcast(a: readonly Dim[], b: readonly Dim[], op: string): Dim[] {
  const rank = Math.max(a.length, b.length);
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    const x = a[a.length - rank + i] ?? 1;
    const y = b[b.length - rank + i] ?? 1;
    if (x === y || y === 1) out.push(x);
    else if (x === 1) out.push(y);
    else throw new RangeError(`onnx ${op}: shapes ${fmt(a)} and ${fmt(b)} do not broadcast`);
  }
  return out;
}

function numeric(shape: readonly Dim[], what: string): number[] {
  if (!shape.every((d): d is number => typeof d === 'number'))
    throw new RangeError(`onnx ${what}: needs a static shape, got ${fmt(shape)}`);
  return shape as number[];
}

export class OnnxGraph {
  private readonly nodes: OnnxNode[] = [];
  private readonly initializers: OnnxTensor[] = [];
  private readonly inputs: OnnxValueInfo[] = [];
  private readonly outputs: OnnxValueInfo[] = [];
  private readonly counts = new Map<string, number>();
  /** Initializers by content, so equal weights (a branch still sharing its twin's values) are stored once. */
  private readonly byContent = new Map<string, OnnxValue>();

  constructor(readonly opset: number = ONNX_OPSETS.min) {
    if (!(Number.isInteger(opset) && opset >= ONNX_OPSETS.min && opset <= ONNX_OPSETS.max))
      throw new RangeError(`onnx: opset must be an integer in [${ONNX_OPSETS.min}, ${ONNX_OPSETS.max}], got ${opset}`);
  }

  /** A fresh value name from a hint (`conv` → `conv_3`). */
  private fresh(hint: string): string {
    const n = this.counts.get(hint) ?? 0;
    this.counts.set(hint, n + 1);
    return `${hint}_${n}`;
  }

  /** A graph input (float32). */
  input(name: string, shape: readonly Dim[]): OnnxValue {
    this.inputs.push({ name, shape: [...shape] });
    return { name, shape };
  }

  /** Declares `value` a graph output under `name`. */
  output(name: string, value: OnnxValue): void {
    this.nodes.push({ opType: 'Identity', inputs: [value.name], outputs: [name], name: `${name}_out`, attributes: {} });
    this.outputs.push({ name, shape: [...value.shape] });
  }

  /** A float32 initializer holding a tensor's values (read now; the tensor stays the caller's). */
  weight(t: Tensor, hint = 'w', shape: readonly number[] = t.shape): OnnxValue {
    if (product(shape) !== product(t.shape)) throw new RangeError(`onnx: cannot store a [${t.shape}] tensor as ${fmt(shape)}`);
    const raw = tidy(() => t.detach().to('float32').contiguous().toBytes());
    return this.initializer(hint, [...shape], 'float32', raw);
  }

  /** A float32 initializer from plain numbers. */
  floats(values: readonly number[] | Float32Array, shape: readonly number[] = [values.length], hint = 'c'): OnnxValue {
    return this.initializer(hint, [...shape], 'float32', new Uint8Array(Float32Array.from(values).buffer));
  }

  /** A 1-D int64 initializer (shapes, pads, split sizes, axes). */
  ints(values: readonly number[], hint = 'i'): OnnxValue {
    return this.initializer(hint, [values.length], 'int64', new Uint8Array(BigInt64Array.from(values, (v) => BigInt(v)).buffer));
  }

  private initializer(hint: string, dims: number[], dataType: OnnxTensor['dataType'], raw: Uint8Array): OnnxValue {
    const key = `${dataType}[${dims}]${createHash('sha256').update(raw).digest('hex')}`;
    const known = this.byContent.get(key);
    if (known) return known;
    const value = { name: this.fresh(hint), shape: dims };
    this.initializers.push({ name: value.name, dims, dataType, raw });
    this.byContent.set(key, value);
    return value;
  }

  /** One node with one output of the given shape (the caller works the shape out). */
  node(
    opType: string,
    inputs: readonly (OnnxValue | null)[],
    shape: readonly Dim[],
    attributes: Record<string, AttributeValue> = {},
  ): OnnxValue {
    const [out] = this.nodeN(opType, inputs, [shape], attributes);
    return out;
  }

  /** One node with several outputs. A null input is an omitted optional one. */
  nodeN(
    opType: string,
    inputs: readonly (OnnxValue | null)[],
    shapes: readonly (readonly Dim[])[],
    attributes: Record<string, AttributeValue> = {},
  ): OnnxValue[] {
    const name = this.fresh(opType);
    const given = [...inputs];
    while (given.length > 0 && given[given.length - 1] === null) given.pop(); // trailing optional inputs are left out
    const outputs = shapes.map((shape, i) => ({ name: shapes.length === 1 ? name : `${name}.${i}`, shape }));
    this.nodes.push({ opType, inputs: given.map((v) => v?.name ?? ''), outputs: outputs.map((o) => o.name), name, attributes });
    return outputs;
  }

  private elementwise(op: string, a: OnnxValue, b: OnnxValue | number): OnnxValue {
    const right = typeof b === 'number' ? this.floats([b], []) : b;
    return this.node(op, [a, right], broadcast(a.shape, right.shape, op));
  }

  add(a: OnnxValue, b: OnnxValue | number): OnnxValue {
    return this.elementwise('Add', a, b);
  }

  mul(a: OnnxValue, b: OnnxValue | number): OnnxValue {
    return this.elementwise('Mul', a, b);
  }

  div(a: OnnxValue, b: OnnxValue | number): OnnxValue {
    return this.elementwise('Div', a, b);
  }

  unary(op: 'Relu' | 'Sigmoid' | 'Erf' | 'Identity', x: OnnxValue): OnnxValue {
    return this.node(op, [x], x.shape);
  }

  /** a·b with NumPy matmul semantics (b may be a 2-D weight). */
  matmul(a: OnnxValue, b: OnnxValue): OnnxValue {
    const [n, k1] = a.shape.slice(-2);
    const [k2, m] = b.shape.slice(-2);
    if (a.shape.length < 2 || b.shape.length < 2 || k1 !== k2)
      throw new RangeError(`onnx MatMul: shapes ${fmt(a.shape)} and ${fmt(b.shape)} do not multiply`);
    const batch = broadcast(a.shape.slice(0, -2), b.shape.slice(0, -2), 'MatMul');
    return this.node('MatMul', [a, b], [...batch, n, m]);
  }

  /** Reshape where 0 copies the input's dimension at that index and −1 takes what is left (one named dim may be left). */
  reshape(x: OnnxValue, dims: readonly number[]): OnnxValue {
    const shape: Dim[] = dims.map((d, i) => (d === 0 ? x.shape[i] : d));
    const free = shape.indexOf(-1);
    if (free >= 0) {
      const copied = new Set(dims.flatMap((d, i) => (d === 0 ? [i] : [])));
      const rest = x.shape.filter((_, i) => !copied.has(i));
      const named = rest.filter((d) => typeof d === 'string');
      const known = product(rest.filter((d): d is number => typeof d === 'number'));
      const others = product(dims.filter((d, i) => i !== free && d !== 0));
      // A named dimension may pass through −1 alone (its size times 1); mixed with numbers its size is unknown here.
      if (named.length > 1 || (named.length === 1 && known !== others) || known % others !== 0)
        throw new RangeError(`onnx Reshape: cannot reshape ${fmt(x.shape)} to [${dims}]`);
      shape[free] = named.length === 1 ? named[0] : known / others;
    }
    return this.node('Reshape', [x, this.ints(dims, 'shape')], shape);
  }

  transpose(x: OnnxValue, perm: readonly number[]): OnnxValue {
    return this.node(
      'Transpose',
      [x],
      perm.map((p) => x.shape[p]),
      { perm: [...perm] },
    );
  }

  softmax(x: OnnxValue, axis: number): OnnxValue {
    return this.node('Softmax', [x], x.shape, { axis });
  }

  /** ReduceMean / ReduceL2 over `axes` (attribute before opset 18, input from 18). */
  reduce(op: 'ReduceMean' | 'ReduceL2', x: OnnxValue, axes: readonly number[], keepdims: boolean): OnnxValue {
    const rank = x.shape.length;
    const reduced = new Set(axes.map((a) => (a + rank) % rank));
    const shape = x.shape.flatMap((d, i) => (!reduced.has(i) ? [d] : keepdims ? [1] : []));
    const keep = keepdims ? 1 : 0;
    return this.opset >= 18
      ? this.node(op, [x, this.ints(axes, 'axes')], shape, { keepdims: keep })
      : this.node(op, [x], shape, { axes: [...axes], keepdims: keep });
  }

  concat(values: readonly OnnxValue[], axis: number): OnnxValue {
    const rank = values[0].shape.length;
    const a = (axis + rank) % rank;
    const shape = [...values[0].shape];
    shape[a] = values.reduce((sum, v) => sum + (v.shape[a] as number), 0);
    return this.node('Concat', values, shape, { axis });
  }

  /** Splits `x` along `axis` into pieces of `sizes`. */
  split(x: OnnxValue, sizes: readonly number[], axis: number): OnnxValue[] {
    const a = (axis + x.shape.length) % x.shape.length;
    if (x.shape[a] !== sizes.reduce((s, v) => s + v, 0))
      throw new RangeError(`onnx Split: sizes [${sizes}] do not add up to dimension ${a} of ${fmt(x.shape)}`);
    const shapes = sizes.map((s) => x.shape.map((d, i) => (i === a ? s : d)));
    return this.nodeN('Split', [x, this.ints(sizes, 'split')], shapes, { axis });
  }

  /** Constant zero padding; `pads` are ONNX's [begin of every axis…, end of every axis…]. */
  pad(x: OnnxValue, pads: readonly number[]): OnnxValue {
    const rank = x.shape.length;
    const shape = x.shape.map((d, i) => (pads[i] === 0 && pads[i + rank] === 0 ? d : numeric([d], 'Pad')[0] + pads[i] + pads[i + rank]));
    return this.node('Pad', [x, this.ints(pads, 'pads')], shape);
  }

  /** The model: nodes, initializers, inputs and outputs, with string metadata. */
  finish(graphName: string, metadata: Record<string, string> = {}, producerVersion = ''): OnnxModel {
    return {
      irVersion: IR_VERSION[this.opset],
      opset: this.opset,
      producerName: 'catface',
      producerVersion,
      graphName,
      nodes: [...this.nodes],
      initializers: [...this.initializers],
      inputs: [...this.inputs],
      outputs: [...this.outputs],
      metadata,
    };
  }
}

/** Output side of a convolution or pooling window along one axis. */
export function windowOutput(size: Dim, kernel: number, stride: number, padBegin: number, padEnd: number, dilation = 1): number {
  const n = numeric([size], 'window')[0];
  return Math.floor((n + padBegin + padEnd - dilation * (kernel - 1) - 1) / stride) + 1;
}
