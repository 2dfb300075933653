// Parity with torch.nn.functional for convolution, normalisation, pooling, resampling, activations and losses:
// forward values and gradients of a random weighted sum, float32 1e-5 relative unless a case says why not.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as torch from '../src/torch/index.js';
import { checkParity, type OpCase } from './helpers/parity.js';

const { F } = torch;
type T = torch.Tensor;
const randn = (...shape: number[]): T => torch.randn(shape);

test('convolutions and linear equal PyTorch (values and gradients)', (t) => {
  torch.manualSeed(11);
  const x = randn(2, 4, 9, 8);
  const cases: OpCase[] = [
    {
      name: 'conv2d',
      inputs: { x, w: randn(6, 4, 3, 3), b: randn(6) },
      js: ({ x, w, b }) => [
        F.conv2d(x, w, b),
        F.conv2d(x, w, null, { stride: 2, padding: [1, 2], dilation: [2, 1] }),
        F.conv2d(x, w, b, { padding: 'same' }),
      ],
      py: '(F.conv2d(x, w, b), F.conv2d(x, w, None, stride=2, padding=(1, 2), dilation=(2, 1)), F.conv2d(x, w, b, padding="same"))',
      rtol: 1e-4, // sums of 36 products accumulated in different orders (blocked GEMM vs direct)
      atol: 1e-5,
    },
    {
      name: 'conv2d_groups',
      inputs: { x, w: randn(8, 2, 3, 3), dw: randn(4, 1, 3, 3) },
      js: ({ x, w, dw }) => [F.conv2d(x, w, null, { groups: 2, padding: 1 }), F.conv2d(x, dw, null, { groups: 4, stride: [1, 2] })],
      py: '(F.conv2d(x, w, None, groups=2, padding=1), F.conv2d(x, dw, None, groups=4, stride=(1, 2)))',
      rtol: 1e-4, // as conv2d
      atol: 1e-5,
    },
    {
      name: 'conv_transpose2d',
      inputs: { x, w: randn(4, 3, 3, 3), b: randn(6), wg: randn(4, 3, 2, 2) },
      js: ({ x, w, b, wg }) => [
        F.convTranspose2d(x, w, null, { stride: 2, padding: 1, outputPadding: 1 }),
        F.convTranspose2d(x, wg, b, { groups: 2, dilation: 2 }),
      ],
      py: '(F.conv_transpose2d(x, w, None, stride=2, padding=1, output_padding=1), F.conv_transpose2d(x, wg, b, groups=2, dilation=2))',
      rtol: 1e-4, // as conv2d
      atol: 1e-5,
    },
    {
      name: 'linear',
      inputs: { a: randn(3, 5, 7), w: randn(4, 7), b: randn(4) },
      js: ({ a, w, b }) => [F.linear(a, w, b), F.linear(a, w)],
      py: '(F.linear(a, w, b), F.linear(a, w))',
    },
  ];
  checkParity(t, cases);
});

test('normalisation and dropout equal PyTorch (values, running stats, gradients)', (t) => {
  torch.manualSeed(12);
  const x = randn(4, 3, 5, 5);
  const cases: OpCase[] = [
    {
      name: 'batch_norm_train',
      inputs: { x, w: randn(3), b: randn(3), rm: randn(3), rv: torch.rand([3]).add(0.5) },
      js: ({ x, w, b, rm, rv }) => [F.batchNorm(x, rm, rv, { weight: w, bias: b, training: true, momentum: 0.2 }), rm, rv],
      py: '(F.batch_norm(x, rm, rv, w, b, True, 0.2), rm, rv)',
      grad: ['x', 'w', 'b'],
    },
    {
      name: 'batch_norm_eval',
      inputs: { x, w: randn(3), b: randn(3), rm: randn(3), rv: torch.rand([3]).add(0.5) },
      js: ({ x, w, b, rm, rv }) => [F.batchNorm(x, rm, rv, { weight: w, bias: b }), rm, rv],
      py: '(F.batch_norm(x, rm, rv, w, b, False), rm, rv)',
      grad: ['x', 'w', 'b'],
    },
    {
      name: 'batch_norm_1d_nostats',
      inputs: { v: randn(6, 4) },
      js: ({ v }) => F.batchNorm(v, null, null, { training: true }),
      py: 'F.batch_norm(v, None, None, training=True)',
    },
    {
      name: 'layer_norm',
      inputs: { x, w: randn(5, 5), b: randn(5, 5) },
      js: ({ x, w, b }) => [F.layerNorm(x, [5, 5], w, b), F.layerNorm(x, [5], null, null, 1e-3)],
      py: '(F.layer_norm(x, (5, 5), w, b), F.layer_norm(x, (5,), eps=1e-3))',
    },
    {
      name: 'group_norm',
      inputs: { g: randn(2, 6, 3, 3), w: randn(6), b: randn(6) },
      js: ({ g, w, b }) => [F.groupNorm(g, 3, w, b), F.groupNorm(g, 2)],
      py: '(F.group_norm(g, 3, w, b), F.group_norm(g, 2))',
    },
    {
      // Same generator and the same bernoulli kernel: the masks match exactly.
      name: 'dropout',
      inputs: { x },
      js: ({ x }) => {
        torch.manualSeed(99);
        return [F.dropout(x, 0.3), F.dropout(x, 0.3, false)];
      },
      py: '(torch.manual_seed(99), F.dropout(x, 0.3), F.dropout(x, 0.3, False))[1:]',
    },
  ];
  checkParity(t, cases);
});

