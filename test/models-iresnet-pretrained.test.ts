// Pretrained IR-ResNet weights: an AdaFace `net.py`-structured model (written here in PyTorch, saved as a
// Lightning-style state dict under `model.`) loads through the name mapping and gives the same embeddings;
// insightface-named states load as they are; the architecture is read off the tensors.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type IBasicBlock, IResNet, iresnetConfig } from '../src/models/iresnet.js';
import { inferIResNetConfig, loadPretrainedIResNet } from '../src/models/pretrained.js';
import * as torch from '../src/torch/index.js';
import { closeness, pinOracleThreads, pythonUnavailable, runPython } from './helpers/oracle.js';

/** AdaFace's IR backbone layout (input_layer / body / output_layer), as a test reference. */
const PY_ADAFACE = `
class BasicBlockIR(nn.Module):
    def __init__(self, cin, depth, stride):
        super().__init__()
        self.shortcut_layer = nn.MaxPool2d(1, stride) if cin == depth else nn.Sequential(nn.Conv2d(cin, depth, 1, stride, bias=False), nn.BatchNorm2d(depth))
        self.res_layer = nn.Sequential(nn.BatchNorm2d(cin), nn.Conv2d(cin, depth, 3, 1, 1, bias=False), nn.BatchNorm2d(depth),
                                       nn.PReLU(depth), nn.Conv2d(depth, depth, 3, stride, 1, bias=False), nn.BatchNorm2d(depth))
    def forward(self, x):
        return self.res_layer(x) + self.shortcut_layer(x)

class Backbone(nn.Module):
    def __init__(self, layers, widths, side, emb):
        super().__init__()
        self.input_layer = nn.Sequential(nn.Conv2d(3, widths[0], 3, 1, 1, bias=False), nn.BatchNorm2d(widths[0]), nn.PReLU(widths[0]))
        blocks, cin = [], widths[0]
        for w, n in zip(widths, layers):
            blocks += [BasicBlockIR(cin, w, 2)] + [BasicBlockIR(w, w, 1) for _ in range(n - 1)]; cin = w
        self.body = nn.Sequential(*blocks)
        self.output_layer = nn.Sequential(nn.BatchNorm2d(widths[-1]), nn.Dropout(0.4), nn.Flatten(),
                                          nn.Linear(widths[-1] * side * side, emb), nn.BatchNorm1d(emb, affine=False))
    def forward(self, x):
        x = self.output_layer(self.body(self.input_layer(x)))
        norm = torch.norm(x, 2, 1, True)
        return torch.div(x, norm), norm
`;

test('AdaFace net.py weights load by name mapping and give the same embeddings', (t) => {
  if (pythonUnavailable) return t.skip(pythonUnavailable);
  pinOracleThreads(t);
  torch.manualSeed(5);
  const x = torch.randn([3, 3, 32, 32]);
  const got = runPython(
    `${PY_ADAFACE}
torch.manual_seed(0)
m = Backbone([2, 1, 3, 2], [16, 32, 48, 64], 2, 24)
for mod in m.modules():
    if isinstance(mod, (nn.BatchNorm2d, nn.BatchNorm1d)):
        mod.running_mean.normal_(0, 0.2); mod.running_var.uniform_(0.5, 1.5); mod.num_batches_tracked.fill_(7)
        if mod.affine: mod.weight.data.uniform_(0.5, 1.5); mod.bias.data.normal_(0, 0.2)
    if isinstance(mod, nn.PReLU): mod.weight.data.uniform_(0, 0.5)
m.eval()
with torch.no_grad():
    e, n = m(inp['x'])
out['embedding'] = e; out['norm'] = n
for k, v in m.state_dict().items(): out['model.' + k] = v
out['head.kernel'] = torch.randn(24, 10)
`,
    { x },
  );
  const state = new Map([...got].filter(([k]) => k.startsWith('model.') || k === 'head.kernel'));
  const { model, format, config, ignored } = loadPretrainedIResNet(state, { source: 'adaface.safetensors' });
  assert.equal(format, 'adaface');
  assert.deepEqual(ignored, ['head.kernel']);
  assert.deepEqual(config.layers, [2, 1, 3, 2]);
  assert.deepEqual(config.widths, [16, 32, 48, 64]);
  assert.equal(config.inputSize, 32);
  assert.equal(config.embeddingSize, 24);
  assert.equal(config.shortcut, 'subsample');
  assert.equal((model.stages[0].at(0) as IBasicBlock).downsample, null);
  const f = torch.noGrad(() => model.eval().forward(x));
  const norm = f.norm(2, 1, true);
  const r1 = closeness(f.div(norm), got.get('embedding') as torch.Tensor, 1e-4, 1e-5);
  const r2 = closeness(norm, got.get('norm') as torch.Tensor, 1e-4, 1e-5);
  assert.ok(r1.ok, `unit embedding: max |diff| ${r1.maxAbs}`);
  assert.ok(r2.ok, `norm: max |diff| ${r2.maxAbs}`);
  assert.equal(model.stateDict().get('layer1.0.bn1.num_batches_tracked')?.item(), 7);
});

test('insightface-named states load under a module./model. prefix, with the architecture read off the tensors', () => {
  torch.manualSeed(2);
  const source = new IResNet(iresnetConfig('ir34', { inputSize: 48, widths: [8, 16, 24, 32], embeddingSize: 16 })).eval();
  const state = new Map([...source.stateDict()].map(([k, v]) => [`module.${k}`, v]));
  // Older checkpoints have no num_batches_tracked: they start at 0, as PyTorch does.
  state.delete('module.layer3.2.bn2.num_batches_tracked');
  const { model, format, config } = loadPretrainedIResNet(state);
  assert.equal(format, 'insightface');
  assert.deepEqual(config.layers, [3, 4, 6, 3]);
  assert.equal(config.inputSize, 48);
  assert.equal(config.shortcut, 'conv');
  const x = torch.randn([2, 3, 48, 48]);
  const a = torch.noGrad(() => source.forward(x));
  const b = torch.noGrad(() => model.eval().forward(x));
  assert.equal(closeness(b, a, 0, 1e-30).maxAbs, 0);
});

test('checkpoints that are not IR-ResNets fail with the reason', () => {
  const bogus = new Map([['encoder.weight', torch.zeros([2, 2])]]);
  assert.throws(() => inferIResNetConfig(bogus, 'x.safetensors'), /x\.safetensors: not an IR-ResNet checkpoint: neither 'conv1\.weight'/);
  const model = new IResNet(iresnetConfig('ir18', { inputSize: 32, widths: [8, 8, 16, 16], embeddingSize: 8 }));
  const state = new Map(model.stateDict());
  state.set('fc.weight', torch.zeros([8, 30]));
  assert.throws(() => loadPretrainedIResNet(state, { source: 'y.safetensors' }), /y\.safetensors: fc\.weight has 30 inputs, not 16·side²/);
});
