// Parity with PyTorch 1.13 for creation, shape, elementwise maths, reductions and linear algebra: forward
// values and the gradients of a random weighted sum. Tolerances are float32's 1e-5 relative unless a case
// says why it needs more.
import { test } from 'node:test';
import * as torch from '../src/torch/index.js';
import { checkParity, type OpCase } from './helpers/parity.js';

type T = torch.Tensor;
const randn = (...shape: number[]): T => torch.randn(shape);
/** Values in [lo, hi): for ops with a restricted domain (log, sqrt, acos…). */
const uniform = (lo: number, hi: number, ...shape: number[]): T =>
  torch
    .rand(shape)
    .mul(hi - lo)
    .add(lo);
const long = (values: torch.NestedArray): T => torch.tensor(values, { dtype: 'int64' });

test('creation ops and seeded random draws equal PyTorch', (t) => {
  torch.manualSeed(1);
  const cases: OpCase[] = [
    { name: 'zeros', inputs: {}, js: () => torch.zeros([2, 3]), py: 'torch.zeros(2, 3)' },
    { name: 'ones_f64', inputs: {}, js: () => torch.ones([3], { dtype: 'float64' }), py: 'torch.ones(3, dtype=torch.float64)' },
    { name: 'full', inputs: {}, js: () => torch.full([2, 2], 2.5), py: 'torch.full((2, 2), 2.5)' },
    { name: 'arange', inputs: {}, js: () => torch.arange(-1, 2, 0.25), py: 'torch.arange(-1, 2, 0.25)' },
    { name: 'arange_int', inputs: {}, js: () => torch.arange(7, undefined, 1, { dtype: 'int64' }), py: 'torch.arange(7)' },
    { name: 'linspace', inputs: {}, js: () => torch.linspace(-3, 5, 11), py: 'torch.linspace(-3, 5, 11)' },
    { name: 'eye', inputs: {}, js: () => torch.eye(3, 4), py: 'torch.eye(3, 4)' },
    {
      name: 'rand_family',
      inputs: {},
      js: () => {
        torch.manualSeed(7);
        return [torch.rand([3, 4]), torch.randn([5]), torch.randint(-3, 9, [6]), torch.randperm(8)];
      },
      py: '(torch.manual_seed(7), torch.rand(3, 4), torch.randn(5), torch.randint(-3, 9, (6,)), torch.randperm(8))[1:]',
    },
    {
      name: 'like',
      inputs: { a: randn(2, 3) },
      js: ({ a }) => [torch.zerosLike(a), torch.onesLike(a), torch.fullLike(a, -2)],
      py: '(torch.zeros_like(a), torch.ones_like(a), torch.full_like(a, -2))',
      grad: false,
    },
  ];
  checkParity(t, cases);
});

