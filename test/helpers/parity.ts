// Batched forward + gradient parity against PyTorch: every case runs here and in one Python process. Each
// output's requiresGrad is compared with PyTorch's; the gradient check backpropagates a random weighted sum of
// every output that requires grad on either side (the same weights on both sides), so an op that drops
// autograd on one of its outputs fails, and compares the gradient of every floating input.
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import * as torch from '../../src/torch/index.js';
import { closeness, pinOracleThreads, pythonUnavailable, runPython } from './oracle.js';

type Tensor = torch.Tensor;

export interface OpCase {
  name: string;
  /** Inputs by name; floating ones get requiresGrad unless `grad` is false or lists other names. */
  inputs: Record<string, Tensor>;
  /** Our computation; the variables are the (grad-enabled) copies of `inputs`. */
  js: (v: Record<string, Tensor>) => Tensor | Tensor[];
  /** A Python expression over the same names (torch, F, nn in scope), giving a tensor or a tuple. */
  py: string;
  /** Relative / absolute tolerance of the forward results (float32 defaults 1e-5 / 1e-6). */
  rtol?: number;
  atol?: number;
  /** Tolerances of the gradients (default: the forward ones). */
  gradRtol?: number;
  gradAtol?: number;
  /** false: forward only (non-differentiable op); names: only these inputs get gradients. */
  grad?: boolean | string[];
}

const floating = (t: Tensor): boolean => t.isFloatingPoint || t.isComplex;

function gradNames(c: OpCase): string[] {
  if (c.grad === false) return [];
  if (Array.isArray(c.grad)) return c.grad;
  return Object.entries(c.inputs)
    .filter(([, t]) => t.isFloatingPoint)
    .map(([n]) => n);
}

/** Real view of complex results so that a real weighted sum (and its gradient) is defined. */
function realView(t: Tensor): Tensor {
  return t.isComplex ? (torch.callOp('aten::view_as_real', [t]) as Tensor) : t;
}

const PY_RUNNER = `
import json
def _real(t):
    return torch.view_as_real(t) if t.is_complex() else t
for name, names, grads, expr in json.loads(CASES):
    env = {n: inp[name + '.' + n].clone() for n in names}
    for n in grads:
        env[n].requires_grad_(True)
    y = eval(expr, {**globals(), **env})  # one namespace, so lambdas see the inputs
    ys = list(y) if isinstance(y, (tuple, list)) else [y]
    loss = None
    for i, t in enumerate(ys):
        out[name + '.y' + str(i)] = _real(t).detach().contiguous()
        out[name + '.rg' + str(i)] = torch.tensor(float(t.requires_grad))
        w = inp.get(name + '.w' + str(i))
        if w is not None and grads and t.requires_grad:
            term = (_real(t) * w).sum()
            loss = term if loss is None else loss + term
    if loss is not None:
        gs = torch.autograd.grad(loss, [env[n] for n in grads], allow_unused=True)
        for n, g in zip(grads, gs):
            out[name + '.g.' + n] = torch.zeros_like(env[n]) if g is None else g
`;

interface Computed {
  outputs: Tensor[];
  grads: Map<string, Tensor>;
}

function runOurs(c: OpCase, weights: Record<string, Tensor>): Computed {
  const names = gradNames(c);
  const vars: Record<string, Tensor> = {};
  for (const [n, t] of Object.entries(c.inputs)) vars[n] = names.includes(n) ? t.detach().clone().requiresGrad_(true) : t.clone();
  const y = c.js(vars);
  const outputs = (Array.isArray(y) ? y : [y]).map(realView);
  const grads = new Map<string, Tensor>();
  if (names.length > 0) {
    let loss: Tensor | null = null;
    outputs.forEach((t, i) => {
      if (!floating(t)) return;
      // Weights for every floating output: PyTorch uses them for each output that requires grad there.
      const w = torch.randn(t.shape, { dtype: t.dtype });
      weights[`${c.name}.w${i}`] = w;
      if (!t.requiresGrad) return;
      const term = t.mul(w).sum();
      loss = loss === null ? term : loss.add(term);
    });
    if (loss !== null) {
      (loss as Tensor).backward();
      for (const n of names) grads.set(n, vars[n].grad ?? torch.zerosLike(vars[n]));
    }
  }
  return { outputs, grads };
}

/** Runs every case here and in PyTorch (one Python process), then asserts shapes, dtypes, values, gradients. */
export function checkParity(t: TestContext, cases: OpCase[]): void {
  if (pythonUnavailable) {
    t.skip(pythonUnavailable);
    return;
  }
  pinOracleThreads(t);
  torch.manualSeed(20240601);
  const inputs: Record<string, Tensor> = {};
  const ours = new Map<string, Computed>();
  for (const c of cases) {
    assert.ok(!c.name.includes('.'), `case name '${c.name}' must not contain '.'`);
    for (const [n, v] of Object.entries(c.inputs)) inputs[`${c.name}.${n}`] = v;
    ours.set(c.name, runOurs(c, inputs));
  }
  const spec = cases.map((c) => [c.name, Object.keys(c.inputs), gradNames(c), c.py]);
  const theirs = runPython(`CASES = ${JSON.stringify(JSON.stringify(spec))}\n${PY_RUNNER}`, inputs);
  const failures: string[] = [];
  for (const c of cases) {
    const rtol = c.rtol ?? 1e-5;
    const atol = c.atol ?? 1e-6;
    const mine = ours.get(c.name) as Computed;
    const compare = (label: string, a: Tensor, b: Tensor | undefined, rt: number, at: number): void => {
      if (b === undefined) return void failures.push(`${label}: PyTorch gave no result`);
      if (a.shape.join() !== b.shape.join()) return void failures.push(`${label}: shape [${a.shape}] vs PyTorch [${b.shape}]`);
      if (a.dtype !== b.dtype) return void failures.push(`${label}: dtype ${a.dtype} vs PyTorch ${b.dtype}`);
      const r = closeness(a, b, rt, at);
      if (!r.ok) failures.push(`${label}: max |diff| ${r.maxAbs} is ${r.worst.toFixed(2)}× the tolerance (rtol ${rt}, atol ${at})`);
    };
    mine.outputs.forEach((y, i) => {
      compare(`${c.name} output ${i}`, y, theirs.get(`${c.name}.y${i}`), rtol, atol);
      const requiresGrad = theirs.get(`${c.name}.rg${i}`)?.item() === 1;
      if (y.requiresGrad !== requiresGrad)
        failures.push(`${c.name} output ${i}: requiresGrad ${y.requiresGrad} vs PyTorch ${requiresGrad}`);
    });
    for (const [n, g] of mine.grads) {
      compare(`${c.name} grad ${n}`, g, theirs.get(`${c.name}.g.${n}`), c.gradRtol ?? rtol, c.gradAtol ?? atol);
    }
    if (mine.grads.size === 0 && c.grad !== false && gradNames(c).length > 0) failures.push(`${c.name}: no gradient flowed`);
  }
  torch.dispose(inputs);
  torch.dispose(theirs);
  assert.deepEqual(failures, [], failures.join('\n'));
}
