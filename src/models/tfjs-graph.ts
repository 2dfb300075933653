// A tfjs graph model (model.json topology + weight shards, as Human ships BlazeFace and FaceMesh in its npm
// package) executed on libtorch. Activations are NCHW tensors laid out channels-last in memory (TF's NHWC, and
// oneDNN's fast path); filters are transposed once at load, TF's 'SAME' padding (asymmetric at stride 2) becomes an explicit pad, and a Reshape goes back through NHWC so
// flattened outputs keep TF's element order. Only the ops those convolutional graphs use are implemented; any
// other op is refused at load with its name. `toOnnx` emits the same graph as ONNX nodes (NCHW, the 'SAME' pads
// as explicit pads), for onnxruntime.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { type OnnxGraph, type OnnxValue, windowOutput } from '../nn/onnx-graph.js';
import { conv2d, maxPool2d, pad, prelu, relu, sigmoid } from '../torch/functional.js';
import { callOp } from '../torch/native.js';
import type { Tensor } from '../torch/tensor.js';
import { parseTfjsWeights, type TfjsManifest } from './tfjs-weights.js';

interface GraphNode {
  name: string;
  op: string;
  input?: string[];
  attr?: Record<string, { s?: string; i?: string; list?: { i?: string[]; s?: string[] } }>;
}

export interface TfjsGraphJson {
  modelTopology: { node: GraphNode[] };
  weightsManifest: TfjsManifest;
}

/** A value flowing through the graph: `spatial` tensors are images in NCHW (TF: NHWC). */
interface Value {
  tensor: Tensor;
  spatial: boolean;
}

/** `last[i]`: this step is input i's last consumer, so the kernel may overwrite it (and return it). */
type Kernel = (inputs: Value[], last: boolean[]) => Value;

/** A value of the ONNX graph: `spatial` ones are images in NCHW. */
interface OnnxFlow {
  value: OnnxValue;
  spatial: boolean;
}

/** A node's ONNX nodes, given its inputs' values. */
type Emit = (g: OnnxGraph, inputs: OnnxFlow[]) => OnnxFlow;

interface Step {
  name: string;
  inputs: string[];
  kernel: Kernel;
  emit: Emit;
}

const reluInPlace = (t: Tensor) => callOp('aten::relu_', [t]) as Tensor;

/** c10::MemoryFormat::ChannelsLast: NHWC in memory, where libtorch's (oneDNN) depthwise convolutions are ~10× faster. */
const CHANNELS_LAST = 2;
const channelsLast = (t: Tensor) => callOp('aten::contiguous', [t, CHANNELS_LAST]) as Tensor;

const text = (s: string | undefined) => (s === undefined ? '' : Buffer.from(s, 'base64').toString('utf8'));
const ints = (xs: string[] | undefined) => (xs ?? []).map(Number);
const nodeName = (input: string) => input.replace(/:\d+$/, '');

/** TF's 'SAME' padding for one side: [before, after] so that out = ceil(in / stride). */
function samePadding(size: number, kernel: number, stride: number): [number, number] {
  const total = Math.max((Math.ceil(size / stride) - 1) * stride + kernel - size, 0);
  return [Math.floor(total / 2), total - Math.floor(total / 2)];
}

/** TF's padding as ONNX's pads [top, left, bottom, right] and the output side, for an NCHW shape. */
function onnxWindow(
  shape: readonly (number | string)[],
  padding: string,
  kernel: [number, number],
  strides: [number, number],
): { pads: number[]; height: number; width: number } {
  const [h, w] = [Number(shape[2]), Number(shape[3])];
  if (padding !== 'VALID' && padding !== 'SAME') throw new Error(`tfjs graph: padding '${padding}' is not supported`);
  const [top, bottom] = padding === 'SAME' ? samePadding(h, kernel[0], strides[0]) : [0, 0];
  const [left, right] = padding === 'SAME' ? samePadding(w, kernel[1], strides[1]) : [0, 0];
  return {
    pads: [top, left, bottom, right],
    height: windowOutput(h, kernel[0], strides[0], top, bottom),
    width: windowOutput(w, kernel[1], strides[1], left, right),
  };
}