test('shape and indexing ops equal PyTorch (values and gradients)', (t) => {
  torch.manualSeed(2);
  const x = randn(2, 3, 4);
  const cases: OpCase[] = [
    { name: 'reshape', inputs: { x }, js: ({ x }) => x.reshape(4, -1), py: 'x.reshape(4, -1)' },
    { name: 'view', inputs: { x }, js: ({ x }) => x.view([6, 4]), py: 'x.view(6, 4)' },
    { name: 'permute', inputs: { x }, js: ({ x }) => x.permute(2, 0, 1).contiguous(), py: 'x.permute(2, 0, 1).contiguous()' },
    { name: 'transpose', inputs: { x }, js: ({ x }) => x.transpose(0, 2), py: 'x.transpose(0, 2)' },
    { name: 't2d', inputs: { m: randn(3, 5) }, js: ({ m }) => m.t(), py: 'm.t()' },
    { name: 'flatten', inputs: { x }, js: ({ x }) => x.flatten(1), py: 'x.flatten(1)' },
    { name: 'unflatten', inputs: { x }, js: ({ x }) => x.unflatten(2, [2, 2]), py: 'x.unflatten(2, (2, 2))' },
    { name: 'squeeze', inputs: { s: randn(2, 1, 3, 1) }, js: ({ s }) => [s.squeeze(), s.squeeze(1)], py: '(s.squeeze(), s.squeeze(1))' },
    { name: 'unsqueeze', inputs: { x }, js: ({ x }) => x.unsqueeze(-1), py: 'x.unsqueeze(-1)' },
    { name: 'expand', inputs: { c: randn(3, 1) }, js: ({ c }) => c.expand(2, 3, 4), py: 'c.expand(2, 3, 4)' },
    { name: 'repeat', inputs: { c: randn(2, 3) }, js: ({ c }) => c.repeat(2, 1, 3), py: 'c.repeat(2, 1, 3)' },
    { name: 'repeat_interleave', inputs: { c: randn(2, 3) }, js: ({ c }) => c.repeatInterleave(2, 1), py: 'c.repeat_interleave(2, 1)' },
    {
      name: 'cat_stack',
      inputs: { a: randn(2, 3), b: randn(1, 3) },
      js: ({ a, b }) => [torch.cat([a, b], 0), torch.stack([a, a.mul(b)], 1)],
      py: '(torch.cat([a, b], 0), torch.stack([a, a * b], 1))',
    },
    { name: 'split', inputs: { x }, js: ({ x }) => x.split([1, 3], 2), py: 'x.split([1, 3], 2)' },
    { name: 'split_size', inputs: { x }, js: ({ x }) => x.split(2, 1), py: 'x.split(2, 1)' },
    { name: 'chunk', inputs: { x }, js: ({ x }) => x.chunk(3, 2), py: 'x.chunk(3, 2)' },
    { name: 'unbind', inputs: { x }, js: ({ x }) => x.unbind(1), py: 'x.unbind(1)' },
    { name: 'narrow', inputs: { x }, js: ({ x }) => x.narrow(2, 1, 2), py: 'x.narrow(2, 1, 2)' },
    { name: 'slice', inputs: { x }, js: ({ x }) => x.slice(2, 1, undefined, 2), py: 'x[:, :, 1::2]' },
    { name: 'select', inputs: { x }, js: ({ x }) => x.select(1, -1), py: 'x[:, -1]' },
    {
      name: 'index_select',
      inputs: { x, i: long([2, 0, 2]) },
      js: ({ x, i }) => x.indexSelect(1, i),
      py: 'x.index_select(1, i)',
    },
    {
      name: 'index',
      inputs: { x, i: long([1, 0]), j: long([3, 1]) },
      js: ({ x, i, j }) => x.index([i, null, j]),
      py: 'x[i, :, j]',
    },
    {
      name: 'index_put',
      inputs: { x, v: randn(2, 3), i: long([1, 1]), j: long([0, 0]) },
      js: ({ x, v, i, j }) => x.indexPut([i, null, j], v, true),
      py: 'torch.ops.aten.index_put(x, [i, None, j], v, True)',
    },
    {
      name: 'gather',
      inputs: {
        x,
        i: long([
          [
            [0, 3],
            [1, 1],
            [2, 0],
          ],
          [
            [3, 3],
            [0, 2],
            [1, 2],
          ],
        ]),
      },
      js: ({ x, i }) => x.gather(2, i),
      py: 'x.gather(2, i)',
    },
    {
      name: 'scatter',
      inputs: {
        z: randn(2, 5),
        s: randn(2, 2),
        i: long([
          [4, 0],
          [2, 3],
        ]),
      },
      js: ({ z, s, i }) => [z.scatter(1, i, s), z.scatter(1, i, 1.5), z.scatterAdd(1, i, s)],
      py: '(z.scatter(1, i, s), z.scatter(1, i, 1.5), z.scatter_add(1, i, s))',
    },
    {
      name: 'masked',
      inputs: { x, m: x.gt(0.3) },
      js: ({ x, m }) => [x.maskedFill(m, -1), x.maskedSelect(m)],
      py: '(x.masked_fill(m, -1), x.masked_select(m))',
    },
    {
      name: 'where',
      inputs: { x, y: randn(3, 4), m: x.lt(0) },
      js: ({ x, y, m }) => [torch.where(m, x, y), torch.where(m, x, 0.5), torch.where(m, 2, y)],
      py: '(torch.where(m, x, y), torch.where(m, x, torch.tensor(0.5)), torch.where(m, torch.tensor(2.0), y))',
    },
    { name: 'flip', inputs: { x }, js: ({ x }) => x.flip(0, 2), py: 'x.flip(0, 2)' },
    { name: 'roll', inputs: { x }, js: ({ x }) => [x.roll(1, 2), x.roll([1, -2], [0, 2])], py: '(x.roll(1, 2), x.roll((1, -2), (0, 2)))' },
    {
      name: 'tri',
      inputs: { m: randn(4, 4) },
      js: ({ m }) => [m.tril(), m.triu(1), m.diagonal()],
      py: '(m.tril(), m.triu(1), m.diagonal())',
    },
  ];
  checkParity(t, cases);
});

