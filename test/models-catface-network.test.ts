// The stage-1 multi-branch network against the anchor's MultiBranch (shared/anchors/pytorch_catface_bench.py) at a
// small config: our state dict loads into it under the anchor's names, and every output, input and parameter
// gradient and updated BN statistic agrees; shapes and parameter counts; the self-attention block; IResNet
// weights map onto the trunk and both branches.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { IResNet, iresnetConfig } from '../src/models/iresnet.js';
import { iresnetToMultiBranch, MultiBranchNet } from '../src/models/multi-branch.js';
import { SelfAttention } from '../src/models/self-attention.js';
import * as torch from '../src/torch/index.js';
import { anchorPrelude, anchorUnavailable, perturb, pythonHelpers, stateInputs } from './helpers/catface-anchor.js';
import { closeness, pinOracleThreads, runPython } from './helpers/oracle.js';

type Tensor = torch.Tensor;

function expectClose(failures: string[], label: string, actual: Tensor | null | undefined, expected: Tensor | undefined, tol = 1e-4): void {
  if (!actual || !expected) return void failures.push(`${label}: ${actual ? 'PyTorch gave none' : 'we gave none'}`);
  if (actual.shape.join() !== expected.shape.join()) return void failures.push(`${label}: shape [${actual.shape}] vs [${expected.shape}]`);
  const r = closeness(actual, expected, tol, tol);
  if (!r.ok) failures.push(`${label}: max |diff| ${r.maxAbs.toExponential(2)} (${r.worst.toFixed(1)}× tolerance)`);
}

// Our names → the anchor's (stem.i, trunk.i, fr4/sb4, res.i / short.i, fr_sa/sb_sa).
const toAnchorPython = `
import re
_block = {'bn1': 'res.0', 'conv1': 'res.1', 'bn2': 'res.2', 'prelu': 'res.3', 'conv2': 'res.4', 'bn3': 'res.5', 'downsample': 'short'}
def to_anchor(k):
    head, _, rest = k.partition('.')
    if head in ('conv1', 'bn1', 'prelu'): return 'stem.%d.%s' % (('conv1', 'bn1', 'prelu').index(head), rest)
    if head in ('fr_attention', 'sb_attention'): return head[:2] + '_sa.' + rest
    m = re.match(r'layer([123])$', head)
    stage = 'trunk.%d' % (int(m[1]) - 1) if m else {'fr_layer4': 'fr4', 'sb_layer4': 'sb4'}.get(head)
    if stage is None: return k
    block, part, tail = rest.split('.', 2)
    return '%s.%s.%s.%s' % (stage, block, _block[part], tail)
`;

test('MultiBranchNet equals the anchor MultiBranch at 32 px, widths 16/32/64/128: outputs, gradients, BN statistics', (t) => {
  if (anchorUnavailable) return t.skip(anchorUnavailable);
  pinOracleThreads(t);
  torch.manualSeed(51);
  const net = new MultiBranchNet({ inputSize: 32, widths: [16, 32, 64, 128] });
  perturb(net);
  const inputs: Record<string, Tensor> = Object.fromEntries(Object.entries(stateInputs(net, 'sd')).map(([k, v]) => [k, v.clone()]));
  const x = torch.randn([6, 3, 32, 32]).requiresGrad_();
  const out = net.forward(x);
  const outputs: [string, Tensor][] = [
    ['emb', out.embedding],
    ['norm', out.norm],
    ['attr', out.attributes],
    ['ffr', out.fr.map],
    ['fsb', out.sb.map],
    ['Afr', out.fr.A],
    ['Asb', out.sb.A],
    ['Vfr', out.fr.V],
    ['Vsb', out.sb.V],
  ];
  assert.deepEqual(out.embedding.shape, [6, 512]);
  assert.deepEqual(out.norm.shape, [6, 1]);
  assert.deepEqual(out.attributes.shape, [6, 5]);
  assert.deepEqual(out.fr.map.shape, [6, 128, 2, 2]);
  assert.deepEqual(out.sb.A.shape, [6, 4, 4]);
  assert.deepEqual(out.sb.V.shape, [6, 4, 128]);
  let loss = torch.zeros([]);
  for (const [name, value] of outputs) {
    const w = torch.randn(value.shape);
    inputs[`w.${name}`] = w;
    loss = loss.add(value.mul(w).sum());
  }
  loss.backward();
  inputs.x = x.detach();
  const py = runPython(
    `${anchorPrelude(['--size', '32', '--widths', '16,32,64,128'])}
${pythonHelpers}
${toAnchorPython}
net = MultiBranch(); net.train()
net.load_state_dict({to_anchor(k): v for k, v in prefixed(inp, 'sd').items()})
x = inp['x'].clone().requires_grad_()
o = net(x)
outs = dict(emb=o['emb'], norm=o['norm'], attr=o['attr'], ffr=o['ffr'], fsb=o['fsb'], Afr=o['A'][0], Asb=o['A'][1], Vfr=o['V'][0], Vsb=o['V'][1])
sum((v * inp['w.' + k]).sum() for k, v in outs.items()).backward()
put('y', outs); out['gx'] = x.grad
params, state = dict(net.named_parameters()), net.state_dict()
for k in prefixed(inp, 'sd'):  # results under our names
    if to_anchor(k) in params and params[to_anchor(k)].grad is not None: out['g.' + k] = params[to_anchor(k)].grad
    out['state.' + k] = state[to_anchor(k)]
count = lambda m: torch.tensor(sum(p.numel() for p in m.parameters()))
out['params.small'] = count(net)
a.size, W[:] = 64, [32, 64, 128, 256]
out['params.bench'] = count(MultiBranch())`,
    inputs,
  );
  const failures: string[] = [];
  for (const [name, value] of outputs) expectClose(failures, `output ${name}`, value, py.get(`y.${name}`));
  expectClose(failures, 'grad images', x.grad, py.get('gx'));
  for (const [name, p] of net.namedParameters()) {
    if (p.requiresGrad) expectClose(failures, `grad ${name}`, p.grad, py.get(`g.${name}`), 2e-4);
  }
  for (const [name, b] of net.namedBuffers()) expectClose(failures, `buffer ${name}`, b, py.get(`state.${name}`));
  if (net.numParameters() !== py.get('params.small')?.item())
    failures.push(`parameters ${net.numParameters()} vs ${py.get('params.small')?.item()}`);
  const bench = new MultiBranchNet({ inputSize: 64, widths: [32, 64, 128, 256] });
  if (bench.numParameters() !== py.get('params.bench')?.item())
    failures.push(`64 px bench model: ${bench.numParameters()} parameters vs ${py.get('params.bench')?.item()}`);
  bench.dispose();
  assert.deepEqual(failures, [], failures.join('\n'));
});