/** An ONNX Conv (or grouped, depthwise) with TF's padding. */
function onnxConv(
  g: OnnxGraph,
  x: OnnxValue,
  filter: Tensor,
  bias: Tensor | null,
  padding: string,
  strides: [number, number],
  group: number,
): OnnxValue {
  const kernel: [number, number] = [filter.shape[2], filter.shape[3]];
  const { pads, height, width } = onnxWindow(x.shape, padding, kernel, strides);
  const b = bias ? g.weight(bias, 'bias') : null;
  return g.node('Conv', [x, g.weight(filter, 'filter'), b], [x.shape[0], filter.shape[0], height, width], {
    kernel_shape: kernel,
    strides,
    pads,
    group,
  });
}

function onnxSpatial(v: OnnxFlow, op: string): OnnxValue {
  if (!v.spatial) throw new Error(`tfjs graph: ${op} expects an image tensor`);
  return v.value;
}

/**
 * Runs a window op (`op(input, symmetric padding)`) with TF's padding: 'VALID' none; 'SAME' as libtorch's own
 * padding when symmetric, else an explicit pad of `value` (kept channels-last) first.
 */
function windowed(
  x: Tensor,
  padding: string,
  kernel: [number, number],
  strides: [number, number],
  value: number,
  op: (input: Tensor, padding: [number, number]) => Tensor,
): Tensor {
  if (padding === 'VALID') return op(x, [0, 0]);
  if (padding !== 'SAME') throw new Error(`tfjs graph: padding '${padding}' is not supported`);
  const [top, bottom] = samePadding(x.shape[2], kernel[0], strides[0]);
  const [left, right] = samePadding(x.shape[3], kernel[1], strides[1]);
  if (top === bottom && left === right) return op(x, [top, left]);
  const padded = pad(x, [left, right, top, bottom], 'constant', value);
  const nhwc = channelsLast(padded);
  padded.dispose();
  const out = op(nhwc, [0, 0]);
  nhwc.dispose();
  return out;
}

function spatial(v: Value, op: string): Tensor {
  if (!v.spatial) throw new Error(`tfjs graph: ${op} expects an image tensor`);
  return v.tensor;
}

export class TfjsGraph {
  private constructor(
    private readonly order: Step[],
    private readonly consumers: Map<string, number>,
    private readonly inputName: string,
    private readonly weights: Map<string, Tensor>,
  ) {}

  /** Reads a graph model's model.json and the shards beside it. */
  static load(modelJson: string): TfjsGraph {
    const json = JSON.parse(readFileSync(modelJson, 'utf8')) as TfjsGraphJson;
    const dir = dirname(modelJson);
    const shards = new Map(
      json.weightsManifest.flatMap((g) => g.paths).map((p) => [p, new Uint8Array(readFileSync(join(dir, p)))] as const),
    );
    return TfjsGraph.fromJson(json, shards, modelJson);
  }

  /** The graph of a parsed model.json with its shard bytes (by path as the manifest names them). */
  static fromJson(json: TfjsGraphJson, shards: Map<string, Uint8Array>, source = 'model.json'): TfjsGraph {
    const weights = parseTfjsWeights(json.weightsManifest, shards, source);
    const nodes = json.modelTopology.node;
    const placeholders = nodes.filter((n) => n.op === 'Placeholder');
    if (placeholders.length !== 1) throw new Error(`${source}: expected one input, found ${placeholders.length}`);
    const prepared = new Map<string, Tensor>(); // weights in libtorch layout, by node name
    const constant = (name: string): Tensor => {
      const t = weights.get(name);
      if (!t) throw new Error(`${source}: constant '${name}' has no weights`);
      return t;
    };
    const own = (key: string, make: () => Tensor) => {
      const t = make();
      prepared.set(key, t);
      return t;
    };
    try {
      const order: Step[] = [];
      for (const node of nodes) {
        if (node.op === 'Const' || node.op === 'Placeholder') continue;
        const inputs = (node.input ?? []).filter((i) => !i.startsWith('^')).map(nodeName);
        const { kernel, emit } = TfjsGraph.kernel(node, inputs, constant, own, source);
        // Only activations flow between kernels; constants were bound above.
        order.push({ name: node.name, inputs: inputs.filter((i) => !weights.has(i)), kernel, emit });
      }
      const sorted = topological(order, placeholders[0].name, source);
      const consumers = new Map<string, number>();
      for (const step of sorted) for (const i of step.inputs) consumers.set(i, (consumers.get(i) ?? 0) + 1);
      return new TfjsGraph(sorted, consumers, placeholders[0].name, prepared);
    } catch (error) {
      for (const t of prepared.values()) t.dispose();
      throw error;
    } finally {
      const kept = new Set(prepared.values());
      for (const t of weights.values()) if (!kept.has(t)) t.dispose(); // the originals of transposed weights
    }
  }

