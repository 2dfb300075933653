// IR-ResNet against a PyTorch IR-ResNet written here with insightface's structure and names: same weights
// through safetensors, forward and backward within 1e-4; parameter counts of ir18/34/50/100; state-dict
// round trips and the errors of bad state dicts.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { IResNet, type IResNetName, iresnetConfig, makeStage } from '../src/models/iresnet.js';
import { loadSafetensors, saveSafetensors } from '../src/nn/safetensors.js';
import * as torch from '../src/torch/index.js';
import { closeness, pinOracleThreads, pythonUnavailable, runPython } from './helpers/oracle.js';

type Tensor = torch.Tensor;

/** PyTorch IR-ResNet with insightface's module names (a test reference, not any project's code). */
const PY_IRESNET = `
class IBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(cin); self.conv1 = nn.Conv2d(cin, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout); self.prelu = nn.PReLU(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, stride, 1, bias=False); self.bn3 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
    def forward(self, x):
        y = self.bn3(self.conv2(self.prelu(self.bn2(self.conv1(self.bn1(x))))))
        return y + (x if self.downsample is None else self.downsample(x))

class IRNet(nn.Module):
    def __init__(self, layers, widths, size, emb=512):
        super().__init__()
        self.conv1 = nn.Conv2d(3, widths[0], 3, 1, 1, bias=False); self.bn1 = nn.BatchNorm2d(widths[0]); self.prelu = nn.PReLU(widths[0])
        self.n = len(widths); cin = widths[0]
        for i, (w, n) in enumerate(zip(widths, layers)):
            setattr(self, 'layer%d' % (i + 1), nn.Sequential(*[IBlock(cin if j == 0 else w, w, 2 if j == 0 else 1) for j in range(n)]))
            cin = w
        side = size
        for _ in widths: side = (side + 1) // 2
        self.bn2 = nn.BatchNorm2d(widths[-1]); self.dropout = nn.Dropout(0.0)
        self.fc = nn.Linear(widths[-1] * side * side, emb); self.features = nn.BatchNorm1d(emb)
        self.features.weight.requires_grad = False
    def forward(self, x):
        x = self.prelu(self.bn1(self.conv1(x)))
        for i in range(self.n): x = getattr(self, 'layer%d' % (i + 1))(x)
        return self.features(self.fc(self.dropout(torch.flatten(self.bn2(x), 1))))
`;

const SMALL = iresnetConfig('ir18', { inputSize: 32, widths: [16, 32, 64, 128], embeddingSize: 64 });

function check(what: string, actual: Tensor | null, expected: Tensor | undefined, rtol = 1e-4, atol = 1e-4): void {
  assert.ok(actual, `${what}: ours is missing`);
  assert.ok(expected, `${what}: PyTorch's is missing`);
  assert.deepEqual(actual.shape, expected.shape, `${what}: shape`);
  const r = closeness(actual, expected, rtol, atol);
  assert.ok(r.ok, `${what}: max |diff| ${r.maxAbs} (worst ratio ${r.worst.toFixed(2)})`);
}

/** atol relative to the tensor's own scale, for gradients whose magnitudes vary by layer. */
function scaled(t: Tensor | undefined): number {
  return t ? Math.max(1e-6, 1e-4 * torch.tidy(() => t.abs().max().item())) : 1e-4;
}

test('IR-18 forward and backward equal PyTorch with the same weights (train and eval)', (t) => {
  if (pythonUnavailable) return t.skip(pythonUnavailable);
  // One thread on both sides: the same summation order, so gradients with heavy cancellation agree too.
  pinOracleThreads(t);
  torch.manualSeed(11);
  const model = new IResNet(SMALL);
  const initial = new Map([...model.stateDict()].map(([k, v]) => [k, v.clone()]));
  const x = torch.randn([4, 3, 32, 32]).requiresGrad_(true);
  const gradOut = torch.randn([4, 64]);
  model.train();
  const yTrain = model.forward(x);
  yTrain.backward(gradOut);
  model.eval();
  const yEval = torch.noGrad(() => model.forward(x));
  const inputs: Record<string, Tensor> = { x: x.detach(), g: gradOut };
  for (const [k, v] of initial) inputs[`w.${k}`] = v;
  const got = runPython(
    `${PY_IRESNET}
m = IRNet([2, 2, 2, 2], [16, 32, 64, 128], 32, 64)
m.load_state_dict({k[2:]: v for k, v in inp.items() if k.startswith('w.')})
x = inp['x'].clone().requires_grad_(True)
m.train(); y = m(x); y.backward(inp['g'])
out['y_train'] = y.detach(); out['dx'] = x.grad
for k, p in m.named_parameters():
    if p.grad is not None: out['d.' + k] = p.grad
for k, b in m.named_buffers(): out['b.' + k] = b
m.eval()
with torch.no_grad(): out['y_eval'] = m(inp['x'])
`,
    inputs,
  );
  check('train forward', yTrain, got.get('y_train'));
  check('eval forward', yEval, got.get('y_eval'));
  check('d/dx', x.grad, got.get('dx'), 1e-4, scaled(got.get('dx')));
  let compared = 0;
  for (const [k, p] of model.namedParameters()) {
    if (!p.requiresGrad) {
      assert.equal(got.has(`d.${k}`), false, `${k} is frozen on both sides`);
      continue;
    }
    check(`d/d${k}`, p.grad, got.get(`d.${k}`), 1e-4, scaled(got.get(`d.${k}`)));
    compared++;
  }
  assert.ok(compared > 60, `compared ${compared} parameter gradients`);
  for (const [k, b] of model.namedBuffers()) check(`buffer ${k}`, b, got.get(`b.${k}`), 1e-5, 1e-6);
});

