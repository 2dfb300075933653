// The margin heads against PyTorch: AdaFace is the anchor's class (shared/anchors/pytorch_catface_bench.py)
// followed over several batches — logits, loss, gradients and the running norm statistics μ, σ; ArcFace and
// CosFace against their formulas written out in PyTorch.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MarginHead, type MarginKind } from '../src/losses/margin-head.js';
import * as torch from '../src/torch/index.js';
import { anchorPrelude, anchorUnavailable, pythonHelpers } from './helpers/catface-anchor.js';
import { closeness, runPython } from './helpers/oracle.js';

type Tensor = torch.Tensor;

function expectClose(failures: string[], label: string, actual: Tensor | null | undefined, expected: Tensor | undefined, tol = 1e-4): void {
  if (!actual || !expected) return void failures.push(`${label}: ${actual ? 'PyTorch gave none' : 'we gave none'}`);
  if (actual.shape.join() !== expected.shape.join()) return void failures.push(`${label}: shape [${actual.shape}] vs [${expected.shape}]`);
  const r = closeness(actual, expected, tol, tol);
  if (!r.ok) failures.push(`${label}: max |diff| ${r.maxAbs.toExponential(2)} (${r.worst.toFixed(1)}× tolerance)`);
}

/** A batch whose norms span the clip range and whose embeddings sit near some class centres (large cosines). */
function batch(head: MarginHead, size: number): { embedding: Tensor; norm: Tensor; labels: Tensor } {
  const labels = torch.randint(0, head.classes, [size]);
  const centres = torch.F.normalize(head.kernel.detach(), 2, 0).t().indexSelect(0, labels);
  const embedding = torch.F.normalize(centres.mul(3).add(torch.randn([size, head.embeddingSize]).mul(0.05)), 2, 1);
  const norm = torch.rand([size, 1]).mul(60).add(0.5);
  norm.narrow(0, 0, 2).copy_(torch.tensor([[150], [0.0001]])); // beyond both ends of the [0.001, 100] clip
  return { embedding, norm, labels };
}

test('AdaFace equals the anchor over 4 batches: logits, loss, gradients, running μ and σ', (t) => {
  if (anchorUnavailable) return t.skip(anchorUnavailable);
  torch.manualSeed(21);
  const head = new MarginHead({ classes: 12 });
  assert.deepEqual([...head.stateDict().keys()], ['kernel', 'mu', 'sigma']);
  const inputs: Record<string, Tensor> = { kernel: head.kernel.clone() };
  const ours: { logits: Tensor; loss: Tensor; gEmb: Tensor; gKernel: Tensor; stats: { mean: number; std: number } | null }[] = [];
  for (let step = 0; step < 4; step++) {
    const { embedding, norm, labels } = batch(head, 10);
    Object.assign(inputs, { [`emb${step}`]: embedding, [`norm${step}`]: norm, [`y${step}`]: labels });
    const e = embedding.clone().requiresGrad_();
    head.zeroGrad();
    const logits = head.logits(e, norm, labels);
    const loss = torch.F.crossEntropy(logits, labels);
    loss.backward();
    ours.push({
      logits,
      loss,
      gEmb: e.grad as Tensor,
      gKernel: (head.kernel.grad as Tensor).clone(),
      stats: head.normStatistics(),
    });
  }
  const py = runPython(
    `${anchorPrelude(['--size', '64'])}
${pythonHelpers}
ada = AdaFace(12)
with torch.no_grad(): ada.kernel.copy_(inp['kernel'])
captured = []
_ce = F.cross_entropy
F.cross_entropy = lambda logits, y: (captured.append(logits), _ce(logits, y))[1]
for step in range(4):
    e = inp['emb%d' % step].clone().requires_grad_()
    ada.kernel.grad = None
    loss = ada(e, inp['norm%d' % step], inp['y%d' % step]); loss.backward()
    out.update({'loss%d' % step: loss, 'logits%d' % step: captured[-1], 'gEmb%d' % step: e.grad, 'gKernel%d' % step: ada.kernel.grad,
                'mu%d' % step: ada.mu.clone(), 'sigma%d' % step: ada.sigma.clone()})`,
    inputs,
  );
  const failures: string[] = [];
  ours.forEach((o, step) => {
    expectClose(failures, `step ${step} logits`, o.logits, py.get(`logits${step}`), 1e-4);
    expectClose(failures, `step ${step} loss`, o.loss, py.get(`loss${step}`));
    expectClose(failures, `step ${step} grad embedding`, o.gEmb, py.get(`gEmb${step}`));
    expectClose(failures, `step ${step} grad kernel`, o.gKernel, py.get(`gKernel${step}`));
    expectClose(failures, `step ${step} μ`, torch.tensor(o.stats?.mean ?? Number.NaN), py.get(`mu${step}`), 1e-6);
    expectClose(failures, `step ${step} σ`, torch.tensor(o.stats?.std ?? Number.NaN), py.get(`sigma${step}`), 1e-6);
  });
  assert.deepEqual(failures, [], failures.join('\n'));
  // The statistics moved from their initial values (20, 100) and a fresh head loads them from the state dict.
  const moved = head.normStatistics();
  assert.ok(moved && Math.abs(moved.mean - 20) > 0.01 && Math.abs(moved.std - 100) > 0.1, JSON.stringify(moved));
  const restored = new MarginHead({ classes: 12 });
  restored.loadStateDict(head.stateDict());
  assert.deepEqual(restored.normStatistics(), moved);
});