  private static kernel(
    node: GraphNode,
    inputs: string[],
    constant: (name: string) => Tensor,
    own: (key: string, make: () => Tensor) => Tensor,
    source: string,
  ): { kernel: Kernel; emit: Emit } {
    const attr = node.attr ?? {};
    const strides = (): [number, number] => {
      const s = ints(attr.strides?.list?.i);
      return [s[1] ?? 1, s[2] ?? 1];
    };
    const padding = text(attr.padding?.s);
    for (const d of ints(attr.dilations?.list?.i))
      if (d !== 1) throw new Error(`${source}: ${node.name}: dilated convolutions are not supported`);
    if (attr.data_format && text(attr.data_format.s) !== 'NHWC') throw new Error(`${source}: ${node.name}: only NHWC graphs are supported`);
    switch (node.op) {
      case 'Identity':
        return { kernel: ([x]) => ({ tensor: x.tensor.clone(), spatial: x.spatial }), emit: (_, [x]) => x };
      case 'Relu':
        return {
          kernel: ([x], [last]) => {
            if (!last) return { tensor: relu(x.tensor), spatial: x.spatial };
            reluInPlace(x.tensor).dispose(); // the returned handle is a second reference to x
            return x;
          },
          emit: (g, [x]) => ({ value: g.unary('Relu', x.value), spatial: x.spatial }),
        };
      case 'Sigmoid':
        return {
          kernel: ([x]) => ({ tensor: sigmoid(x.tensor), spatial: x.spatial }),
          emit: (g, [x]) => ({ value: g.unary('Sigmoid', x.value), spatial: x.spatial }),
        };
      case 'AddV2':
      case 'Add': {
        const check = (a: { spatial: boolean }, b: { spatial: boolean }) => {
          if (a.spatial !== b.spatial) throw new Error(`tfjs graph: ${node.name} adds an image to a non-image`);
        };
        return {
          kernel: ([a, b]) => {
            check(a, b);
            return { tensor: a.tensor.add(b.tensor), spatial: a.spatial };
          },
          emit: (g, [a, b]) => {
            check(a, b);
            return { value: g.add(a.value, b.value), spatial: a.spatial };
          },
        };
      }
      case 'Prelu': {
        const alpha = own(`${node.name}/alpha`, () => constant(inputs[1]).flatten().contiguous());
        return {
          kernel: ([x]) => ({ tensor: prelu(spatial(x, 'Prelu'), alpha), spatial: true }),
          emit: (g, [x]) => {
            const v = onnxSpatial(x, 'Prelu');
            return { value: g.node('PRelu', [v, g.weight(alpha, 'prelu', [alpha.shape[0], 1, 1])], v.shape), spatial: true };
          },
        };
      }
      case 'MaxPool': {
        const k = ints(attr.ksize?.list?.i);
        const kernel: [number, number] = [k[1], k[2]];
        return {
          kernel: ([x]) => ({
            tensor: windowed(spatial(x, 'MaxPool'), padding, kernel, strides(), Number.NEGATIVE_INFINITY, (p, padding) =>
              maxPool2d(p, kernel, { stride: strides(), padding }),
            ),
            spatial: true,
          }),
          // ONNX's MaxPool never picks a padded cell, as TF's -inf padding.
          emit: (g, [x]) => {
            const v = onnxSpatial(x, 'MaxPool');
            const { pads, height, width } = onnxWindow(v.shape, padding, kernel, strides());
            const shape = [v.shape[0], v.shape[1], height, width];
            return { value: g.node('MaxPool', [v], shape, { kernel_shape: kernel, strides: strides(), pads }), spatial: true };
          },
        };
      }
      case 'Pad': {
        const [n, h, w, c] = constant(inputs[1]).toArray() as number[][];
        if (n[0] !== 0 || n[1] !== 0) throw new Error(`${source}: ${node.name}: padding the batch is not supported`);
        return {
          kernel: ([x]) => ({ tensor: pad(spatial(x, 'Pad'), [w[0], w[1], h[0], h[1], c[0], c[1]]), spatial: true }),
          emit: (g, [x]) => ({ value: g.pad(onnxSpatial(x, 'Pad'), [0, c[0], h[0], w[0], 0, c[1], h[1], w[1]]), spatial: true }),
        };
      }
      case 'Reshape': {
        const shape = constant(inputs[1]).toArray() as number[];
        return {
          kernel: ([x]) => {
            const nhwc = x.spatial ? x.tensor.permute(0, 2, 3, 1).contiguous() : x.tensor;
            const out = nhwc.reshape(shape);
            if (nhwc !== x.tensor) nhwc.dispose();
            return { tensor: out, spatial: false };
          },
          emit: (g, [x]) => {
            const nhwc = x.spatial ? g.transpose(x.value, [0, 2, 3, 1]) : x.value;
            return { value: g.reshape(nhwc, shape), spatial: false };
          },
        };
      }
      case 'DepthwiseConv2dNative': {
        // [kh, kw, in, multiplier] → [in·multiplier, 1, kh, kw]
        const filter = own(`${node.name}/filter`, () => {
          const [kh, kw, cin, m] = constant(inputs[1]).shape;
          return channelsLast(
            constant(inputs[1])
              .permute(2, 3, 0, 1)
              .reshape([cin * m, 1, kh, kw]),
          );
        });
        const kernel: [number, number] = [filter.shape[2], filter.shape[3]];
        const groups = constant(inputs[1]).shape[2];
        return {
          kernel: ([x]) => ({
            tensor: windowed(spatial(x, 'DepthwiseConv2dNative'), padding, kernel, strides(), 0, (p, padding) =>
              conv2d(p, filter, null, { stride: strides(), padding, groups }),
            ),
            spatial: true,
          }),
          emit: (g, [x]) => ({
            value: onnxConv(g, onnxSpatial(x, node.op), filter, null, padding, strides(), groups),
            spatial: true,
          }),
        };
      }
      case '_FusedConv2D':
      case 'Conv2D': {
        // [kh, kw, in, out] → [out, in, kh, kw]
        const filter = own(`${node.name}/filter`, () => channelsLast(constant(inputs[1]).permute(3, 2, 0, 1)));
        const fused = (attr.fused_ops?.list?.s ?? []).map(text);
        const known = ['BiasAdd', 'Relu', 'Prelu'];
        const unknown = fused.find((f) => !known.includes(f));
        if (unknown) throw new Error(`${source}: ${node.name}: fused op ${unknown} is not supported`);
        const bias = fused.includes('BiasAdd') ? constant(inputs[2]) : null;
        if (bias) own(`${node.name}/bias`, () => bias);
        const alpha = fused.includes('Prelu') ? own(`${node.name}/alpha`, () => constant(inputs[3]).flatten().contiguous()) : null;
        const kernel: [number, number] = [filter.shape[2], filter.shape[3]];
        return {
          kernel: ([x]) => {
            const conv = windowed(spatial(x, node.op), padding, kernel, strides(), 0, (p, padding) =>
              conv2d(p, filter, bias, { stride: strides(), padding }),
            );
            if (!fused.includes('Relu') && !alpha) return { tensor: conv, spatial: true };
            if (!alpha) {
              reluInPlace(conv).dispose();
              return { tensor: conv, spatial: true };
            }
            const out = prelu(conv, alpha);
            conv.dispose();
            return { tensor: out, spatial: true };
          },
          emit: (g, [x]) => {
            const conv = onnxConv(g, onnxSpatial(x, node.op), filter, bias, padding, strides(), 1);
            if (alpha)
              return { value: g.node('PRelu', [conv, g.weight(alpha, 'prelu', [alpha.shape[0], 1, 1])], conv.shape), spatial: true };
            return { value: fused.includes('Relu') ? g.unary('Relu', conv) : conv, spatial: true };
          },
        };
      }
      default:
        throw new Error(`${source}: op ${node.op} (${node.name}) is not supported`);
    }
  }

