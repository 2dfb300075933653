// Autograd, random generator and thread controls behave like PyTorch's: gradients with a seed gradient,
// retained and higher-order graphs, detach and grad-mode scopes; exact RNG resume; thread settings.
import assert from 'node:assert/strict';
import { cpus } from 'node:os';
import { test } from 'node:test';
import * as torch from '../src/torch/index.js';
import { closeness, pythonUnavailable, runPython } from './helpers/oracle.js';
import { checkParity } from './helpers/parity.js';

function gradOf(t: torch.Tensor): torch.Tensor {
  const g = t.grad;
  assert.ok(g !== null, 'no gradient');
  return g;
}

test('backward with a gradient, retained graphs, accumulation and second derivatives equal PyTorch', (t) => {
  if (pythonUnavailable) return t.skip(pythonUnavailable);
  torch.manualSeed(51);
  const inputs = { x: torch.randn([3, 4]), v: torch.randn([3, 4]) };
  const x = inputs.x.clone().requiresGrad_(true);
  const y = x.pow(3).sin();
  y.backward(inputs.v, { retainGraph: true });
  y.backward(inputs.v); // accumulates into x.grad
  const accumulated = gradOf(x).clone();
  x.grad = null;
  // d/dx of (dy/dx · v) through a graph built with createGraph
  const z = x.pow(3).sin().mul(inputs.v).sum();
  z.backward(undefined, { createGraph: true });
  const firstGrad = gradOf(x);
  assert.ok(firstGrad.requiresGrad, 'createGraph keeps the gradient differentiable');
  const gx = firstGrad.clone();
  x.grad = null;
  firstGrad.sum().backward();
  const second = gradOf(x);
  const theirs = runPython(
    `
x = inp['x'].clone().requires_grad_(True)
y = x.pow(3).sin()
y.backward(inp['v'], retain_graph=True)
y.backward(inp['v'])
out['accumulated'] = x.grad.clone()
x.grad = None
(g,) = torch.autograd.grad((x.pow(3).sin() * inp['v']).sum(), x, create_graph=True)
out['first'] = g.detach()
(h,) = torch.autograd.grad(g.sum(), x)
out['second'] = h
`,
    inputs,
  );
  for (const [name, ours] of [
    ['accumulated', accumulated],
    ['first', gx],
    ['second', second],
  ] as const) {
    const r = closeness(ours, theirs.get(name) as torch.Tensor, 1e-5, 1e-6);
    assert.ok(r.ok, `${name}: max |diff| ${r.maxAbs}`);
  }
});

test('detach, retainGrad, noGrad and enableGrad scopes', () => {
  const x = torch.tensor([1, 2, 3], { requiresGrad: true });
  const h = x.mul(2);
  h.retainGrad();
  const d = h.detach();
  assert.equal(d.requiresGrad, false);
  assert.equal(d.isLeaf, true);
  h.mul(d).sum().backward(); // d is a constant: d(sum h·d)/dh = d
  assert.deepEqual(h.grad?.toArray(), [2, 4, 6]);
  assert.deepEqual(x.grad?.toArray(), [4, 8, 12]);
  torch.noGrad(() => {
    assert.equal(torch.isGradEnabled(), false);
    assert.equal(x.mul(2).requiresGrad, false);
    const inner = torch.enableGrad(() => x.mul(2));
    assert.equal(inner.requiresGrad, true);
    assert.match(inner.gradFn ?? '', /^MulBackward/);
    assert.equal(torch.isGradEnabled(), false);
  });
  assert.equal(torch.isGradEnabled(), true);
  assert.throws(() => torch.noGrad(() => Promise.resolve(1)), /must be synchronous/);
  assert.equal(torch.isGradEnabled(), true, 'grad mode restored after a throwing scope');
  assert.throws(() =>
    torch.noGrad(() => {
      throw new Error('boom');
    }),
  );
  assert.equal(torch.isGradEnabled(), true);
});

test('the generator state resumes random draws exactly, including cached normals and dropout masks', () => {
  torch.manualSeed(2024);
  torch.randn([3]); // an odd count leaves a cached normal in the generator
  const state = torch.getRngState();
  const draws = (): number[][] => [
    torch.randn([5]).toArray() as number[],
    torch.rand([4]).toArray() as number[],
    torch.randint(0, 100, [3]).toArray() as number[],
    torch.F.dropout(torch.ones([8]), 0.5).toArray() as number[],
    torch.randperm(6).toArray() as number[],
  ];
  const first = draws();
  torch.setRngState(state);
  assert.deepEqual(draws(), first);
  torch.manualSeed(2024);
  torch.randn([3]);
  assert.deepEqual(draws(), first);
});

test('threads default to every core (or CATFACE_THREADS) and can be changed within limits', () => {
  const expected = Number(process.env.CATFACE_THREADS) || cpus().length;
  const now = torch.getNumThreads();
  assert.equal(now, expected);
  torch.setNumThreads(1);
  assert.equal(torch.getNumThreads(), 1);
  torch.setNumThreads(now);
  assert.throws(() => torch.setNumThreads(0), /positive integer/);
  assert.throws(() => torch.setNumThreads(1.5), /positive integer/);
  assert.throws(() => torch.setNumThreads(4 * cpus().length + 1), /setNumThreads: need an integer from 1 to/);
});

test('the parity helper fails an op that drops autograd on one of its outputs, or differs in one output’s gradient', (t) => {
  if (pythonUnavailable) return t.skip(pythonUnavailable);
  // checkParity frees its inputs: each call gets its own.
  const x = () => torch.randn([3, 4]);
  // The second output has the right values but no graph: before, it was left out of the gradient on both sides.
  const dropped = {
    name: 'dropped',
    inputs: { x: x() },
    js: (v: Record<string, torch.Tensor>) => [v.x.mul(2), v.x.mul(3).detach()],
    py: '(x * 2, x * 3)',
  };
  assert.throws(() => checkParity(t, [dropped]), /dropped output 1: requiresGrad false vs PyTorch true[\s\S]*dropped grad x: max \|diff\|/);
  // The same values, but the second output's gradient is wrong (a custom op whose backward ignored it).
  const wrongGrad = {
    name: 'wrong_grad',
    inputs: { x: x() },
    js: (v: Record<string, torch.Tensor>) => [v.x.mul(2), v.x.detach().mul(3).add(v.x.mul(0))],
    py: '(x * 2, x * 3)',
  };
  assert.throws(() => checkParity(t, [wrongGrad]), /wrong_grad grad x: max \|diff\|/);
  checkParity(t, [{ name: 'both', inputs: { x: x() }, js: (v) => [v.x.mul(2), v.x.mul(3)], py: '(x * 2, x * 3)' }]);
});
