// Optimizer: parameter groups, per-parameter state and a resumable state dict, as torch.optim.Optimizer.
// Subclasses implement `updateGroup` with libtorch ops under no-grad.
import { noGrad } from '../../torch/autograd.js';
import { dispose, keep, tidy } from '../../torch/scope.js';
import { Tensor } from '../../torch/tensor.js';

/** A group of parameters sharing hyper-parameters; options left out take the optimiser's defaults. */
export type ParamGroup<O> = { params: readonly Tensor[] } & Partial<O>;

/** Per-parameter state: tensors (momentum buffers, moments) and numbers (step counts). */
export type ParamState = Record<string, Tensor | number>;

/**
 * The optimiser's full state, as PyTorch's `state_dict()`: per-parameter state keyed by the parameter's
 * position over all groups, and each group's hyper-parameters with the positions of its parameters.
 * Numbers are JSON-serialisable; tensors can go to safetensors (see `flattenOptimizerState`).
 */
export interface OptimizerState<O> {
  state: Record<number, ParamState>;
  paramGroups: (O & { params: number[] })[];
}

export abstract class Optimizer<O extends { lr: number }> {
  readonly paramGroups: (O & { params: Tensor[] })[];
  protected readonly state = new Map<Tensor, ParamState>();

  protected constructor(params: readonly Tensor[] | readonly ParamGroup<O>[], defaults: O, name: string) {
    const groups: ParamGroup<O>[] =
      params.length > 0 && params[0] instanceof Tensor
        ? [{ params: params as Tensor[] } as unknown as ParamGroup<O>]
        : (params as ParamGroup<O>[]);
    if (groups.length === 0) throw new Error(`${name}: got an empty parameter list`);
    const seen = new Set<Tensor>();
    this.paramGroups = groups.map((g, gi) => {
      if (!Array.isArray(g.params) || g.params.length === 0) throw new Error(`${name}: parameter group ${gi} has no parameters`);
      for (const p of g.params) {
        if (!(p instanceof Tensor)) throw new TypeError(`${name}: parameter group ${gi} holds a non-Tensor`);
        if (seen.has(p)) throw new Error(`${name}: a parameter appears in more than one group (group ${gi})`);
        if (!p.isLeaf) throw new Error(`${name}: can only optimise leaf tensors (group ${gi} holds one computed from others)`);
        seen.add(p);
      }
      for (const key of Object.keys(g)) {
        if (key !== 'params' && !(key in defaults)) throw new TypeError(`${name}: unknown option '${key}' in parameter group ${gi}`);
      }
      const group = { ...defaults, ...g, params: [...g.params] };
      this.validate(group, `${name} group ${gi}`);
      return group;
    });
  }

  /** Throws a clear error for an invalid hyper-parameter. */
  protected abstract validate(group: O, where: string): void;

  /** Applies one update to the group's parameters that have gradients (`grads[i]` belongs to `params[i]`). */
  protected abstract updateGroup(group: O, params: Tensor[], grads: Tensor[]): void;

  /** One optimisation step over every parameter with a gradient. */
  step(): void {
    tidy(() =>
      noGrad(() => {
        for (const group of this.paramGroups) {
          const params: Tensor[] = [];
          const grads: Tensor[] = [];
          for (const p of group.params) {
            const g = p.grad;
            if (g === null) continue;
            params.push(p);
            grads.push(g);
          }
          if (params.length > 0) this.updateGroup(group, params, grads);
        }
      }),
    );
  }

  /** Clears the gradients: drops them (default, frees memory) or fills them with zeros. */
  zeroGrad(setToNone = true): void {
    for (const group of this.paramGroups) {
      for (const p of group.params) {
        if (setToNone) {
          p.grad = null;
          continue;
        }
        const g = p.grad;
        if (g === null) continue;
        g.zero_();
        g.dispose();
      }
    }
  }

  /** The state tensors of `p`, created by `init` on first use and kept out of scopes. */
  protected stateOf(p: Tensor, init: () => ParamState): ParamState {
    let s = this.state.get(p);
    if (s === undefined) {
      s = init();
      for (const v of Object.values(s)) if (v instanceof Tensor) keep(v);
      this.state.set(p, s);
    }
    return s;
  }

  /** Hyper-parameters and per-parameter state; tensors are the live ones (copy them to keep a snapshot). */
  stateDict(): OptimizerState<O> {
    const index = new Map<Tensor, number>();
    const paramGroups = this.paramGroups.map((g) => {
      const { params, ...options } = g;
      return {
        ...(options as unknown as O),
        params: params.map((p) => {
          index.set(p, index.size);
          return index.size - 1;
        }),
      };
    });
    const state: Record<number, ParamState> = {};
    for (const [p, s] of this.state) {
      const i = index.get(p);
      if (i !== undefined) state[i] = { ...s };
    }
    return { state, paramGroups };
  }