  /**
   * Runs the graph on `input` (the model's NHWC input as NCHW [B, C, H, W]) and returns the named outputs
   * (e.g. 'Identity_1'); every intermediate tensor is freed as soon as its last consumer has run.
   */
  run(input: Tensor, outputs: readonly string[]): Tensor[] {
    const nhwc = channelsLast(input); // the input itself when already laid out so (e.g. a permuted HWC image)
    const values = new Map<string, Value>([[this.inputName, { tensor: nhwc, spatial: true }]]);
    const remaining = new Map(this.consumers);
    for (const o of outputs) remaining.set(o, (remaining.get(o) ?? 0) + 1); // outputs are never freed here
    try {
      for (const step of this.order) {
        const args = step.inputs.map((i) => values.get(i) as Value);
        const last = step.inputs.map((i) => i !== this.inputName && remaining.get(i) === 1);
        const out = step.kernel(args, last);
        values.set(step.name, out);
        for (const i of step.inputs) {
          const left = (remaining.get(i) ?? 0) - 1;
          remaining.set(i, left);
          if (left === 0 && i !== this.inputName) {
            if (values.get(i) !== out) values.get(i)?.tensor.dispose(); // else the kernel reused it as its output
            values.delete(i);
          }
        }
      }
      return outputs.map((o) => {
        const v = values.get(o);
        if (!v) throw new Error(`tfjs graph: no output named '${o}'`);
        values.delete(o);
        return v.tensor;
      });
    } finally {
      for (const [name, v] of values) if (name !== this.inputName) v.tensor.dispose();
      nhwc.dispose();
    }
  }

