// Learning-rate schedules and gradient clipping against PyTorch 1.13: the sequences of learning rates (two
// parameter groups) and clipped gradients must match; a schedule restored from its state continues identically.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { clipGradNorm } from '../src/nn/clip.js';
import { SGD } from '../src/nn/optim/index.js';
import {
  ChainedScheduler,
  CosineAnnealingLR,
  LinearLR,
  type LRScheduler,
  MultiStepLR,
  PolynomialLR,
  SequentialLR,
} from '../src/nn/schedulers.js';
import * as torch from '../src/torch/index.js';
import { closeness, pythonUnavailable, runPython } from './helpers/oracle.js';

type T = torch.Tensor;
const EPOCHS = 30;

interface Schedule {
  name: string;
  make: (opt: SGD) => { step(): void };
  py: string;
}

const SCHEDULES: Schedule[] = [
  { name: 'multistep', make: (o) => new MultiStepLR(o, [3, 7, 7, 20], 0.5), py: 'S.MultiStepLR(opt, [3, 7, 7, 20], 0.5)' },
  { name: 'cosine', make: (o) => new CosineAnnealingLR(o, 10, 0.001), py: 'S.CosineAnnealingLR(opt, 10, 0.001)' },
  { name: 'linear', make: (o) => new LinearLR(o, 0.1, 1, 8), py: 'S.LinearLR(opt, 0.1, 1.0, 8)' },
  { name: 'poly', make: (o) => new PolynomialLR(o, 12, 2), py: 'S.PolynomialLR(opt, 12, 2.0)' },
  {
    name: 'warmup_cosine',
    make: (o) => new SequentialLR(o, [new LinearLR(o, 0.01, 1, 5), new CosineAnnealingLR(o, 25)], [5]),
    py: 'S.SequentialLR(opt, [S.LinearLR(opt, 0.01, 1.0, 5), S.CosineAnnealingLR(opt, 25)], [5])',
  },
  {
    name: 'warmup_x_multistep',
    make: (o) => new ChainedScheduler([new LinearLR(o, 0.25, 1, 4), new MultiStepLR(o, [10, 20], 0.1)]),
    py: 'S.ChainedScheduler([S.LinearLR(opt, 0.25, 1.0, 4), S.MultiStepLR(opt, [10, 20], 0.1)])',
  },
];

function optimizer(): SGD {
  return new SGD(
    [
      { params: [torch.keep(torch.zeros([1]).requiresGrad_(true))] },
      { params: [torch.keep(torch.zeros([1]).requiresGrad_(true))], lr: 0.3 },
    ],
    {
      lr: 0.1,
      momentum: 0.9,
    },
  );
}

/** Learning rates of both groups: after construction, then after each of EPOCHS steps. */
function lrSequence(s: Schedule): number[] {
  const opt = optimizer();
  const sched = s.make(opt);
  const lrs = opt.paramGroups.map((g) => g.lr);
  for (let e = 0; e < EPOCHS; e++) {
    sched.step();
    lrs.push(...opt.paramGroups.map((g) => g.lr));
  }
  return lrs;
}

test('learning-rate schedules (multi-step, cosine, warm-up, polynomial, sequential, chained) equal PyTorch', (t) => {
  if (pythonUnavailable) return t.skip(pythonUnavailable);
  const script = `
import warnings
import torch.optim.lr_scheduler as S
warnings.simplefilter('ignore')
def seq(make):
    opt = torch.optim.SGD([{'params': [torch.zeros(1, requires_grad=True)]}, {'params': [torch.zeros(1, requires_grad=True)], 'lr': 0.3}], lr=0.1, momentum=0.9)
    sched = make(opt)
    lrs = [g['lr'] for g in opt.param_groups]
    for _ in range(${EPOCHS}):
        opt.step()
        sched.step()
        lrs += [g['lr'] for g in opt.param_groups]
    return torch.tensor(lrs, dtype=torch.float64)
${SCHEDULES.map((s) => `out['${s.name}'] = seq(lambda opt: ${s.py})`).join('\n')}
`;
  const theirs = runPython(script);
  const failures: string[] = [];
  for (const s of SCHEDULES) {
    const ours = lrSequence(s);
    const expected = (theirs.get(s.name) as T).toFloat64Array();
    assert.equal(ours.length, expected.length);
    ours.forEach((lr, i) => {
      // Same formulas in double precision: only the last bit may differ (Math.cos vs libm cos).
      if (Math.abs(lr - expected[i]) > 1e-14 * Math.max(1e-3, Math.abs(expected[i]))) {
        failures.push(`${s.name} entry ${i} (epoch ${Math.floor(i / 2)}): ${lr} vs ${expected[i]}`);
      }
    });
  }
  assert.deepEqual(failures, []);
});

