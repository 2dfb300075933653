// Module: the unit of a network, as torch.nn.Module. Parameters, buffers and child modules are registered by
// name (`this.param('weight', …)`, `this.buffer(…)`, `this.module('conv1', …)`) so that state-dict keys equal
// PyTorch's for the same architecture and pretrained weights load by name.
import { noGrad } from '../torch/autograd.js';
import { keep, tidy } from '../torch/scope.js';
import type { Tensor } from '../torch/tensor.js';

export type StateDict = Map<string, Tensor>;

export interface LoadResult {
  missing: string[];
  unexpected: string[];
}

export class StateDictError extends Error {
  constructor(
    message: string,
    readonly missing: string[],
    readonly unexpected: string[],
    readonly misshaped: string[],
  ) {
    super(message);
    this.name = 'StateDictError';
  }
}

export class Module {
  training = true;
  private readonly params = new Map<string, Tensor | null>();
  private readonly buffers_ = new Map<string, Tensor | null>();
  private readonly nonPersistent = new Set<string>();
  private readonly children_ = new Map<string, Module | null>();

  /** Registers a learnable tensor under `name` (kept out of scopes; requiresGrad unless told otherwise). */
  protected param(name: string, value: Tensor, options: { requiresGrad?: boolean } = {}): Tensor {
    this.checkName(name);
    keep(value);
    if (value.isLeaf) value.requiresGrad = options.requiresGrad ?? true;
    this.params.set(name, value);
    return value;
  }

  /** Registers an optional parameter slot that is empty (PyTorch's `bias=None`). */
  protected noParam(name: string): null {
    this.checkName(name);
    this.params.set(name, null);
    return null;
  }

  /** Registers a non-learnable state tensor (running statistics); `persistent` ones are in the state dict. */
  protected buffer(name: string, value: Tensor, persistent = true): Tensor {
    this.checkName(name);
    keep(value);
    this.buffers_.set(name, value);
    if (!persistent) this.nonPersistent.add(name);
    return value;
  }

  /** Registers a child module; its entries appear as `name.…` in the state dict. */
  protected module<M extends Module | null>(name: string, child: M): M {
    this.checkName(name);
    this.children_.set(name, child);
    return child;
  }

  private checkName(name: string): void {
    if (!name || name.includes('.')) throw new Error(`${this.constructor.name}: bad member name '${name}' (non-empty, no dots)`);
    if (this.params.has(name) || this.buffers_.has(name) || this.children_.has(name)) {
      throw new Error(`${this.constructor.name}: '${name}' is registered twice`);
    }
  }

  /** Direct children with their names. */
  namedChildren(): [string, Module][] {
    return [...this.children_.entries()].filter((e): e is [string, Module] => e[1] !== null);
  }

  children(): Module[] {
    return this.namedChildren().map(([, m]) => m);
  }

  /** This module and every descendant, with dotted names ('' for this one). */
  namedModules(prefix = ''): [string, Module][] {
    const out: [string, Module][] = [[prefix, this]];
    for (const [name, child] of this.namedChildren()) out.push(...child.namedModules(prefix ? `${prefix}.${name}` : name));
    return out;
  }

  modules(): Module[] {
    return this.namedModules().map(([, m]) => m);
  }