  /**
   * The graph as ONNX nodes on `input` (NCHW [B, C, H, W], static H and W: 'SAME' pads depend on them), the
   * `outputs` values by tfjs name.
   */
  toOnnx(g: OnnxGraph, input: OnnxValue, outputs: readonly string[]): OnnxValue[] {
    const values = new Map<string, OnnxFlow>([[this.inputName, { value: input, spatial: true }]]);
    for (const step of this.order)
      values.set(
        step.name,
        step.emit(
          g,
          step.inputs.map((i) => values.get(i) as OnnxFlow),
        ),
      );
    return outputs.map((o) => {
      const v = values.get(o);
      if (!v) throw new Error(`tfjs graph: no output named '${o}'`);
      return v.value;
    });
  }

  /** Frees the weights. */
  dispose(): void {
    for (const t of this.weights.values()) t.dispose();
  }
}

/** Orders the steps so each runs after its inputs. */
function topological<T extends { name: string; inputs: string[] }>(steps: T[], input: string, source: string): T[] {
  const byName = new Map(steps.map((s) => [s.name, s]));
  const done = new Set<string>([input]);
  const out: T[] = [];
  const visiting = new Set<string>();
  const visit = (name: string) => {
    if (done.has(name)) return;
    const step = byName.get(name);
    if (!step) throw new Error(`${source}: node '${name}' is referenced but not defined`);
    if (visiting.has(name)) throw new Error(`${source}: the graph has a cycle through '${name}'`);
    visiting.add(name);
    for (const i of step.inputs) visit(i);
    visiting.delete(name);
    done.add(name);
    out.push(step);
  };
  for (const s of steps) visit(s.name);
  return out;
}
