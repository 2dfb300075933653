// Bad input gives a clear JS error (naming the op, the inputs and what is wrong) and never aborts the process:
// shape, dtype and device mismatches, disposed tensors, wrong argument types, odd sizes and huge allocations.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as torch from '../src/torch/index.js';

const { F } = torch;
const long = (v: torch.NestedArray): torch.Tensor => torch.tensor(v, { dtype: 'int64' });

test('shape, dtype and device mismatches name the op and the inputs', () => {
  const a = torch.zeros([2, 3]);
  assert.throws(() => a.matmul(torch.zeros([2, 3])), /aten::matmul\(float32\[2,3\], float32\[2,3\]\).*cannot be multiplied/);
  assert.throws(
    () => a.mm(torch.zeros([3, 2], { dtype: 'float64' })),
    /aten::mm\(float32\[2,3\], float64\[3,2\]\): expected scalar type Float but found Double/,
  );
  assert.throws(
    () => torch.cat([a, torch.zeros([3, 4])], 0),
    /aten::cat\(\[float32\[2,3\], float32\[3,4\]\], 0\): Sizes of tensors must match/,
  );
  assert.throws(() => a.reshape(4, -1), /shape '\[4, -1\]' is invalid for input of size 6/);
  assert.throws(() => a.expand(4, 4), /aten::expand.*must match the existing size/);
  assert.throws(() => a.to('cuda:0'), torch.cudaAvailable() ? /^$/ : /aten::to\.dtype_layout\(float32\[2,3\].*cuda/);
  assert.throws(() => torch.zeros([2], { device: 'tpu' }), /device/);
  assert.throws(
    () => F.conv2d(torch.zeros([1, 3, 8, 8]), torch.zeros([4, 2, 3, 3])),
    /aten::conv2d\(float32\[1,3,8,8\], float32\[4,2,3,3\]/,
  );
  assert.throws(() => F.crossEntropy(torch.zeros([2, 3]), long([0, 7])), /aten::cross_entropy_loss.*Target 7 is out of bounds/);
  assert.throws(() => a.index([long([1]), long([-9])]), /aten::index\.Tensor\(float32\[2,3\], \[int64\[1\], int64\[1\]\]\).*out of bounds/);
  assert.throws(() => a.indexSelect(1, long([5])), /aten::index_select\(float32\[2,3\], 1, int64\[1\]\): .*out of/);
  assert.throws(() => a.gather(1, long([[0, 9, 1]]).expand(2, 3)), /aten::gather.*index 9 is out of bounds/);
});

test('wrong argument types and disposed tensors give TypeErrors or Errors, not crashes', () => {
  const a = torch.ones([2]);
  assert.throws(() => a.add('x' as never), /aten::add\.Scalar: argument 'other' \(Scalar\) must be a number/);
  assert.throws(() => a.add(null as never), /argument 'other' \(Scalar\) may not be null/);
  assert.throws(() => torch.callOp('aten::add.Tensor', [{}, a]), /aten::add\.Tensor argument 'self': expected a Tensor/);
  assert.throws(() => torch.callOp('aten::neg', [a, 1, 2]), /aten::neg: takes 1 arguments, got 3/);
  assert.throws(() => torch.callOp('aten::no_such_op', []), /libtorch has no operator aten::no_such_op/);
  assert.throws(() => a.reshape(2.5 as number), /argument 'shape' \(SymInt\[\]\) must be an integer in int64 range, got 2\.5/);
  assert.throws(() => a.reshape(2 ** 63), /must be an integer in int64 range/);
  assert.throws(() => torch.zeros([Number.NaN]), /must be an integer in int64 range, got nan/);
  assert.throws(() => new torch.Tensor(), /use the factory functions/);
  assert.throws(() => torch.tensor(['a' as never]), /element 0 is string/);
  assert.throws(() => a.copyFromArray(new Float32Array(3)), /copyFromBytes\(float32\[2\]\): got 12 bytes, the tensor holds 8/);
  assert.throws(() => a.copyFromArray(new DataView(new ArrayBuffer(8))), /expected a TypedArray or Buffer/);
  const gone = torch.ones([3]);
  gone.dispose();
  gone.dispose(); // a second dispose is harmless
  assert.equal(gone.isDisposed, true);
  assert.throws(() => gone.add(1), /aten::add\.Scalar argument 'self': the Tensor was disposed/);
  assert.throws(() => a.add(gone), /argument 'other': the Tensor was disposed/);
  assert.throws(() => gone.shape, /shape: the Tensor was disposed/);
  assert.throws(() => gone.item(), /item: the Tensor was disposed/);
  assert.equal(String(gone), 'Tensor(disposed)');
});

test('negative, empty, non-finite and huge sizes give errors (the process survives)', () => {
  assert.throws(() => torch.zeros([-1, 2]), /negative dimension -1/);
  assert.throws(() => torch.zeros([1e6, 1e6, 1e6]), /can't allocate memory/);
  assert.throws(() => torch.empty([2 ** 40]), /can't allocate memory/);
  assert.throws(() => torch.fromBytes(new Uint8Array(4), 'float32', [2 ** 32, 2 ** 32]), /more bytes than memory can address/);
  assert.throws(() => torch.fromBytes(new Uint8Array(4), 'float32', [-1]), /shape\[0\] must be a non-negative integer/);
  assert.throws(() => torch.fromBytes(new Uint8Array(3), 'float32', [1]), /needs 4 bytes, got 3/);
  assert.throws(() => torch.arange(0, 1e20), /invalid size, possible overflow/);
  assert.throws(() => torch.randperm(-3), /negative dimension/);
  assert.throws(() => torch.randint(5, 1, [3]), /'from' to be less than 'to'/);
  assert.throws(() => torch.linspace(0, 1, -2), /number of steps must be non-negative/);
  assert.throws(() => torch.ones([3]).split(0), /split_size can only be 0/);
  assert.throws(() => torch.ones([3]).chunk(0), /chunk expects `chunks` to be greater than 0/);
  assert.throws(() => torch.ones([2]).topk(5), /selected index k out of range/);
  assert.throws(() => torch.zeros([0]).max(), /Expected reduction dim to be specified/);
  assert.throws(() => torch.zeros([0]).item(), /exactly one element/);
  assert.throws(() => torch.cat([]), /expected a non-empty list of Tensors/);
  assert.throws(() => torch.fft.fft2(torch.zeros([0, 0])), /Invalid number of data points \(0\)/);
  assert.throws(() => F.conv2d(torch.ones([1, 1, 4, 4]), torch.ones([1, 1, 1, 1]), null, { stride: 0 }), /non-positive stride/);
  assert.throws(() => F.maxPool2d(torch.ones([1, 1, 2, 2]), 5), /Output size is too small/);
  assert.throws(() => F.interpolate(torch.ones([1, 1, 2, 2]), { scaleFactor: Number.NaN }), /output size must be ≥ 1/);
  assert.throws(() => torch.setNumThreads(1e9), /setNumThreads/);
  assert.throws(() => torch.manualSeed(-1), /non-negative integer/);
  assert.throws(() => torch.manualSeed(2 ** 64), /non-negative integer/);
  assert.throws(() => torch.setRngState(new Uint8Array(10)), /setRngState: .*RNG state size/);
  // Empty tensors are fine where PyTorch allows them.
  assert.deepEqual(torch.zeros([2, 0]).toArray(), [[], []]);
  assert.ok(Number.isNaN(torch.zeros([0]).mean().item()));
  assert.equal(torch.zeros([0, 3]).sum().item(), 0);
});

test('autograd misuse gives clear errors', () => {
  assert.throws(() => torch.ones([2]).sum().backward(), /backward\(float32\[\]\): the tensor does not require grad/);
  const x = torch.ones([2], { requiresGrad: true });
  assert.throws(() => x.mul(2).backward(), /a gradient is needed for a non-scalar output/);
  assert.throws(
    () => x.mul(2).backward(torch.ones([3])),
    /backward\(float32\[2\], gradient float32\[3\]\).*got \[3\] but expected shape compatible with \[2\]/,
  );
  const y = x.exp().sum();
  y.backward();
  assert.throws(() => y.backward(), /backward through the graph a second time/);
  assert.throws(() => {
    torch.ones([2], { dtype: 'int64' }).requiresGrad = true;
  }, /Only Tensors of floating point and complex dtype can require gradients/);
  assert.throws(() => {
    x.grad = torch.ones([3]);
  }, /gradient shape must equal/);
  assert.throws(() => {
    x.grad = torch.ones([2], { dtype: 'int64' });
  }, /gradient dtype must equal/);
  assert.throws(() => x.add_(1), /a leaf Variable that requires grad is being used in an in-place operation/);
});

test('NaN and infinity propagate like PyTorch and can be detected', () => {
  const v = torch.tensor([Number.NaN, 1, Number.POSITIVE_INFINITY]);
  assert.deepEqual(v.isnan().toArray(), [true, false, false]);
  assert.deepEqual(v.isfinite().toArray(), [false, true, false]);
  assert.ok(Number.isNaN(v.sum().item()));
  assert.ok(Number.isNaN(v.max().item()), 'max propagates NaN as PyTorch does');
  assert.deepEqual(v.nanToNum(0, 9).toArray(), [0, 1, 9]);
  assert.throws(
    () =>
      torch.svd(
        torch.tensor([
          [Number.NaN, 1],
          [1, 1],
        ]),
      ),
    /linalg\.svd: The algorithm failed to converge because the input matrix contained non-finite values/,
  );
  assert.throws(
    () => torch.callOp('aten::multinomial', [torch.tensor([-1, 2]), 1]),
    /probability tensor contains either `inf`, `nan` or element < 0/,
  );
});

test('async calls report errors as rejected promises', async () => {
  await assert.rejects(torch.callOpAsync('aten::mm', [torch.ones([2, 3]), 'x']), /aten::mm argument 'mat2': expected a Tensor/);
  await assert.rejects(
    torch.callOpAsync('aten::mm', [torch.ones([2, 3]), torch.ones([2, 3])]),
    /aten::mm\(float32\[2,3\], float32\[2,3\]\)/,
  );
});
