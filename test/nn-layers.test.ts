// Every nn layer against torch.nn: parameter names, default initialisation under the same seed, forward
// output, input and parameter gradients, and the running statistics batch norm leaves behind. All cases run
// in one Python process.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as nn from '../src/nn/index.js';
import * as torch from '../src/torch/index.js';
import { closeness, pythonUnavailable, runPython } from './helpers/oracle.js';

type Tensor = torch.Tensor;

interface LayerCase {
  name: string;
  /** Our module, built right after manualSeed(seed). */
  make: () => nn.Module;
  /** The same module in Python (torch, nn in scope). */
  py: string;
  /** Input shapes (standard normal draws). */
  inputs: number[][];
  /** Our forward over the inputs (default: Layer.forward of the first). */
  run?: (m: nn.Module, xs: Tensor[]) => Tensor;
  /** The Python forward over m and the list xs (default: m(xs[0])). */
  pyRun?: string;
  train?: boolean;
  rtol?: number;
  atol?: number;
}

const SEED = 1234;

const cases: LayerCase[] = [
  {
    name: 'conv',
    make: () => new nn.Conv2d(4, 6, 3, { stride: 2, padding: 1 }),
    py: 'nn.Conv2d(4, 6, 3, stride=2, padding=1)',
    inputs: [[2, 4, 9, 9]],
  },
  {
    name: 'conv_groups_dilation',
    make: () => new nn.Conv2d(4, 8, [3, 5], { padding: [2, 4], dilation: 2, groups: 2, bias: false }),
    py: 'nn.Conv2d(4, 8, (3, 5), padding=(2, 4), dilation=2, groups=2, bias=False)',
    inputs: [[2, 4, 7, 8]],
  },
  {
    name: 'conv_depthwise_same',
    make: () => new nn.Conv2d(6, 6, [1, 5], { padding: 'same', groups: 6 }),
    py: "nn.Conv2d(6, 6, (1, 5), padding='same', groups=6)",
    inputs: [[2, 6, 5, 5]],
  },
  { name: 'linear', make: () => new nn.Linear(7, 5), py: 'nn.Linear(7, 5)', inputs: [[3, 4, 7]] },
  { name: 'linear_nobias', make: () => new nn.Linear(7, 5, { bias: false }), py: 'nn.Linear(7, 5, bias=False)', inputs: [[3, 7]] },
  { name: 'bn1d_train', make: () => new nn.BatchNorm1d(5), py: 'nn.BatchNorm1d(5)', inputs: [[8, 5]], train: true },
  {
    name: 'bn1d_seq_cumulative',
    make: () => new nn.BatchNorm1d(5, { momentum: null, eps: 1e-3 }),
    py: 'nn.BatchNorm1d(5, momentum=None, eps=1e-3)',
    inputs: [[4, 5, 6]],
    train: true,
  },
  {
    name: 'bn2d_train',
    make: () => new nn.BatchNorm2d(3, { momentum: 0.3 }),
    py: 'nn.BatchNorm2d(3, momentum=0.3)',
    inputs: [[4, 3, 5, 5]],
    train: true,
  },
  { name: 'bn2d_eval', make: () => new nn.BatchNorm2d(3), py: 'nn.BatchNorm2d(3)', inputs: [[4, 3, 5, 5]], train: false },
  {
    name: 'bn2d_noaffine_nostats',
    make: () => new nn.BatchNorm2d(3, { affine: false, trackRunningStats: false }),
    py: 'nn.BatchNorm2d(3, affine=False, track_running_stats=False)',
    inputs: [[4, 3, 5, 5]],
    train: false,
  },
  { name: 'layernorm', make: () => new nn.LayerNorm([4, 6]), py: 'nn.LayerNorm([4, 6])', inputs: [[3, 4, 6]] },
  {
    name: 'layernorm_noaffine',
    make: () => new nn.LayerNorm(6, { eps: 1e-6, elementwiseAffine: false }),
    py: 'nn.LayerNorm(6, eps=1e-6, elementwise_affine=False)',
    inputs: [[3, 6]],
  },
  { name: 'prelu_channels', make: () => new nn.PReLU(3), py: 'nn.PReLU(3)', inputs: [[2, 3, 4, 4]] },
  { name: 'prelu_shared', make: () => new nn.PReLU(), py: 'nn.PReLU()', inputs: [[2, 3, 4]] },
  { name: 'gelu', make: () => new nn.GELU(), py: 'nn.GELU()', inputs: [[3, 8]] },
  { name: 'gelu_tanh', make: () => new nn.GELU('tanh'), py: "nn.GELU(approximate='tanh')", inputs: [[3, 8]] },
  { name: 'relu', make: () => new nn.ReLU(), py: 'nn.ReLU()', inputs: [[3, 8]] },
  { name: 'dropout_eval', make: () => new nn.Dropout(0.4), py: 'nn.Dropout(0.4)', inputs: [[3, 8]], train: false },
  { name: 'dropout_train', make: () => new nn.Dropout(0.4), py: 'nn.Dropout(0.4)', inputs: [[30, 8]], train: true },
  { name: 'identity', make: () => new nn.Identity(), py: 'nn.Identity()', inputs: [[3, 8]] },
  { name: 'flatten', make: () => new nn.Flatten(), py: 'nn.Flatten()', inputs: [[2, 3, 4, 5]] },
  { name: 'flatten_range', make: () => new nn.Flatten(0, 1), py: 'nn.Flatten(0, 1)', inputs: [[2, 3, 4]] },
  {
    name: 'sequential',
    make: () =>
      new nn.Sequential(
        new nn.Conv2d(3, 4, 3, { padding: 1, bias: false }),
        new nn.BatchNorm2d(4),
        new nn.PReLU(4),
        new nn.Flatten(),
        new nn.Linear(64, 5),
      ),
    py: 'nn.Sequential(nn.Conv2d(3, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.PReLU(4), nn.Flatten(), nn.Linear(64, 5))',
    inputs: [[2, 3, 4, 4]],
    train: true,
  },
  {
    name: 'mha_self',
    make: () => new nn.MultiheadAttention(8, 2),
    py: 'nn.MultiheadAttention(8, 2, batch_first=True)',
    inputs: [[2, 5, 8]],
    run: (m, [x]) => torch.cat((m as nn.MultiheadAttention).forward(x, x, x) as Tensor[], -1),
    pyRun: 'torch.cat(m(xs[0], xs[0], xs[0]), -1)',
  },
  {
    name: 'mha_cross_masks',
    make: () => new nn.MultiheadAttention(8, 4, { bias: false }),
    py: 'nn.MultiheadAttention(8, 4, bias=False, batch_first=True)',
    inputs: [
      [2, 3, 8],
      [2, 5, 8],
      [2, 5, 8],
    ],
    run: (m, [q, k, v]) => {
      const padding = torch
        .tensor([
          [false, false, false, false, true],
          [false, false, true, false, false],
        ])
        .bool();
      const causal = torch.ones([3, 5]).triu(3).bool();
      const [out, weights] = (m as nn.MultiheadAttention).forward(q, k, v, {
        keyPaddingMask: padding,
        attnMask: causal,
        averageAttnWeights: false,
      });
      return torch.cat([out.flatten(), (weights as Tensor).flatten()]);
    },
    pyRun: `torch.cat([t.flatten() for t in m(xs[0], xs[1], xs[2],
        key_padding_mask=torch.tensor([[0, 0, 0, 0, 1], [0, 0, 1, 0, 0]]).bool(),
        attn_mask=torch.ones(3, 5).triu(3).bool(), average_attn_weights=False)])`,
  },
];