test('AdaFace in eval mode leaves μ and σ alone', () => {
  torch.manualSeed(22);
  const head = new MarginHead({ classes: 5, embeddingSize: 16 }).eval();
  const { embedding, norm, labels } = batch(head, 4);
  head.forward(embedding, norm, labels);
  assert.deepEqual(head.normStatistics(), { mean: 20, std: 100 });
});

test('ArcFace and CosFace equal their PyTorch formulas (logits, loss, gradients); they keep no statistics', (t) => {
  if (anchorUnavailable) return t.skip(anchorUnavailable);
  torch.manualSeed(23);
  const inputs: Record<string, Tensor> = {};
  const ours = new Map<MarginKind, { logits: Tensor; loss: Tensor; gEmb: Tensor; gKernel: Tensor }>();
  for (const kind of ['arcface', 'cosface'] as const) {
    const head = new MarginHead({ kind, classes: 9, embeddingSize: 32 });
    assert.equal(head.normStatistics(), null);
    assert.deepEqual([...head.stateDict().keys()], ['kernel']);
    const { embedding, norm, labels } = batch(head, 6);
    Object.assign(inputs, { [`${kind}.kernel`]: head.kernel.clone(), [`${kind}.emb`]: embedding, [`${kind}.y`]: labels });
    const e = embedding.clone().requiresGrad_();
    const logits = head.logits(e, norm, labels);
    const loss = torch.F.crossEntropy(logits, labels);
    loss.backward();
    ours.set(kind, { logits, loss, gEmb: e.grad as Tensor, gKernel: head.kernel.grad as Tensor });
  }
  const py = runPython(
    `eps = 1e-3
for kind, m in (('arcface', 0.5), ('cosface', 0.35)):
    kernel = inp[kind + '.kernel'].clone().requires_grad_(); e = inp[kind + '.emb'].clone().requires_grad_(); y = inp[kind + '.y']
    cos = (e @ F.normalize(kernel, dim=0)).clamp(-1 + eps, 1 - eps)
    target = torch.cos((torch.acos(cos) + m).clamp(eps, math.pi - eps)) if kind == 'arcface' else cos - m
    logits = 64 * torch.where(F.one_hot(y, cos.shape[1]).bool(), target, cos)
    loss = F.cross_entropy(logits, y); loss.backward()
    out.update({kind + '.logits': logits, kind + '.loss': loss, kind + '.gEmb': e.grad, kind + '.gKernel': kernel.grad})`,
    inputs,
  );
  const failures: string[] = [];
  for (const [kind, o] of ours) {
    expectClose(failures, `${kind} logits`, o.logits, py.get(`${kind}.logits`));
    expectClose(failures, `${kind} loss`, o.loss, py.get(`${kind}.loss`));
    expectClose(failures, `${kind} grad embedding`, o.gEmb, py.get(`${kind}.gEmb`));
    expectClose(failures, `${kind} grad kernel`, o.gKernel, py.get(`${kind}.gKernel`));
  }
  assert.deepEqual(failures, [], failures.join('\n'));
});

test('margin head inputs and config are checked with clear errors', () => {
  assert.throws(() => new MarginHead({ classes: 0 }), /config\.classes must be a positive integer/);
  assert.throws(() => new MarginHead({ classes: 3, kind: 'sphereface' as MarginKind }), /config\.kind must be adaface, arcface or cosface/);
  const head = new MarginHead({ classes: 3, embeddingSize: 8 });
  const e = torch.zeros([2, 8]);
  assert.throws(
    () => head.forward(torch.zeros([2, 7]), torch.ones([2, 1]), torch.zeros([2], { dtype: 'int64' })),
    /embedding must be \[B, 8\]/,
  );
  assert.throws(() => head.forward(e, torch.ones([3, 1]), torch.zeros([2], { dtype: 'int64' })), /norm must be \[2, 1\] or \[2\]/);
  assert.throws(() => head.forward(e, torch.ones([2, 1]), torch.zeros([2])), /labels must be int64 \[2\], got float32/);
  assert.throws(() => head.forward(torch.zeros([1, 8]), torch.ones([1, 1]), torch.zeros([1], { dtype: 'int64' })), /needs ≥ 2 samples/);
});
