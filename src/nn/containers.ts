// Containers (torch.nn.Sequential, ModuleList, ModuleDict): children named '0', '1', … (or by key) so state-dict
// keys read `layer.0.weight` exactly as in PyTorch.
import type { Tensor } from '../torch/tensor.js';
import { Layer } from './layer.js';
import { Module } from './module.js';
import type { OnnxGraph, OnnxValue } from './onnx-graph.js';

/** An indexed list of modules; it registers them but defines no forward. */
export class ModuleList<M extends Module = Module> extends Module {
  private readonly items: M[] = [];

  constructor(modules: readonly M[] = []) {
    super();
    for (const m of modules) this.push(m);
  }

  push(m: M): this {
    this.module(String(this.items.length), m);
    this.items.push(m);
    return this;
  }

  get length(): number {
    return this.items.length;
  }

  at(index: number): M {
    const m = this.items.at(index);
    if (m === undefined) throw new RangeError(`${this.constructor.name}: index ${index} out of range (length ${this.items.length})`);
    return m;
  }

  [Symbol.iterator](): Iterator<M> {
    return this.items[Symbol.iterator]();
  }
}

/** Modules under names of their own; it registers them (so its state dict is theirs, prefixed) but defines no forward. */
export class ModuleDict<M extends Module = Module> extends Module {
  constructor(modules: Readonly<Record<string, M>>) {
    super();
    for (const [name, m] of Object.entries(modules)) this.module(name, m);
  }
}

/**
 * Applies `layers` in turn, freeing each intermediate result as soon as the next layer has consumed it (as
 * Python frees it when its last reference goes), so a pass reuses memory; autograd keeps what backward needs by
 * itself. The input is the caller's and stays alive unless `ownsInput`. A layer must therefore not hold on to
 * its input tensor object after `forward` returns.
 */
export function chain(input: Tensor, layers: Iterable<Layer>, ownsInput = false): Tensor {
  let x = input;
  for (const layer of layers) {
    const next = layer.forward(x);
    if ((x !== input || ownsInput) && next !== x) x.dispose();
    x = next;
  }
  return x;
}

/** Layers applied one after another. */
export class Sequential extends Layer {
  private readonly layers: Layer[];

  constructor(...layers: Layer[]) {
    super();
    this.layers = layers;
    layers.forEach((layer, i) => {
      this.module(String(i), layer);
    });
  }

  get length(): number {
    return this.layers.length;
  }

  at(index: number): Layer {
    const layer = this.layers.at(index);
    if (layer === undefined) throw new RangeError(`Sequential: index ${index} out of range (length ${this.layers.length})`);
    return layer;
  }

  [Symbol.iterator](): Iterator<Layer> {
    return this.layers[Symbol.iterator]();
  }

  forward(input: Tensor): Tensor {
    return chain(input, this.layers);
  }

  toOnnx(g: OnnxGraph, x: OnnxValue): OnnxValue {
    return this.layers.reduce((value, layer) => layer.toOnnx(g, value), x);
  }
}