interface Prepared {
  module: nn.Module;
  inputs: Tensor[];
  output: Tensor;
  state: Map<string, Tensor>;
  initial: Map<string, Tensor>;
}

function prepare(c: LayerCase): Prepared {
  torch.manualSeed(SEED);
  const module = c.make();
  module.train(c.train ?? true);
  const initial = new Map([...module.stateDict()].map(([k, v]) => [k, v.clone()]));
  const inputs = c.inputs.map((shape) => torch.randn(shape).requiresGrad_(true));
  torch.manualSeed(SEED + 1); // the same dropout draws on both sides
  const output = c.run ? c.run(module, inputs) : (module as nn.Layer).forward(inputs[0]);
  const gradOut = torch.tidy(() => {
    torch.manualSeed(SEED + 2);
    return torch.randn(output.shape);
  });
  output.backward(gradOut);
  return { module, inputs, output, state: module.stateDict(), initial };
}

const PY = `
import json
for c in json.loads(CASES):
    name = c['name']
    torch.manual_seed(${SEED})
    m = eval(c['py'])
    m.train(c['train'])
    out[name + '/names'] = torch.tensor([ord(ch) for ch in '|'.join(m.state_dict().keys())], dtype=torch.int32)
    for k, v in m.state_dict().items():
        out[name + '/init/' + k] = v.clone()
    m.load_state_dict({k[len(name) + 7:]: v for k, v in inp.items() if k.startswith(name + '/state/')})
    xs = [inp[name + '/x' + str(i)].clone().requires_grad_(True) for i in range(c['n'])]
    torch.manual_seed(${SEED + 1})
    y = eval(c['run'], globals(), {'m': m, 'xs': xs, 'torch': torch})
    y.backward(inp[name + '/g'])
    out[name + '/y'] = y.detach()
    for i, x in enumerate(xs):
        out[name + '/dx' + str(i)] = x.grad
    for k, p in m.named_parameters():
        out[name + '/d/' + k] = p.grad
    for k, b in m.named_buffers():
        out[name + '/after/' + k] = b
`;