test('pooling, padding, resampling and unfold equal PyTorch (values and gradients)', (t) => {
  torch.manualSeed(13);
  const x = randn(2, 3, 7, 6);
  const theta = torch.tensor([
    [
      [0.9, -0.2, 0.1],
      [0.3, 1.1, -0.05],
    ],
    [
      [1.2, 0.1, 0],
      [0, 0.8, 0.2],
    ],
  ]);
  const cases: OpCase[] = [
    {
      name: 'max_pool',
      inputs: { x },
      js: ({ x }) => [
        F.maxPool2d(x, 2),
        F.maxPool2d(x, 3, { stride: 2, padding: 1, ceilMode: true }),
        F.maxPool2d(x, [2, 3], { dilation: 2 }),
      ],
      py: '(F.max_pool2d(x, 2), F.max_pool2d(x, 3, 2, 1, ceil_mode=True), F.max_pool2d(x, (2, 3), dilation=2))',
    },
    {
      name: 'avg_pool',
      inputs: { x },
      js: ({ x }) => [F.avgPool2d(x, 2), F.avgPool2d(x, 3, { stride: 2, padding: 1, countIncludePad: false, ceilMode: true })],
      py: '(F.avg_pool2d(x, 2), F.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False))',
    },
    {
      name: 'adaptive_pool',
      inputs: { x },
      js: ({ x }) => [F.adaptiveAvgPool2d(x, 1), F.adaptiveAvgPool2d(x, [3, 4]), F.adaptiveMaxPool2d(x, [2, 4])],
      py: '(F.adaptive_avg_pool2d(x, 1), F.adaptive_avg_pool2d(x, (3, 4)), F.adaptive_max_pool2d(x, (2, 4)))',
    },
    {
      name: 'pad',
      inputs: { x },
      js: ({ x }) => [
        F.pad(x, [1, 2], 'constant', 0.5),
        F.pad(x, [1, 2, 3, 0]),
        F.pad(x, [2, 1, 1, 3], 'reflect'),
        F.pad(x, [2, 1, 1, 3], 'replicate'),
        F.pad(x, [2, 1, 1, 3], 'circular'),
        F.pad(x.flatten(2), [2, 3], 'reflect'),
        F.pad(x.flatten(2), [3, 1], 'circular'),
      ],
      py:
        "(F.pad(x, (1, 2), value=0.5), F.pad(x, (1, 2, 3, 0)), F.pad(x, (2, 1, 1, 3), 'reflect'), F.pad(x, (2, 1, 1, 3), 'replicate'), " +
        "F.pad(x, (2, 1, 1, 3), 'circular'), F.pad(x.flatten(2), (2, 3), 'reflect'), F.pad(x.flatten(2), (3, 1), 'circular'))",
    },
    {
      name: 'interpolate_size',
      inputs: { x },
      js: ({ x }) => [
        F.interpolate(x, { size: [10, 4] }),
        F.interpolate(x, { size: [10, 4], mode: 'bilinear' }),
        F.interpolate(x, { size: [5, 9], mode: 'bilinear', alignCorners: true }),
        F.interpolate(x, { size: [11, 13], mode: 'bicubic' }),
        F.interpolate(x, { size: [3, 2], mode: 'bilinear', antialias: true }),
        F.interpolate(x, { size: [4, 3], mode: 'bicubic', antialias: true }),
        F.interpolate(x, { size: [3, 3], mode: 'area' }),
        F.interpolate(x, { size: 5, mode: 'nearest-exact' }),
      ],
      py:
        "(F.interpolate(x, (10, 4)), F.interpolate(x, (10, 4), mode='bilinear'), F.interpolate(x, (5, 9), mode='bilinear', align_corners=True), " +
        "F.interpolate(x, (11, 13), mode='bicubic'), F.interpolate(x, (3, 2), mode='bilinear', antialias=True), " +
        "F.interpolate(x, (4, 3), mode='bicubic', antialias=True), F.interpolate(x, (3, 3), mode='area'), F.interpolate(x, 5, mode='nearest-exact'))",
    },
    {
      // A scale factor maps coordinates by 1/scale (not by in/out size), which differs for non-integral results.
      name: 'interpolate_scale',
      inputs: { x },
      js: ({ x }) => [
        F.interpolate(x, { scaleFactor: 1.7 }),
        F.interpolate(x, { scaleFactor: [0.6, 1.3], mode: 'bilinear' }),
        F.interpolate(x, { scaleFactor: 2.5, mode: 'bicubic', alignCorners: true }),
        F.interpolate(x, { scaleFactor: 0.45, mode: 'bilinear', antialias: true }),
        F.interpolate(x, { scaleFactor: 0.5, mode: 'area' }),
      ],
      py:
        "(F.interpolate(x, scale_factor=1.7), F.interpolate(x, scale_factor=(0.6, 1.3), mode='bilinear'), " +
        "F.interpolate(x, scale_factor=2.5, mode='bicubic', align_corners=True), F.interpolate(x, scale_factor=0.45, mode='bilinear', antialias=True), " +
        "F.interpolate(x, scale_factor=0.5, mode='area'))",
    },
    {
      name: 'grid_sample',
      inputs: { x, theta },
      js: ({ x, theta }) => {
        const grid = F.affineGrid(theta, [2, 3, 5, 4]);
        return [
          grid,
          F.gridSample(x, grid),
          F.gridSample(x, grid, { mode: 'nearest', paddingMode: 'border' }),
          F.gridSample(x, grid.mul(1.3), { mode: 'bicubic', paddingMode: 'reflection', alignCorners: true }),
          F.affineGrid(theta, [2, 3, 3, 6], true),
        ];
      },
      py:
        "(lambda g: (g, F.grid_sample(x, g, align_corners=False), F.grid_sample(x, g, 'nearest', 'border', align_corners=False), " +
        "F.grid_sample(x, g * 1.3, 'bicubic', 'reflection', align_corners=True), F.affine_grid(theta, (2, 3, 3, 6), align_corners=True)))" +
        '(F.affine_grid(theta, (2, 3, 5, 4), align_corners=False))',
      rtol: 1e-4, // grid coordinates are un-normalised with float rounding; bicubic weights amplify it
      atol: 1e-5,
    },
    {
      name: 'unfold',
      inputs: { x },
      js: ({ x }) => [F.unfold(x, 3), F.unfold(x, [2, 3], { dilation: [1, 2], padding: 1, stride: 2 })],
      py: '(F.unfold(x, 3), F.unfold(x, (2, 3), dilation=(1, 2), padding=1, stride=2))',
    },
  ];
  checkParity(t, cases);
});

