// SGD and AdamW against torch.optim (PyTorch 1.13): ten steps on a small network built from raw tensors, with
// parameter groups, must give the same parameters and optimiser state; a saved and restored state resumes exactly.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { clipGradNorm } from '../src/nn/clip.js';
import { AdamW, flattenOptimizerState, type Optimizer, SGD, unflattenOptimizerState } from '../src/nn/optim/index.js';
import { parseSafetensors, serializeSafetensors } from '../src/nn/safetensors.js';
import * as torch from '../src/torch/index.js';
import { closeness, pythonUnavailable, runPython } from './helpers/oracle.js';

type T = torch.Tensor;
const NAMES = ['w1', 'b1', 'g', 'w2', 'b2'] as const;

function makeData(): Record<string, T> {
  torch.manualSeed(31);
  return {
    w1: torch.randn([8, 5]).mul(0.5),
    b1: torch.randn([8]).mul(0.1),
    g: torch.rand([8]).add(0.5),
    w2: torch.randn([3, 8]).mul(0.5),
    b2: torch.zeros([3]),
    x: torch.randn([16, 5]),
    y: torch.randint(0, 3, [16]),
  };
}

function params(data: Record<string, T>): Record<string, T> {
  return Object.fromEntries(NAMES.map((n) => [n, torch.keep(data[n].clone().requiresGrad_(true))]));
}

function loss(p: Record<string, T>, data: Record<string, T>): T {
  const h = torch.F.linear(data.x, p.w1, p.b1).relu().mul(p.g);
  return torch.F.crossEntropy(torch.F.linear(h, p.w2, p.b2), data.y);
}

/** Runs `steps` optimisation steps (optionally clipping), returning the losses. */
function train(opt: Optimizer<{ lr: number }>, p: Record<string, T>, data: Record<string, T>, steps: number, clip?: number): number[] {
  const losses: number[] = [];
  for (let i = 0; i < steps; i++) {
    torch.tidy(() => {
      opt.zeroGrad();
      const l = loss(p, data);
      l.backward();
      if (clip !== undefined) clipGradNorm(Object.values(p), clip);
      opt.step();
      losses.push(l.item());
    });
  }
  return losses;
}

interface Config {
  name: string;
  make: (p: Record<string, T>) => Optimizer<{ lr: number }>;
  py: string;
  clip?: number;
}

// Weights decay, biases and the 1-D scale `g` do not (the usual "no decay on norms and biases" split).
const CONFIGS: Config[] = [
  {
    name: 'sgd_nesterov',
    make: (p) =>
      new SGD(
        [
          { params: [p.w1, p.w2], weightDecay: 1e-2 },
          { params: [p.b1, p.g, p.b2], weightDecay: 0, lr: 0.05 },
        ],
        { lr: 0.1, momentum: 0.9, nesterov: true },
      ),
    py: "torch.optim.SGD([{'params': [P['w1'], P['w2']], 'weight_decay': 1e-2}, {'params': [P['b1'], P['g'], P['b2']], 'weight_decay': 0, 'lr': 0.05}], lr=0.1, momentum=0.9, nesterov=True)",
  },
  {
    name: 'sgd_dampening',
    make: (p) => new SGD(Object.values(p), { lr: 0.2, momentum: 0.8, dampening: 0.3, weightDecay: 1e-3 }),
    py: 'torch.optim.SGD(list(P.values()), lr=0.2, momentum=0.8, dampening=0.3, weight_decay=1e-3)',
    clip: 0.5,
  },
  {
    name: 'sgd_plain_maximize',
    make: (p) => new SGD(Object.values(p), { lr: 0.01, maximize: true }),
    py: 'torch.optim.SGD(list(P.values()), lr=0.01, maximize=True)',
  },
  {
    name: 'adamw',
    make: (p) => new AdamW([{ params: [p.w1, p.w2] }, { params: [p.b1, p.g, p.b2], weightDecay: 0 }], { lr: 0.01 }),
    py: "torch.optim.AdamW([{'params': [P['w1'], P['w2']]}, {'params': [P['b1'], P['g'], P['b2']], 'weight_decay': 0}], lr=0.01)",
  },
  {
    name: 'adamw_amsgrad',
    make: (p) => new AdamW(Object.values(p), { lr: 0.03, betas: [0.8, 0.99], eps: 1e-6, weightDecay: 0.1, amsgrad: true }),
    py: 'torch.optim.AdamW(list(P.values()), lr=0.03, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1, amsgrad=True)',
    clip: 1,
  },
];