test('elementwise maths with broadcasting equals PyTorch (values and gradients)', (t) => {
  torch.manualSeed(3);
  const a = randn(3, 4);
  const b = randn(4);
  const pos = uniform(0.2, 3, 3, 4);
  const unit = uniform(-0.9, 0.9, 3, 4);
  const away = (u: T): T => u.add(u.sign().mul(0.1)); // keeps inputs away from 0 where abs/sign kink
  const cases: OpCase[] = [
    { name: 'add', inputs: { a, b }, js: ({ a, b }) => [a.add(b), a.add(b, 2), a.add(3)], py: '(a + b, torch.add(a, b, alpha=2), a + 3)' },
    {
      name: 'sub',
      inputs: { a, b },
      js: ({ a, b }) => [a.sub(b), a.sub(b, 0.5), a.rsub(2)],
      py: '(a - b, torch.sub(a, b, alpha=0.5), 2 - a)',
    },
    { name: 'mul', inputs: { a, b }, js: ({ a, b }) => [a.mul(b), a.mul(-1.5)], py: '(a * b, a * -1.5)' },
    { name: 'div', inputs: { a, p: pos }, js: ({ a, p }) => [a.div(p), a.div(4)], py: '(a / p, a / 4)' },
    {
      name: 'div_mode',
      inputs: { a: a.mul(5), p: pos },
      js: ({ a, p }) => [a.div(p, 'floor'), a.div(p, 'trunc'), a.remainder(p)],
      py: "(torch.div(a, p, rounding_mode='floor'), torch.div(a, p, rounding_mode='trunc'), torch.remainder(a, p))",
      grad: false,
    },
    { name: 'pow', inputs: { p: pos, e: randn(4) }, js: ({ p, e }) => [p.pow(e), p.pow(3), p.pow(0.5)], py: '(p ** e, p ** 3, p ** 0.5)' },
    { name: 'neg_abs', inputs: { a: away(a) }, js: ({ a }) => [a.neg(), a.abs()], py: '(-a, a.abs())' },
    {
      name: 'exp_log',
      inputs: { a, p: pos },
      js: ({ a, p }) => [a.exp(), a.expm1(), p.log(), p.log1p(), p.log2()],
      py: '(a.exp(), a.expm1(), p.log(), p.log1p(), p.log2())',
    },
    {
      name: 'roots',
      inputs: { p: pos },
      js: ({ p }) => [p.sqrt(), p.rsqrt(), p.square(), p.reciprocal()],
      py: '(p.sqrt(), p.rsqrt(), p.square(), p.reciprocal())',
    },
    {
      name: 'trig',
      inputs: { a, u: unit },
      js: ({ a, u }) => [a.sin(), a.cos(), u.tan(), u.asin(), u.acos(), a.atan(), a.sinh(), a.cosh()],
      py: '(a.sin(), a.cos(), u.tan(), u.asin(), u.acos(), a.atan(), a.sinh(), a.cosh())',
    },
    { name: 'atan2', inputs: { a, b }, js: ({ a, b }) => [a.atan2(b), torch.F.atan2(b, a)], py: '(torch.atan2(a, b), torch.atan2(b, a))' },
    {
      name: 'activations',
      inputs: { a: away(a) },
      js: ({ a }) => [a.tanh(), a.sigmoid(), a.relu(), a.erf()],
      py: '(a.tanh(), a.sigmoid(), a.relu(), a.erf())',
    },
    {
      name: 'rounding',
      inputs: { a: a.mul(3) },
      js: ({ a }) => [a.floor(), a.ceil(), a.round(), a.trunc(), a.frac(), a.sign()],
      py: '(a.floor(), a.ceil(), a.round(), a.trunc(), a.frac(), a.sign())',
    },
    {
      name: 'clamp',
      inputs: { a },
      js: ({ a }) => [a.clamp(-0.5, 0.7), a.clamp(null, 0.2), a.clampMin(0.1), a.clampMax(-0.1)],
      py: '(a.clamp(-0.5, 0.7), a.clamp(max=0.2), a.clamp_min(0.1), a.clamp_max(-0.1))',
    },
    {
      name: 'min_max_lerp',
      inputs: { a, b },
      js: ({ a, b }) => [a.minimum(b), a.maximum(b), a.lerp(b.expand(3, 4), 0.3), a.lerp(b.expand(3, 4), a.sigmoid())],
      py: '(torch.minimum(a, b), torch.maximum(a, b), torch.lerp(a, b.expand(3, 4), 0.3), torch.lerp(a, b.expand(3, 4), a.sigmoid()))',
    },
    {
      name: 'nan_to_num',
      inputs: { n: torch.tensor([Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 1.5]) },
      js: ({ n }) => [n.nanToNum(), n.nanToNum(-1, 9, -9), n.isnan(), n.isinf(), n.isfinite()],
      py: '(n.nan_to_num(), n.nan_to_num(-1.0, 9.0, -9.0), n.isnan(), n.isinf(), n.isfinite())',
      grad: false,
    },
    {
      name: 'compare',
      inputs: { a, b },
      js: ({ a, b }) => [
        a.eq(b),
        a.ne(0),
        a.lt(b),
        a.le(0.1),
        a.gt(b),
        a.ge(-0.2),
        a.gt(0).logicalAnd(b.gt(0)),
        a.gt(0).logicalOr(b.gt(0)),
        a.gt(0).logicalNot(),
      ],
      py: '(a == b, a != 0, a < b, a <= 0.1, a > b, a >= -0.2, (a > 0) & (b > 0), (a > 0) | (b > 0), ~(a > 0))',
      grad: false,
    },
    {
      name: 'dtype_promotion',
      inputs: { a, i: long([1, 2, 3, 4]) },
      js: ({ a, i }) => [a.add(i), i.mul(2), i.div(3), i.to('float64').mul(a)],
      py: '(a + i, i * 2, i / 3, i.double() * a)',
    },
  ];
  checkParity(t, cases);
});