test('a schedule restored from its state continues the same sequence', () => {
  for (const s of SCHEDULES) {
    const full = lrSequence(s);
    const opt = optimizer();
    const first = s.make(opt) as LRScheduler;
    for (let e = 0; e < 12; e++) first.step();
    const saved = JSON.parse(JSON.stringify(first.stateDict()));
    const lrs = opt.paramGroups.map((g) => g.lr);
    // A fresh optimiser and schedule, as after a restart: restore the optimiser's lr and the schedule's state.
    const opt2 = optimizer();
    const second = s.make(opt2) as LRScheduler;
    opt2.paramGroups.forEach((g, i) => {
      g.lr = lrs[i];
    });
    second.loadStateDict(saved);
    const rest: number[] = [];
    for (let e = 12; e < EPOCHS; e++) {
      second.step();
      rest.push(...opt2.paramGroups.map((g) => g.lr));
    }
    assert.deepEqual(rest, full.slice(2 * 13), `${s.name} diverged after restore`);
  }
  assert.throws(() => new MultiStepLR(optimizer(), [2]).loadStateDict({ lastEpoch: 1.5 } as never), /'lastEpoch' must be an integer/);
  assert.throws(() => new CosineAnnealingLR(optimizer(), 0), /tMax must be positive/);
  assert.throws(() => new LinearLR(optimizer(), 2), /startFactor must be in \[0, 1\]/);
});

test('clipGradNorm equals torch.nn.utils.clip_grad_norm_ (2-norm, 1-norm, inf-norm; clipped and not)', (t) => {
  if (pythonUnavailable) return t.skip(pythonUnavailable);
  torch.manualSeed(41);
  const grads = { a: torch.randn([4, 3]), b: torch.randn([5]), c: torch.randn([2, 2, 2]) };
  const cases: [string, number, number][] = [
    ['l2_clipped', 1, 2],
    ['l2_unclipped', 100, 2],
    ['l1', 2, 1],
    ['inf', 0.5, Number.POSITIVE_INFINITY],
  ];
  const script = `
for name, max_norm, p in ${JSON.stringify(cases.map(([n, m, p]) => [n, m, p === Number.POSITIVE_INFINITY ? 'inf' : p]))}:
    ps = [inp[k].clone().requires_grad_(True) for k in ('a', 'b', 'c')]
    for q, k in zip(ps, ('a', 'b', 'c')):
        q.grad = inp[k].clone() * 3
    total = torch.nn.utils.clip_grad_norm_(ps, max_norm, float(p))
    out[name + '.total'] = total.reshape(1)
    for q, k in zip(ps, ('a', 'b', 'c')):
        out[name + '.' + k] = q.grad
`;
  const theirs = runPython(script, grads);
  for (const [name, maxNorm, p] of cases) {
    const ps = Object.values(grads).map((g) => {
      const q = g.clone().requiresGrad_(true);
      q.grad = g.mul(3);
      return q;
    });
    const total = clipGradNorm(ps, maxNorm, { normType: p });
    const expectedTotal = (theirs.get(`${name}.total`) as T).item();
    assert.ok(Math.abs(total - expectedTotal) <= 1e-6 * expectedTotal, `${name}: total ${total} vs ${expectedTotal}`);
    ['a', 'b', 'c'].forEach((k, i) => {
      const r = closeness(ps[i].grad as T, theirs.get(`${name}.${k}`) as T, 1e-6, 1e-8);
      assert.ok(r.ok, `${name} grad ${k}: max |diff| ${r.maxAbs}`);
    });
  }
  const q = torch.ones([2]).requiresGrad_(true);
  q.grad = torch.tensor([Number.NaN, 1]);
  assert.throws(() => clipGradNorm([q], 1, { errorIfNonfinite: true }), /total norm of order 2 of the gradients is NaN/);
  assert.equal(clipGradNorm([torch.ones([2]).requiresGrad_(true)], 1), 0);
  assert.throws(() => clipGradNorm([q], -1), /maxNorm must be a non-negative number/);
});