test('activations equal PyTorch (values and gradients)', (t) => {
  torch.manualSeed(14);
  const x = randn(3, 4, 5);
  const cases: OpCase[] = [
    {
      name: 'softmax',
      inputs: { x },
      js: ({ x }) => [F.softmax(x, 1), F.logSoftmax(x, -1)],
      py: '(F.softmax(x, 1), F.log_softmax(x, -1))',
    },
    {
      name: 'pointwise',
      inputs: { x },
      js: ({ x }) => [
        F.relu(x),
        F.gelu(x),
        F.gelu(x, 'tanh'),
        F.silu(x),
        F.sigmoid(x),
        F.tanh(x),
        F.leakyRelu(x, 0.2),
        F.elu(x, 0.7),
        F.softplus(x, 2, 1),
      ],
      py: "(F.relu(x), F.gelu(x), F.gelu(x, approximate='tanh'), F.silu(x), torch.sigmoid(x), torch.tanh(x), F.leaky_relu(x, 0.2), F.elu(x, 0.7), F.softplus(x, 2, 1))",
    },
    {
      name: 'prelu',
      inputs: { x, a: torch.tensor([0.1, -0.3, 0.25, 0.5]), s: torch.tensor([0.2]) },
      js: ({ x, a, s }) => [F.prelu(x, a), F.prelu(x, s)],
      py: '(F.prelu(x, a), F.prelu(x, s))',
    },
  ];
  checkParity(t, cases);
});