test('reductions equal PyTorch (values and gradients)', (t) => {
  torch.manualSeed(4);
  const x = randn(3, 5, 4);
  const cases: OpCase[] = [
    {
      name: 'sum_mean',
      inputs: { x },
      js: ({ x }) => [x.sum(), x.sum(1), x.sum([0, 2], true), x.mean(), x.mean(-1, true)],
      py: '(x.sum(), x.sum(1), x.sum((0, 2), keepdim=True), x.mean(), x.mean(-1, keepdim=True))',
    },
    {
      name: 'prod',
      inputs: { p: uniform(0.5, 1.5, 3, 4) },
      js: ({ p }) => [p.prod(), p.prod(1, true)],
      py: '(p.prod(), p.prod(1, keepdim=True))',
    },
    {
      name: 'std_var',
      inputs: { x },
      js: ({ x }) => [x.std(), x.std(1), x.var([0, 2], { correction: 0, keepdim: true }), x.var(undefined, { correction: 1 })],
      py: '(x.std(), x.std(1), torch.var(x, (0, 2), correction=0, keepdim=True), x.var())',
    },
    {
      name: 'max_min',
      inputs: { x },
      js: ({ x }) => [x.max(), ...x.max(1), x.min(), ...x.min(2, true), x.amax([0, 1]), x.amin(2)],
      py: '(x.max(), *x.max(1), x.min(), *x.min(2, keepdim=True), x.amax((0, 1)), x.amin(2))',
    },
    {
      name: 'argmax',
      inputs: { x },
      js: ({ x }) => [x.argmax(), x.argmax(1), x.argmin(2, true)],
      py: '(x.argmax(), x.argmax(1), x.argmin(2, keepdim=True))',
      grad: false,
    },
    {
      name: 'norm',
      inputs: { x },
      js: ({ x }) => [x.norm(), x.norm(2, 1), x.norm(1, [1, 2], true), x.norm(Number.POSITIVE_INFINITY, 2)],
      py: "(x.norm(), x.norm(2, 1), torch.linalg.vector_norm(x, 1, (1, 2), keepdim=True), torch.linalg.vector_norm(x, float('inf'), 2))",
    },
    {
      name: 'logsumexp_cum',
      inputs: { x },
      js: ({ x }) => [x.logsumexp(1), x.cumsum(2), x.cumprod(1)],
      py: '(x.logsumexp(1), x.cumsum(2), x.cumprod(1))',
    },
    {
      name: 'all_any',
      inputs: { m: x.gt(-1.5) },
      js: ({ m }) => [m.all(), m.any()],
      py: '(m.all(), m.any())',
      grad: false,
    },
    {
      name: 'topk_sort',
      inputs: { x },
      js: ({ x }) => [...x.topk(2), ...x.topk(3, 1, false), ...x.sort(), ...x.sort(0, true), x.argsort(1)],
      py: '(*x.topk(2), *x.topk(3, 1, largest=False), *x.sort(), *x.sort(0, descending=True), x.argsort(1))',
    },
  ];
  checkParity(t, cases);
});