  /** Restores a state from `stateDict()` (tensors are copied), for an exact resume; shapes must match. */
  loadStateDict(saved: OptimizerState<O>): void {
    const name = this.constructor.name;
    if (saved.paramGroups?.length !== this.paramGroups.length) {
      throw new Error(
        `${name}.loadStateDict: ${saved.paramGroups?.length} parameter groups saved, the optimiser has ${this.paramGroups.length}`,
      );
    }
    const params: Tensor[] = [];
    saved.paramGroups.forEach((g, gi) => {
      const mine = this.paramGroups[gi];
      if (g.params.length !== mine.params.length) {
        throw new Error(`${name}.loadStateDict: group ${gi} saved ${g.params.length} parameters, the optimiser has ${mine.params.length}`);
      }
      g.params.forEach((saveIndex, j) => {
        params[saveIndex] = mine.params[j];
      });
    });
    const restored = new Map<Tensor, ParamState>();
    try {
      for (const [key, s] of Object.entries(saved.state)) {
        const p = params[Number(key)];
        if (p === undefined) throw new Error(`${name}.loadStateDict: state for parameter ${key}, which no group lists`);
        const copy: ParamState = {};
        for (const [field, v] of Object.entries(s)) {
          if (typeof v === 'number') {
            if (!Number.isFinite(v)) throw new Error(`${name}.loadStateDict: state ${key}.${field} is ${v}`);
            copy[field] = v;
            continue;
          }
          if (!(v instanceof Tensor)) throw new TypeError(`${name}.loadStateDict: state ${key}.${field} is neither a number nor a Tensor`);
          if (v.shape.join() !== p.shape.join()) {
            throw new Error(`${name}.loadStateDict: state ${key}.${field} has shape [${v.shape}], the parameter [${p.shape}]`);
          }
          copy[field] = keep(noGrad(() => v.to(p.dtype).clone()));
        }
        restored.set(p, copy);
      }
    } catch (err) {
      for (const s of restored.values()) dispose(Object.values(s));
      throw err;
    }
    saved.paramGroups.forEach((g, gi) => {
      const { params: _indices, ...options } = g;
      const group = { ...this.paramGroups[gi], ...options, params: this.paramGroups[gi].params };
      this.validate(group, `${name}.loadStateDict group ${gi}`);
      this.paramGroups[gi] = group;
    });
    this.disposeState();
    for (const [p, s] of restored) this.state.set(p, s);
  }

  /** Frees the state tensors (the parameters stay). */
  dispose(): void {
    this.disposeState();
  }

  private disposeState(): void {
    for (const s of this.state.values()) dispose(Object.values(s));
    this.state.clear();
  }
}

/** Splits parameters into two groups: weight decay for matrices and kernels, none for 1-D ones (biases, norms, PReLU). */
export function decayGroups<O extends { weightDecay: number }>(named: Iterable<[string, Tensor]>, weightDecay: number): ParamGroup<O>[] {
  const decay: Tensor[] = [];
  const noDecay: Tensor[] = [];
  for (const [, p] of named) {
    if (p.requiresGrad) (p.ndim <= 1 ? noDecay : decay).push(p);
  }
  const groups = [
    { params: decay, weightDecay },
    { params: noDecay, weightDecay: 0 },
  ];
  return groups.filter((g) => g.params.length > 0) as unknown as ParamGroup<O>[];
}

/** State-dict tensors under names `state.<i>.<field>` (for safetensors) and the rest as JSON-ready data. */
export function flattenOptimizerState<O>(s: OptimizerState<O>): { tensors: Map<string, Tensor>; json: unknown } {
  const tensors = new Map<string, Tensor>();
  const state: Record<string, Record<string, number | { tensor: string }>> = {};
  for (const [i, fields] of Object.entries(s.state)) {
    state[i] = {};
    for (const [field, v] of Object.entries(fields)) {
      if (typeof v === 'number') state[i][field] = v;
      else {
        const key = `state.${i}.${field}`;
        tensors.set(key, v);
        state[i][field] = { tensor: key };
      }
    }
  }
  return { tensors, json: { state, paramGroups: s.paramGroups } };
}

/** The inverse of `flattenOptimizerState`; `source` names the file in errors. */
export function unflattenOptimizerState<O>(json: unknown, tensors: Map<string, Tensor>, source = 'optimizer state'): OptimizerState<O> {
  const j = json as { state?: Record<string, Record<string, number | { tensor: string }>>; paramGroups?: unknown };
  if (typeof j !== 'object' || j === null || typeof j.state !== 'object' || !Array.isArray(j.paramGroups)) {
    throw new Error(`${source}: not an optimizer state (needs 'state' and 'paramGroups')`);
  }
  const state: Record<number, ParamState> = {};
  for (const [i, fields] of Object.entries(j.state ?? {})) {
    state[Number(i)] = {};
    for (const [field, v] of Object.entries(fields)) {
      if (typeof v === 'number') state[Number(i)][field] = v;
      else {
        const t = tensors.get(v?.tensor);
        if (t === undefined) throw new Error(`${source}: tensor '${v?.tensor}' for state ${i}.${field} is missing`);
        state[Number(i)][field] = t;
      }
    }
  }
  return { state, paramGroups: j.paramGroups as (O & { params: number[] })[] };
}