test('parameter counts and names equal PyTorch for ir18/34/50/100 at 112 px', (t) => {
  if (pythonUnavailable) return t.skip(pythonUnavailable);
  const names: IResNetName[] = ['ir18', 'ir34', 'ir50', 'ir100'];
  const ours = names.map((name) => {
    const model = new IResNet(iresnetConfig(name));
    const state = model.stateDict();
    const count = model.numParameters();
    const keys = [...state.keys()].join('|');
    model.dispose();
    return { count, keys };
  });
  const got = runPython(
    `${PY_IRESNET}
for name, layers in [('ir18', [2, 2, 2, 2]), ('ir34', [3, 4, 6, 3]), ('ir50', [3, 4, 14, 3]), ('ir100', [3, 13, 30, 3])]:
    m = IRNet(layers, [64, 128, 256, 512], 112)
    out[name] = torch.tensor([sum(p.numel() for p in m.parameters())], dtype=torch.int64)
    out[name + '.keys'] = torch.tensor(list('|'.join(m.state_dict().keys()).encode()), dtype=torch.uint8)
`,
  );
  names.forEach((name, i) => {
    assert.equal(ours[i].count, got.get(name)?.item(), `${name} parameter count`);
    assert.equal(ours[i].keys, Buffer.from(got.get(`${name}.keys`)?.toBytes() ?? []).toString(), `${name} state-dict keys`);
  });
  // Known totals (insightface iresnet, 112 px): a regression guard independent of the oracle.
  assert.equal(ours[0].count, 24_025_600);
});

test('state dicts round-trip through safetensors and bad ones fail clearly', () => {
  const dir = mkdtempSync(join(tmpdir(), 'catface-iresnet-'));
  try {
    torch.manualSeed(3);
    const a = new IResNet(SMALL).eval();
    const b = new IResNet(SMALL).eval();
    const x = torch.randn([2, 3, 32, 32]);
    const path = join(dir, 'ir18.safetensors');
    saveSafetensors(path, a.stateDict());
    const loaded = loadSafetensors(path).tensors;
    b.loadStateDict(loaded, { source: path });
    const ya = torch.noGrad(() => a.forward(x));
    const yb = torch.noGrad(() => b.forward(x));
    assert.equal(closeness(yb, ya, 0, 1e-30).maxAbs, 0, 'identical outputs after the round trip');

    const without = new Map(loaded);
    without.delete('layer2.0.downsample.0.weight');
    assert.throws(() => b.loadStateDict(without), /missing keys: layer2\.0\.downsample\.0\.weight/);
    const extra = new Map(loaded).set('head.weight', torch.zeros([2]));
    assert.throws(() => b.loadStateDict(extra), /unexpected keys: head\.weight/);
    assert.deepEqual(b.loadStateDict(extra, { strict: false }).unexpected, ['head.weight']);
    const misshaped = new Map(loaded).set('fc.weight', torch.zeros([3, 3]));
    assert.throws(() => b.loadStateDict(misshaped), /shape mismatch: fc\.weight: expected \[64,512\], got \[3,3\]/);
    const nan = new Map(loaded).set('layer1.0.bn1.running_var', torch.full([16], Number.NaN));
    assert.throws(
      () => b.loadStateDict(nan, { source: 'w.safetensors' }),
      /loadStateDict\(w\.safetensors\).*NaN or Inf values in: layer1\.0\.bn1\.running_var/,
    );
    // Nothing was written by the failed loads.
    const yAfter = torch.noGrad(() => b.forward(x));
    assert.equal(closeness(yAfter, ya, 0, 1e-30).maxAbs, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('stages are reusable and the config is validated', () => {
  const model = new IResNet(SMALL);
  const out = torch.noGrad(() => model.eval().forwardWithStages(torch.randn([2, 3, 32, 32])));
  assert.deepEqual(
    out.stages.map((s) => s.shape),
    [
      [2, 16, 16, 16],
      [2, 32, 8, 8],
      [2, 64, 4, 4],
      [2, 128, 2, 2],
    ],
  );
  assert.deepEqual(out.embedding.shape, [2, 64]);
  const stage = makeStage(64, 128, 3);
  assert.deepEqual(
    [...stage.stateDict().keys()].filter((k) => k.includes('downsample')),
    [
      '0.downsample.0.weight',
      '0.downsample.1.weight',
      '0.downsample.1.bias',
      '0.downsample.1.running_mean',
      '0.downsample.1.running_var',
      '0.downsample.1.num_batches_tracked',
    ],
  );
  assert.throws(() => new IResNet({ ...SMALL, widths: [16, 32] }), /config\.layers \(4 stages\) and config\.widths \(2\)/);
  assert.throws(() => new IResNet({ ...SMALL, dropout: 1 }), /config\.dropout must be in \[0, 1\)/);
  assert.throws(() => iresnetConfig('ir7' as IResNetName), /unknown depth 'ir7'/);
  assert.throws(() => model.forward(torch.randn([2, 3, 64, 64])), /expected images \[B, 3, 32, 32\], got \[2,3,64,64\]/);
});
