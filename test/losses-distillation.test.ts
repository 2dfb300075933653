// Self-attention distillation: hand-made maps (identical → 0, orthogonal → 1 per term), the teacher receives no
// gradient, and values and student gradients equal the anchor's `distill` (cosine) and PyTorch's MSE (L2),
// CBAM-style maps included.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cbamMaps, distillationLoss, mapDistance } from '../src/losses/distillation.js';
import type { BranchTaps } from '../src/models/multi-branch.js';
import * as torch from '../src/torch/index.js';
import { anchorPrelude, anchorUnavailable } from './helpers/catface-anchor.js';
import { closeness, runPython } from './helpers/oracle.js';

type Tensor = torch.Tensor;

function taps(b: number, n: number, c: number, h: number, w: number): BranchTaps {
  return { A: torch.F.softmax(torch.randn([b, n, n]), -1), V: torch.randn([b, n, c]), map: torch.randn([b, c, h, w]) };
}

test('identical maps give 0 for every target and distance', () => {
  torch.manualSeed(31);
  const x = taps(3, 4, 5, 2, 2);
  for (const target of ['attention', 'features', 'cbam'] as const) {
    for (const distance of ['cosine', 'l2'] as const) {
      const loss = distillationLoss(x, x, { target, distance }).item();
      assert.ok(Math.abs(loss) < 1e-6, `${target}/${distance}: ${loss}`);
    }
  }
});

test('orthogonal maps give 1 per cosine term (A and V: 2; features: 1)', () => {
  // Per sample, teacher and student rows live on disjoint coordinates, so the flattened maps are orthogonal.
  const eyeRows = (b: number, n: number, offset: number): Tensor =>
    torch.tidy(() =>
      torch.stack(
        Array.from({ length: b }, () =>
          torch
            .eye(n)
            .roll(offset, 1)
            .mul(torch.rand([n, 1]).add(0.5)),
        ),
      ),
    );
  const teacher: BranchTaps = { A: eyeRows(2, 4, 0), V: torch.zeros([2, 4, 6]), map: torch.zeros([2, 3, 2, 2]) };
  const student: BranchTaps = { A: eyeRows(2, 4, 1), V: torch.zeros([2, 4, 6]), map: torch.zeros([2, 3, 2, 2]) };
  teacher.V.narrow(2, 0, 3).copy_(torch.randn([2, 4, 3]));
  student.V.narrow(2, 3, 3).copy_(torch.randn([2, 4, 3]));
  teacher.map.narrow(1, 0, 1).copy_(torch.randn([2, 1, 2, 2]));
  student.map.narrow(1, 1, 2).copy_(torch.randn([2, 2, 2, 2]));
  assert.ok(Math.abs(mapDistance(teacher.A, student.A).item() - 1) < 1e-6);
  assert.ok(Math.abs(distillationLoss(teacher, student).item() - 2) < 1e-6);
  assert.ok(Math.abs(distillationLoss(teacher, student, { target: 'features' }).item() - 1) < 1e-6);
});

test('gradients reach the student only, never the teacher', () => {
  torch.manualSeed(32);
  for (const target of ['attention', 'features', 'cbam'] as const) {
    const shared = torch.randn([2, 4, 3, 3]);
    const teacherMap = shared.clone().requiresGrad_();
    const studentMap = torch.randn([2, 4, 3, 3]).requiresGrad_();
    // Teacher and student taps computed from their maps, as the network does, so a leak would show on teacherMap.
    const tap = (m: Tensor): BranchTaps => ({
      A: torch.F.softmax(m.flatten(2).transpose(1, 2).matmul(m.flatten(2)), -1),
      V: m.flatten(2).transpose(1, 2),
      map: m,
    });
    distillationLoss(tap(teacherMap), tap(studentMap), { target }).backward();
    assert.equal(teacherMap.grad, null, `${target}: the teacher got a gradient`);
    assert.ok(studentMap.grad && studentMap.grad.abs().sum().item() > 0, `${target}: the student got no gradient`);
  }
});

test('values and student gradients equal the anchor distill (cosine) and PyTorch MSE (L2), CBAM maps included', (t) => {
  if (anchorUnavailable) return t.skip(anchorUnavailable);
  torch.manualSeed(33);
  const teacher = taps(4, 9, 8, 3, 3);
  const student = taps(4, 9, 8, 3, 3);
  const inputs: Record<string, Tensor> = {};
  const ours: Record<string, Tensor> = {};
  for (const target of ['attention', 'features', 'cbam'] as const) {
    for (const distance of ['cosine', 'l2'] as const) {
      const s = { A: student.A.clone().requiresGrad_(), V: student.V.clone().requiresGrad_(), map: student.map.clone().requiresGrad_() };
      const loss = distillationLoss(teacher, s, { target, distance });
      loss.backward();
      const key = `${target}_${distance}`;
      ours[`${key}.loss`] = loss;
      for (const n of ['A', 'V', 'map'] as const) ours[`${key}.g${n}`] = s[n].grad ?? torch.zerosLike(s[n]);
    }
  }
  Object.assign(inputs, { tA: teacher.A, tV: teacher.V, tmap: teacher.map, sA: student.A, sV: student.V, smap: student.map });
  const cbam = cbamMaps(student.map);
  const py = runPython(
    `${anchorPrelude(['--size', '64'])}
def cbam(f):
    return torch.sigmoid(f.mean((2, 3)) + f.amax((2, 3))), torch.sigmoid(f.mean(1) + f.amax(1))
l2 = lambda t, s: F.mse_loss(s, t.detach())
for target in ('attention', 'features', 'cbam'):
    for name, dist in (('cosine', distill), ('l2', l2)):
        s = {n: inp['s' + n].clone().requires_grad_() for n in ('A', 'V', 'map')}
        if target == 'attention': loss = dist(inp['tA'], s['A']) + dist(inp['tV'], s['V'])
        elif target == 'features': loss = dist(inp['tmap'], s['map'])
        else:
            (tc, ts), (sc, ss) = cbam(inp['tmap']), cbam(s['map'])
            loss = dist(tc, sc) + dist(ts, ss)
        loss.backward()
        key = target + '_' + name
        out[key + '.loss'] = loss
        for n in ('A', 'V', 'map'):
            out[key + '.g' + n] = s[n].grad if s[n].grad is not None else torch.zeros_like(s[n])
out['cbam.channel'], out['cbam.spatial'] = cbam(inp['smap'])`,
    inputs,
  );
  const failures: string[] = [];
  for (const [key, value] of [...Object.entries(ours), ['cbam.channel', cbam.channel] as const, ['cbam.spatial', cbam.spatial] as const]) {
    const expected = py.get(key);
    if (!expected) failures.push(`${key}: missing from PyTorch`);
    else if (!closeness(value, expected, 1e-5, 1e-6).ok) failures.push(`${key}: ${value.toArray()} vs ${expected.toArray()}`.slice(0, 300));
  }
  assert.deepEqual(failures, [], failures.join('\n'));
});

test('mismatched teacher and student shapes are an error naming both', () => {
  assert.throws(() => mapDistance(torch.zeros([2, 3]), torch.zeros([2, 4])), /teacher \[2,3\] and student \[2,4\] shapes differ/);
  assert.throws(
    () => distillationLoss(taps(1, 2, 2, 1, 1), taps(1, 2, 2, 1, 1), { distance: 'l1' as 'l2' }),
    /distance must be 'cosine' or 'l2'/,
  );
});