test('a fresh self-attention block is the identity (γ = 0) and exposes A (rows sum to 1) and V', () => {
  torch.manualSeed(52);
  const block = new SelfAttention(16);
  assert.equal(block.keyDim, 2);
  assert.deepEqual([...block.stateDict().keys()].sort(), ['gamma', 'k.weight', 'q.weight', 'v.weight']);
  assert.equal(block.numParameters(), 16 * 2 * 2 + 16 * 16 + 1);
  const f = torch.randn([2, 16, 3, 3]);
  const { map, A, V } = block.forward(f);
  assert.ok(map.equal(f));
  assert.deepEqual(A.shape, [2, 9, 9]);
  assert.deepEqual(V.shape, [2, 9, 16]);
  assert.ok(A.sum(-1).sub(1).abs().max().item() < 1e-6);
  assert.throws(() => block.forward(torch.zeros([2, 8, 3, 3])), /expected \[B, 16, H, W\]/);
});

test('IResNet weights load into the trunk and both branches; with γ = 0 the FR branch reproduces the IResNet', () => {
  torch.manualSeed(53);
  const config = iresnetConfig('ir18', { inputSize: 32, widths: [8, 16, 16, 32] });
  const backbone = new IResNet(config);
  perturb(backbone);
  const net = new MultiBranchNet({ inputSize: 32, widths: [8, 16, 16, 32] });
  const { missing, unexpected } = net.loadStateDict(iresnetToMultiBranch(backbone.stateDict()), { strict: false });
  assert.deepEqual(unexpected, []);
  assert.deepEqual(missing.sort(), [
    'fr_attention.gamma',
    'fr_attention.k.weight',
    'fr_attention.q.weight',
    'fr_attention.v.weight',
    'sb_attention.gamma',
    'sb_attention.k.weight',
    'sb_attention.q.weight',
    'sb_attention.v.weight',
    'sb_head.bias',
    'sb_head.weight',
  ]);
  backbone.eval();
  net.eval();
  const x = torch.randn([2, 3, 32, 32]);
  const reference = backbone.forwardWithStages(x);
  const ours = net.forward(x);
  assert.ok(closeness(net.trunk(x), reference.stages[2], 1e-5, 1e-6).ok);
  assert.ok(closeness(ours.embedding.mul(ours.norm), reference.embedding, 1e-5, 1e-5).ok);
  assert.ok(ours.fr.map.equal(ours.sb.map), 'both branches got the same stage 4');
});

test('network configs and inputs are checked with errors naming the field', () => {
  assert.throws(() => new MultiBranchNet({ widths: [8, 16, 32] }), /config\.widths must be 4 positive integers/);
  assert.throws(() => new MultiBranchNet({ depth: 'ir7' as 'ir18' }), /config\.depth must be one of ir18, ir34, ir50, ir100/);
  assert.throws(() => new MultiBranchNet({ attributes: 0 }), /config\.attributes must be a positive integer/);
  const net = new MultiBranchNet({ inputSize: 16, widths: [4, 4, 8, 8], layers: [1, 1, 1, 1] });
  assert.equal(net.mapSide, 1);
  assert.throws(() => net.forward(torch.zeros([1, 3, 32, 32])), /expected images \[B, 3, 16, 16\], got \[1,3,32,32\]/);
});