const STATE_FIELDS: Record<string, [string, string][]> = {
  sgd: [['momentumBuffer', 'momentum_buffer']],
  adamw: [
    ['expAvg', 'exp_avg'],
    ['expAvgSq', 'exp_avg_sq'],
    ['maxExpAvgSq', 'max_exp_avg_sq'],
  ],
};

test('10 steps of SGD and AdamW (groups, momentum, Nesterov, decay, AMSGrad, clipping) equal torch.optim', (t) => {
  if (pythonUnavailable) return t.skip(pythonUnavailable);
  const data = makeData();
  const ours = new Map<string, { p: Record<string, T>; opt: Optimizer<{ lr: number }>; losses: number[] }>();
  for (const c of CONFIGS) {
    const p = params(data);
    const opt = c.make(p);
    ours.set(c.name, { p, opt, losses: train(opt, p, data, 10, c.clip) });
  }
  const script = `
def run(make, clip):
    P = {n: inp[n].clone().requires_grad_(True) for n in ${JSON.stringify(NAMES)}}
    opt = make(P)
    losses = []
    for _ in range(10):
        opt.zero_grad()
        h = F.linear(inp['x'], P['w1'], P['b1']).relu() * P['g']
        l = F.cross_entropy(F.linear(h, P['w2'], P['b2']), inp['y'])
        l.backward()
        if clip is not None:
            torch.nn.utils.clip_grad_norm_(P.values(), clip)
        opt.step()
        losses.append(l.item())
    return P, opt, losses
${CONFIGS.map(
  (c) => `P, opt, losses = run(lambda P: ${c.py}, ${c.clip ?? 'None'})
out['${c.name}.losses'] = torch.tensor(losses, dtype=torch.float64)
for i, n in enumerate(P):
    out['${c.name}.' + n] = P[n].detach()
    for k, v in opt.state[P[n]].items():
        if torch.is_tensor(v) and v.dim() > 0:
            out['${c.name}.' + n + '.' + k] = v`,
).join('\n')}
`;
  const theirs = runPython(script, data);
  const failures: string[] = [];
  for (const c of CONFIGS) {
    const { p, opt, losses } = ours.get(c.name) as { p: Record<string, T>; opt: Optimizer<{ lr: number }>; losses: number[] };
    const expectedLosses = (theirs.get(`${c.name}.losses`) as T).toFloat64Array();
    losses.forEach((l, i) => {
      if (Math.abs(l - expectedLosses[i]) > 1e-6 * Math.abs(expectedLosses[i]) + 1e-7)
        failures.push(`${c.name} loss ${i}: ${l} vs ${expectedLosses[i]}`);
    });
    const state = opt.stateDict();
    const fields = STATE_FIELDS[c.name.startsWith('sgd') ? 'sgd' : 'adamw'];
    const order = opt.paramGroups.flatMap((g) => g.params); // state is keyed by position over the groups
    NAMES.forEach((n) => {
      const i = order.indexOf(p[n]);
      const r = closeness(p[n], theirs.get(`${c.name}.${n}`) as T, 1e-6, 1e-7);
      if (!r.ok) failures.push(`${c.name} ${n}: max |diff| ${r.maxAbs}`);
      for (const [ourField, theirField] of fields) {
        const expected = theirs.get(`${c.name}.${n}.${theirField}`);
        const actual = state.state[i]?.[ourField];
        if ((expected === undefined) !== (actual === undefined))
          failures.push(`${c.name} ${n}.${ourField}: present here ${actual !== undefined}, in PyTorch ${expected !== undefined}`);
        else if (expected && actual instanceof torch.Tensor) {
          const rs = closeness(actual, expected, 1e-6, 1e-8);
          if (!rs.ok) failures.push(`${c.name} ${n}.${ourField}: max |diff| ${rs.maxAbs}`);
        }
      }
    });
  }
  assert.deepEqual(failures, []);
});