test('every layer matches torch.nn: names, seeded init, forward, gradients, buffers', (t) => {
  if (pythonUnavailable) return t.skip(pythonUnavailable);
  const prepared = cases.map((c) => [c, prepare(c)] as const);
  const inputs: Record<string, Tensor> = {};
  for (const [c, p] of prepared) {
    p.inputs.forEach((x, i) => {
      inputs[`${c.name}/x${i}`] = x.detach();
    });
    // The state before the forward pass (batch norm updates its buffers in training).
    for (const [k, v] of p.initial) inputs[`${c.name}/state/${k}`] = v;
    torch.manualSeed(SEED + 2);
    inputs[`${c.name}/g`] = torch.randn(p.output.shape);
  }
  const meta = cases.map((c) => ({ name: c.name, py: c.py, run: c.pyRun ?? 'm(xs[0])', train: c.train ?? true, n: c.inputs.length }));
  const got = runPython(`CASES = ${JSON.stringify(JSON.stringify(meta))}\n${PY}`, inputs);
  const check = (what: string, actual: Tensor | null, expected: Tensor | undefined, rtol: number, atol: number) => {
    assert.ok(actual, `${what}: ours is missing`);
    assert.ok(expected, `${what}: PyTorch's is missing`);
    assert.deepEqual(actual.shape, expected.shape, `${what}: shape`);
    const r = closeness(actual, expected, rtol, atol);
    assert.ok(r.ok, `${what}: max |diff| ${r.maxAbs} (worst ratio ${r.worst})`);
  };
  for (const [c, p] of prepared) {
    const { rtol = 1e-5, atol = 1e-6 } = c;
    const nameCodes = got.get(`${c.name}/names`);
    assert.ok(nameCodes, `${c.name}: PyTorch returned no names`);
    const names = String.fromCharCode(...(nameCodes.dataSync() as Int32Array));
    assert.deepEqual([...p.state.keys()], names ? names.split('|') : [], `${c.name}: state-dict keys`);
    for (const [k, v] of p.initial) check(`${c.name} init ${k}`, v, got.get(`${c.name}/init/${k}`), 0, 1e-30);
    check(`${c.name} forward`, p.output, got.get(`${c.name}/y`), rtol, atol);
    p.inputs.forEach((x, i) => {
      check(`${c.name} d/dx${i}`, x.grad, got.get(`${c.name}/dx${i}`), rtol, atol * 10);
    });
    for (const [k, param] of p.module.namedParameters()) check(`${c.name} d/d${k}`, param.grad, got.get(`${c.name}/d/${k}`), 1e-4, 1e-5);
    for (const [k, b] of p.module.namedBuffers())
      check(`${c.name} buffer ${k} after forward`, b, got.get(`${c.name}/after/${k}`), 1e-6, 1e-7);
  }
});

test('init functions follow PyTorch fans, gains and draws', (t) => {
  if (pythonUnavailable) return t.skip(pythonUnavailable);
  const draw = (fn: (x: Tensor) => void, shape: number[]) => {
    torch.manualSeed(7);
    const x = torch.empty(shape);
    fn(x);
    return x;
  };
  const ours: Record<string, Tensor> = {
    ku: draw((x) => nn.init.kaimingUniform_(x, { mode: 'fan_out', nonlinearity: 'relu' }), [6, 4, 3, 3]),
    kn: draw((x) => nn.init.kaimingNormal_(x, { a: 0.2 }), [6, 4, 3, 3]),
    xu: draw((x) => nn.init.xavierUniform_(x, nn.init.calculateGain('tanh')), [5, 7]),
    xn: draw((x) => nn.init.xavierNormal_(x), [5, 7, 2]),
    u: draw((x) => nn.init.uniform_(x, -2, 3), [100]),
    n: draw((x) => nn.init.normal_(x, 1, 0.5), [100]),
    c: draw((x) => nn.init.constant_(x, 0.7), [3]),
  };
  const got = runPython(
    `
def draw(fn, shape):
    torch.manual_seed(7); x = torch.empty(shape); fn(x); return x
out['ku'] = draw(lambda x: nn.init.kaiming_uniform_(x, mode='fan_out', nonlinearity='relu'), [6, 4, 3, 3])
out['kn'] = draw(lambda x: nn.init.kaiming_normal_(x, a=0.2), [6, 4, 3, 3])
out['xu'] = draw(lambda x: nn.init.xavier_uniform_(x, nn.init.calculate_gain('tanh')), [5, 7])
out['xn'] = draw(lambda x: nn.init.xavier_normal_(x), [5, 7, 2])
out['u'] = draw(lambda x: nn.init.uniform_(x, -2, 3), [100])
out['n'] = draw(lambda x: nn.init.normal_(x, 1, 0.5), [100])
out['c'] = draw(lambda x: nn.init.constant_(x, 0.7), [3])
`,
  );
  for (const [k, v] of Object.entries(ours)) {
    const r = closeness(v, got.get(k) as Tensor, 1e-6, 1e-7);
    assert.ok(r.ok, `${k}: max |diff| ${r.maxAbs}`);
  }
  assert.throws(() => nn.init.kaimingUniform_(torch.empty([4])), /at least 2 dimensions, got shape \[4\]/);
  assert.equal(nn.init.calculateGain('leaky_relu'), Math.sqrt(2 / (1 + 0.01 ** 2)));
});

