// The soft-biometric loss: Σ_k λ_k·BCE_k against a per-attribute loop in PyTorch, with weights and pos_weight;
// the 'mean' reduction equals PyTorch's BCEWithLogitsLoss default; bad shapes name the argument.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { attributeLoss } from '../src/losses/attribute-loss.js';
import * as torch from '../src/torch/index.js';
import { closeness, pythonUnavailable, runPython } from './helpers/oracle.js';

test('attribute BCE equals Σ_k λ_k·BCE_k in PyTorch (values and gradients)', (t) => {
  if (pythonUnavailable) return t.skip(pythonUnavailable);
  torch.manualSeed(41);
  const logits = torch.randn([7, 5]).mul(2);
  const targets = torch.randint(0, 2, [7, 5]).float();
  const weights = torch.tensor([1, 0.5, 2, 1, 3]);
  const posWeight = torch.tensor([1, 2, 0.5, 4, 1]);
  const cases = {
    plain: {},
    weighted: { weights },
    posWeighted: { weights, posWeight },
    mean: { reduction: 'mean' as const },
  };
  const ours: Record<string, torch.Tensor> = {};
  for (const [name, options] of Object.entries(cases)) {
    const z = logits.clone().requiresGrad_();
    const loss = attributeLoss(z, targets, options);
    loss.backward();
    ours[`${name}.loss`] = loss;
    ours[`${name}.grad`] = z.grad as torch.Tensor;
  }
  const py = runPython(
    `z0, y, lam, pw = inp['z'], inp['y'], inp['lam'], inp['pw']
def per_attribute(z, lam=None, pw=None):
    return sum((1 if lam is None else lam[k]) * F.binary_cross_entropy_with_logits(z[:, k], y[:, k], pos_weight=None if pw is None else pw[k]) for k in range(z.shape[1]))
for name, fn in (('plain', lambda z: per_attribute(z)), ('weighted', lambda z: per_attribute(z, lam)),
                 ('posWeighted', lambda z: per_attribute(z, lam, pw)), ('mean', lambda z: F.binary_cross_entropy_with_logits(z, y))):
    z = z0.clone().requires_grad_(); loss = fn(z); loss.backward()
    out[name + '.loss'] = loss; out[name + '.grad'] = z.grad`,
    { z: logits, y: targets, lam: weights, pw: posWeight },
  );
  for (const [key, value] of Object.entries(ours)) {
    const r = closeness(value, py.get(key) as torch.Tensor, 1e-5, 1e-6);
    assert.ok(r.ok, `${key}: max |diff| ${r.maxAbs}`);
  }
});

test('attribute loss input errors name the argument', () => {
  const z = torch.zeros([4, 3]);
  assert.throws(() => attributeLoss(z, torch.zeros([4, 2])), /targets must be \[4, 3\]/);
  assert.throws(() => attributeLoss(z, torch.zeros([4, 3], { dtype: 'int64' })), /targets must be floating point/);
  assert.throws(() => attributeLoss(z, torch.zeros([4, 3]), { weights: torch.ones([2]) }), /options\.weights must be \[3\]/);
  assert.throws(() => attributeLoss(torch.zeros([4]), torch.zeros([4])), /logits must be \[B, K\]/);
});