test('linear algebra equals PyTorch (values and gradients)', (t) => {
  torch.manualSeed(5);
  const sym = (m: T): T => m.matmul(m.transpose(-2, -1)).add(torch.eye(m.shape[m.ndim - 1]));
  const diagEmbed = (v: T): T => torch.callOp('aten::diag_embed', [v, 0, -2, -1]) as T;
  const cases: OpCase[] = [
    {
      name: 'matmul',
      inputs: { a: randn(2, 3, 4), b: randn(4, 5), v: randn(4) },
      js: ({ a, b, v }) => [a.matmul(b), a.matmul(v), v.matmul(b)],
      py: '(a @ b, a @ v, v @ b)',
    },
    {
      name: 'mm_bmm',
      inputs: { a: randn(3, 4), b: randn(4, 2), c: randn(2, 3, 4), d: randn(2, 4, 5) },
      js: ({ a, b, c, d }) => [a.mm(b), c.bmm(d)],
      py: '(a.mm(b), c.bmm(d))',
    },
    {
      name: 'dot_outer',
      inputs: { u: randn(5), v: randn(5) },
      js: ({ u, v }) => [u.dot(v), u.outer(v)],
      py: '(u.dot(v), torch.outer(u, v))',
    },
    {
      name: 'einsum',
      inputs: { a: randn(2, 3, 4), b: randn(2, 4, 5) },
      js: ({ a, b }) => [torch.einsum('bij,bjk->bik', a, b), torch.einsum('bij->j', a)],
      py: "(torch.einsum('bij,bjk->bik', a, b), torch.einsum('bij->j', a))",
    },
    {
      // Eigenvectors carry an arbitrary sign, so compare gauge-invariant results: eigenvalues and V·diag(exp L)·Vᵀ.
      name: 'eigh',
      inputs: { m: randn(4, 4) },
      js: ({ m }) => {
        const [l, v] = torch.eigh(sym(m));
        return [l, v.matmul(diagEmbed(l.mul(0.3).exp())).matmul(v.transpose(-2, -1))];
      },
      py: '(lambda l, v: (l, v @ torch.diag_embed((0.3 * l).exp()) @ v.mT))(*torch.linalg.eigh(m @ m.mT + torch.eye(4)))',
      rtol: 1e-4, // LAPACK's iterative solver: results agree to ~1e-5 of the largest eigenvalue
      atol: 1e-5,
    },
    {
      // Singular vectors are defined up to sign: compare S, U·diag(S²)·Uᵀ and the reconstruction.
      name: 'svd',
      inputs: { m: randn(5, 3) },
      js: ({ m }) => {
        const [u, s, vh] = torch.svd(m);
        return [s, u.matmul(diagEmbed(s.square())).matmul(u.transpose(-2, -1)), u.matmul(diagEmbed(s)).matmul(vh)];
      },
      py: '(lambda u, s, vh: (s, u @ torch.diag_embed(s ** 2) @ u.mT, u @ torch.diag_embed(s) @ vh))(*torch.linalg.svd(m, full_matrices=False))',
      rtol: 1e-4, // iterative LAPACK solver, as for eigh
      atol: 1e-5,
    },
    {
      name: 'inverse_solve',
      inputs: { m: randn(3, 3), r: randn(3, 2) },
      js: ({ m, r }) => {
        const a = sym(m);
        return [torch.F.inverse(a), torch.F.solve(a, r)];
      },
      py: '(lambda a: (torch.linalg.inv(a), torch.linalg.solve(a, r)))(m @ m.mT + torch.eye(3))',
      rtol: 1e-4, // LU factorisation: error grows with the condition number
      atol: 1e-5,
    },
    { name: 'cdist', inputs: { a: randn(4, 3), b: randn(5, 3) }, js: ({ a, b }) => torch.F.cdist(a, b), py: 'torch.cdist(a, b)' },
  ];
  checkParity(t, cases);
});