  namedParameters(recurse = true): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    const seen = new Set<Tensor>();
    for (const [prefix, m] of recurse ? this.namedModules() : [['', this] as [string, Module]]) {
      for (const [name, p] of m.params) {
        if (p === null || seen.has(p)) continue;
        seen.add(p);
        out.push([prefix ? `${prefix}.${name}` : name, p]);
      }
    }
    return out;
  }

  parameters(recurse = true): Tensor[] {
    return this.namedParameters(recurse).map(([, p]) => p);
  }

  namedBuffers(recurse = true): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [prefix, m] of recurse ? this.namedModules() : [['', this] as [string, Module]]) {
      for (const [name, b] of m.buffers_) if (b !== null) out.push([prefix ? `${prefix}.${name}` : name, b]);
    }
    return out;
  }

  buffers(recurse = true): Tensor[] {
    return this.namedBuffers(recurse).map(([, b]) => b);
  }

  /** Number of parameter elements (only trainable ones when `trainableOnly`). */
  numParameters(trainableOnly = false): number {
    return this.parameters()
      .filter((p) => !trainableOnly || p.requiresGrad)
      .reduce((n, p) => n + p.numel(), 0);
  }

  /** Training mode (dropout active, batch-norm batch statistics) for this module and its descendants. */
  train(mode = true): this {
    for (const m of this.modules()) m.training = mode;
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /** Turns gradients on or off for every parameter (freezing). */
  requiresGrad_(flag = true): this {
    for (const p of this.parameters()) p.requiresGrad = flag;
    return this;
  }

  /** Drops accumulated gradients. */
  zeroGrad(): void {
    for (const p of this.parameters()) p.grad = null;
  }

  /** Calls `fn` on every module, children first (like PyTorch's `apply`), e.g. for custom initialisation. */
  apply(fn: (m: Module) => void): this {
    for (const child of this.children()) child.apply(fn);
    fn(this);
    return this;
  }

  /** Parameters and persistent buffers by PyTorch-style dotted name. The tensors are the live ones. */
  stateDict(): StateDict {
    const out: StateDict = new Map();
    for (const [prefix, m] of this.namedModules()) {
      const key = (name: string) => (prefix ? `${prefix}.${name}` : name);
      for (const [name, p] of m.params) if (p !== null) out.set(key(name), p);
      for (const [name, b] of m.buffers_) if (b !== null && !m.nonPersistent.has(name)) out.set(key(name), b);
    }
    return out;
  }

  /**
   * Copies values into this module's tensors (in place, so optimisers keep their references). With `strict`
   * (default), missing or unexpected keys are an error; shape mismatches and non-finite values always are.
   * Nothing is written unless every check passes.
   */
  loadStateDict(state: StateDict | Record<string, Tensor>, options: { strict?: boolean; source?: string } = {}): LoadResult {
    const { strict = true, source = 'state dict' } = options;
    const incoming = state instanceof Map ? state : new Map(Object.entries(state));
    const own = this.stateDict();
    const missing = [...own.keys()].filter((k) => !incoming.has(k));
    const unexpected = [...incoming.keys()].filter((k) => !own.has(k));
    const misshaped: string[] = [];
    const nonFinite: string[] = [];
    for (const [key, target] of own) {
      const value = incoming.get(key);
      if (!value) continue;
      if (value.shape.length !== target.shape.length || value.shape.some((s, i) => s !== target.shape[i])) {
        misshaped.push(`${key}: expected [${target.shape}], got [${value.shape}]`);
      } else if (value.isFloatingPoint && !tidy(() => noGrad(() => value.isfinite().all().item()))) {
        nonFinite.push(key);
      }
    }
    const problems: string[] = [];
    if (strict && missing.length) problems.push(`missing keys: ${missing.join(', ')}`);
    if (strict && unexpected.length) problems.push(`unexpected keys: ${unexpected.join(', ')}`);
    if (misshaped.length) problems.push(`shape mismatch: ${misshaped.join('; ')}`);
    if (nonFinite.length) problems.push(`NaN or Inf values in: ${nonFinite.join(', ')}`);
    if (problems.length) {
      throw new StateDictError(
        `${this.constructor.name}.loadStateDict(${source}): ${problems.join(' | ')}`,
        missing,
        unexpected,
        misshaped,
      );
    }
    noGrad(() => {
      for (const [key, target] of own) {
        const value = incoming.get(key);
        if (value) target.copy_(value);
      }
    });
    return { missing, unexpected };
  }

  /** Frees every parameter and buffer of this module and its descendants. */
  dispose(): void {
    for (const p of this.parameters()) p.dispose();
    for (const b of this.buffers()) b.dispose();
  }
}
