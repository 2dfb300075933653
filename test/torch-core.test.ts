// Core engine behaviour: creation, metadata, scopes, autograd basics, RNG state, errors.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as torch from '../src/torch/index.js';

test('tensor round-trips nested arrays and typed arrays', () => {
  const t = torch.tensor([
    [1, 2, 3],
    [4, 5, 6],
  ]);
  assert.deepEqual(t.shape, [2, 3]);
  assert.equal(t.dtype, 'float32');
  assert.deepEqual(t.toArray(), [
    [1, 2, 3],
    [4, 5, 6],
  ]);
  const i = torch.fromTypedArray(new Int32Array([7, 8]));
  assert.equal(i.dtype, 'int32');
  assert.deepEqual(i.toArray(), [7, 8]);
  assert.throws(() => torch.tensor([[1, 2], [3]]), /ragged nested array at data\[1\]/);
});

test('tidy frees everything but the result, and nests', () => {
  const made: torch.Tensor[] = [];
  const kept = torch.tidy(() => {
    const a = torch.ones([4]);
    const inner = a.mul(2);
    made.push(inner);
    return torch.tidy(() => inner.add(1));
  });
  const [inner] = made;
  assert.equal(inner.isDisposed, true);
  assert.equal(kept.isDisposed, false);
  assert.deepEqual(kept.toArray(), [3, 3, 3, 3]);
  const w = torch.tidy(() => torch.keep(torch.zeros([2])));
  assert.equal(w.isDisposed, false);
  assert.throws(() => inner.add(1), /disposed/);
});

test('autograd computes d(sum x²)/dx = 2x and noGrad builds no graph', () => {
  const x = torch.tensor([1, -2, 3], { requiresGrad: true });
  const y = x.mul(x).sum();
  assert.equal(y.gradFn, 'SumBackward0');
  y.backward();
  assert.deepEqual(x.grad?.toArray(), [2, -4, 6]);
  const z = torch.noGrad(() => x.mul(2));
  assert.equal(z.requiresGrad, false);
  assert.equal(torch.isGradEnabled(), true);
});

test('rng state restores the exact same draws', () => {
  torch.manualSeed(123);
  const state = torch.getRngState();
  const a = torch.randn([5]).toArray();
  torch.setRngState(state);
  const b = torch.randn([5]).toArray();
  assert.deepEqual(a, b);
  torch.manualSeed(123);
  assert.deepEqual(torch.randn([5]).toArray(), a);
});

test('libtorch errors become JS errors naming the op and the input shapes', () => {
  const a = torch.zeros([2, 3]);
  assert.throws(() => a.mm(a), /aten::mm\(float32\[2,3\], float32\[2,3\]\).*cannot be multiplied/);
  assert.throws(() => a.add(torch.zeros([4])), /aten::add\.Tensor\(float32\[2,3\], float32\[4\], 1\)/);
  assert.throws(() => torch.zeros([2]).to('float99' as torch.DType), /Invalid device string: 'float99'/);
  assert.throws(() => torch.F.conv2d(torch.zeros([1, 3, 4, 4]), torch.zeros([2, 4, 3, 3])), /aten::conv2d/);
});

test('threads default to every core and can be set', () => {
  assert.ok(torch.getNumThreads() >= 1);
  const before = torch.getNumThreads();
  torch.setNumThreads(1);
  assert.equal(torch.getNumThreads(), 1);
  torch.setNumThreads(before);
  assert.throws(() => torch.setNumThreads(0), /positive integer/);
});

test('callOpAsync runs off the event loop and resolves to a tensor', async () => {
  const a = torch.randn([64, 64]);
  const r = (await torch.callOpAsync('aten::mm', [a, a])) as torch.Tensor;
  assert.ok(r.allclose(a.mm(a), 1e-5, 1e-5));
  await assert.rejects(torch.callOpAsync('aten::mm', [a, torch.zeros([3, 3])]), /aten::mm/);
});