test('layers reject bad configuration and inputs with clear errors', () => {
  assert.throws(() => new nn.Conv2d(3, 4, 3, { groups: 2 }), /divisible by groups/);
  assert.throws(() => new nn.Dropout(1.5), /p must be in \[0, 1\]/);
  assert.throws(() => new nn.MultiheadAttention(10, 3), /not divisible by numHeads/);
  assert.throws(() => new nn.BatchNorm2d(3).forward(torch.randn([2, 3])), /BatchNorm2d: expected a 4-D input, got shape \[2,3\]/);
  assert.throws(() => new nn.Sequential(new nn.ReLU()).at(3), /index 3 out of range/);
  const mha = new nn.MultiheadAttention(8, 2);
  const x = torch.randn([2, 5, 6]);
  assert.throws(() => mha.forward(x, x, x), /query has 6 features, expected embedDim 8/);
});

test('ModuleList and Sequential name children like PyTorch', () => {
  const list = new nn.ModuleList([new nn.Linear(2, 3), new nn.Linear(3, 1, { bias: false })]);
  const seq = new nn.Sequential(new nn.Linear(2, 2), new nn.ReLU(), new nn.Linear(2, 1));
  assert.deepEqual([...list.stateDict().keys()], ['0.weight', '0.bias', '1.weight']);
  assert.deepEqual([...seq.stateDict().keys()], ['0.weight', '0.bias', '2.weight', '2.bias']);
  assert.equal(list.length, 2);
  assert.equal([...seq].length, 3);
});

test('BatchNorm with sumAcrossBatch (SyncBatchNorm) on one part equals plain BatchNorm: output, gradients, running statistics', () => {
  torch.tidy(() => {
    for (const [make, shape] of [
      [() => new nn.BatchNorm2d(3, { momentum: 0.3 }), [6, 3, 4, 5]],
      [() => new nn.BatchNorm1d(4, { momentum: null }), [9, 4]],
    ] as const) {
      const [plain, sync] = [make(), make()];
      let summed = 0;
      sync.sumAcrossBatch = (t) => {
        summed += 1;
        return t.mul(1);
      };
      for (const bn of [plain, sync]) torch.noGrad(() => bn.weight?.uniform_(0.5, 1.5));
      torch.manualSeed(5);
      const input = torch
        .randn([...shape])
        .mul(3)
        .add(1);
      const runs = [plain, sync].map((bn) => {
        const x = input.clone().requiresGrad_(true);
        torch.noGrad(() => bn.weight?.copy_(plain.weight as torch.Tensor));
        const out = bn.forward(x);
        bn.forward(input); // a second step: the running statistics' update composes
        out.mul(torch.arange(out.numel()).reshape(out.shape).sin()).sum().backward();
        return { out, dx: x.grad as torch.Tensor, dw: bn.weight?.grad as torch.Tensor, db: bn.bias?.grad as torch.Tensor };
      });
      assert.equal(summed, 2);
      const diff = (a: torch.Tensor, b: torch.Tensor) => a.sub(b).abs().max().item() as number;
      for (const key of ['out', 'dx', 'dw', 'db'] as const) assert.ok(diff(runs[0][key], runs[1][key]) < 1e-5, key);
      assert.ok(diff(plain.runningMean as torch.Tensor, sync.runningMean as torch.Tensor) < 1e-6);
      assert.ok(diff(plain.runningVar as torch.Tensor, sync.runningVar as torch.Tensor) < 1e-5);
      assert.equal(sync.numBatchesTracked?.item(), 2);
    }
  });
});