test('optimiser state saved to safetensors + JSON and restored resumes exactly', () => {
  const data = makeData();
  for (const c of CONFIGS) {
    const straight = params(data);
    train(c.make(straight), straight, data, 6, c.clip);

    const first = params(data);
    const opt1 = c.make(first);
    train(opt1, first, data, 3, c.clip);
    const { tensors, json } = flattenOptimizerState(opt1.stateDict());
    const bytes = serializeSafetensors(tensors);
    const text = JSON.stringify(json);
    opt1.dispose();

    const resumed = Object.fromEntries(NAMES.map((n) => [n, torch.keep(first[n].detach().clone().requiresGrad_(true))]));
    const opt2 = c.make(resumed);
    opt2.loadStateDict(unflattenOptimizerState(JSON.parse(text), parseSafetensors(bytes, 'state.safetensors').tensors));
    train(opt2, resumed, data, 3, c.clip);
    for (const n of NAMES) assert.ok(resumed[n].equal(straight[n]), `${c.name}: ${n} differs after resume`);
  }
});

test('optimisers reject bad options and mismatched states with clear errors', () => {
  const p = params(makeData());
  assert.throws(() => new SGD(Object.values(p), { lr: -1 }), /SGD group 0: invalid learning rate -1/);
  assert.throws(() => new SGD(Object.values(p), { lr: 0.1, nesterov: true }), /Nesterov momentum needs momentum > 0/);
  assert.throws(() => new SGD([{ params: [p.w1] }, { params: [p.w1] }], { lr: 0.1 }), /more than one group/);
  assert.throws(() => new SGD([{ params: [p.w1], momentun: 0.9 } as never], { lr: 0.1 }), /unknown option 'momentun'/);
  assert.throws(() => new SGD([], { lr: 0.1 }), /empty parameter list/);
  assert.throws(() => new SGD([p.w1.mul(2)], { lr: 0.1 }), /leaf tensors/);
  assert.throws(() => new AdamW(Object.values(p), { betas: [0.9, 1.5] }), /betas must be two numbers in \[0, 1\)/);
  const opt = new SGD(Object.values(p), { lr: 0.1, momentum: 0.9 });
  train(opt, p, makeData(), 1);
  const s = opt.stateDict();
  const other = new SGD([p.w1, p.b1], { lr: 0.1, momentum: 0.9 });
  assert.throws(() => other.loadStateDict(s), /group 0 saved 5 parameters, the optimiser has 2/);
  const bad = { ...s, state: { ...s.state, 0: { momentumBuffer: torch.zeros([2, 2]) } } };
  assert.throws(() => opt.loadStateDict(bad), /state 0.momentumBuffer has shape \[2,2\], the parameter \[8,5\]/);
  const nan = { ...s, state: { 0: { step: Number.NaN } } };
  assert.throws(() => new AdamW(Object.values(p)).loadStateDict(nan as never), /state 0.step is NaN/);
  assert.throws(
    () => unflattenOptimizerState({ state: { 0: { expAvg: { tensor: 'nope' } } }, paramGroups: [] }, new Map(), 'ckpt.json'),
    /ckpt.json: tensor 'nope'/,
  );
});

test('optimiser steps keep memory flat: no tensors leak per step', () => {
  const data = makeData();
  const p = params(data);
  const opt = new AdamW(Object.values(p), { amsgrad: true });
  train(opt, p, data, 2);
  const before = process.memoryUsage().external;
  torch.tidy(() => {
    const count = torch.trackedCount();
    train(opt, p, data, 50);
    assert.equal(torch.trackedCount(), count, 'tensors created by steps stay tracked in the outer scope');
  });
  assert.ok(process.memoryUsage().external - before < 64 * 1024, 'external memory grew over 50 steps');
});