test('losses and similarity equal PyTorch (values and gradients)', (t) => {
  torch.manualSeed(15);
  const logits = randn(6, 5);
  const labels = torch.tensor([0, 4, 2, 2, 1, 3], { dtype: 'int64' });
  const cases: OpCase[] = [
    {
      name: 'cross_entropy',
      inputs: { z: logits, y: labels, cw: torch.rand([5]).add(0.5), p: F.softmax(randn(6, 5), 1) },
      js: ({ z, y, cw, p }) => [
        F.crossEntropy(z, y),
        F.crossEntropy(z, y, { labelSmoothing: 0.1 }),
        F.crossEntropy(z, y, { weight: cw, reduction: 'sum', labelSmoothing: 0.2 }),
        F.crossEntropy(z, y, { reduction: 'none', ignoreIndex: 2 }),
        F.crossEntropy(z, p),
        F.nllLoss(F.logSoftmax(z, 1), y, { weight: cw }),
      ],
      py:
        "(F.cross_entropy(z, y), F.cross_entropy(z, y, label_smoothing=0.1), F.cross_entropy(z, y, cw, reduction='sum', label_smoothing=0.2), " +
        "F.cross_entropy(z, y, reduction='none', ignore_index=2), F.cross_entropy(z, p), F.nll_loss(F.log_softmax(z, 1), y, cw))",
      grad: ['z', 'p'], // class weights are not differentiable in ATen's nll_loss (nor in PyTorch)
    },
    {
      name: 'bce_logits',
      inputs: { z: logits, t: torch.rand([6, 5]), pw: torch.rand([5]).mul(3), w: torch.rand([6, 1]) },
      js: ({ z, t, pw, w }) => [
        F.binaryCrossEntropyWithLogits(z, t),
        F.binaryCrossEntropyWithLogits(z, t, { posWeight: pw, weight: w, reduction: 'sum' }),
        F.binaryCrossEntropyWithLogits(z, t, { reduction: 'none' }),
      ],
      py: "(F.binary_cross_entropy_with_logits(z, t), F.binary_cross_entropy_with_logits(z, t, w, reduction='sum', pos_weight=pw), F.binary_cross_entropy_with_logits(z, t, reduction='none'))",
      grad: ['z', 't'], // ATen's kernel has no gradient for pos_weight (nor has PyTorch's)
    },
    {
      name: 'regression',
      inputs: { a: logits, b: randn(6, 5) },
      js: ({ a, b }) => [
        F.mseLoss(a, b),
        F.mseLoss(a, b, 'sum'),
        F.l1Loss(a, b),
        F.l1Loss(a, b, 'none'),
        F.smoothL1Loss(a, b, 'mean', 0.5),
      ],
      py: "(F.mse_loss(a, b), F.mse_loss(a, b, reduction='sum'), F.l1_loss(a, b), F.l1_loss(a, b, reduction='none'), F.smooth_l1_loss(a, b, beta=0.5))",
    },
    {
      name: 'similarity',
      inputs: { a: randn(4, 8), b: randn(4, 8), c: randn(1, 8) },
      js: ({ a, b, c }) => [
        F.cosineSimilarity(a, b),
        F.cosineSimilarity(a, c, 1),
        F.normalize(a),
        F.normalize(a, 1, 0),
        F.normalize(a, 3, -1, 0.1),
      ],
      py: '(F.cosine_similarity(a, b), F.cosine_similarity(a, c, 1), F.normalize(a), F.normalize(a, 1, 0), F.normalize(a, 3, -1, 0.1))',
    },
    {
      name: 'one_hot',
      inputs: { y: labels },
      js: ({ y }) => [F.oneHot(y), F.oneHot(y, 7)],
      py: '(F.one_hot(y), F.one_hot(y, 7))',
      grad: false,
    },
  ];
  checkParity(t, cases);
});

test('interpolate and pad reject bad options with clear errors', () => {
  const x = torch.zeros([1, 1, 4, 4]);
  assert.throws(() => F.interpolate(x, {}), /exactly one of size and scaleFactor/);
  assert.throws(() => F.interpolate(x, { size: 2, mode: 'nearest', alignCorners: true }), /alignCorners/);
  assert.throws(() => F.interpolate(x, { size: 2, mode: 'area', antialias: true }), /antialias/);
  assert.throws(() => F.interpolate(x, { scaleFactor: 0.1 }), /output size/);
  assert.throws(() => F.pad(x, [1, 2, 3]), /even length/);
  assert.throws(() => F.pad(x, [5, 5], 'reflect'), /reflection_pad1d|Padding size/i);
  assert.throws(() => F.dropout(x, 1.5), /p must be in \[0, 1\]/);
});
