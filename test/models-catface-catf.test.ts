// CATF and the baseline fusions against PyTorch: the anchor's CATF (shared/anchors/pytorch_catface_bench.py)
// loads our state dict strictly and gives the same embeddings, norms, input and parameter gradients and updated
// BatchNorm statistics (1e-4); the ablation variants and baselines against their PyTorch transcriptions here.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CATF } from '../src/models/catf.js';
import { createFusion } from '../src/models/fusion.js';
import type { FusionKind } from '../src/models/fusion-base.js';
import type { Module } from '../src/nn/module.js';
import * as torch from '../src/torch/index.js';
import { anchorPrelude, anchorUnavailable, perturb, pythonHelpers, stateInputs } from './helpers/catface-anchor.js';
import { closeness, pinOracleThreads, runPython } from './helpers/oracle.js';

type Tensor = torch.Tensor;

function snapshot(module: Module, prefix: string): Record<string, Tensor> {
  return Object.fromEntries(Object.entries(stateInputs(module, prefix)).map(([k, v]) => [k, v.clone()]));
}

function expectClose(failures: string[], label: string, actual: Tensor | null | undefined, expected: Tensor | undefined, tol = 1e-4): void {
  if (!actual || !expected) return void failures.push(`${label}: ${actual ? 'PyTorch gave none' : 'we gave none'}`);
  if (actual.shape.join() !== expected.shape.join()) return void failures.push(`${label}: shape [${actual.shape}] vs [${expected.shape}]`);
  const r = closeness(actual, expected, tol, tol);
  if (!r.ok) failures.push(`${label}: max |diff| ${r.maxAbs.toExponential(2)} (${r.worst.toFixed(1)}× tolerance)`);
}

test('CATF equals the PyTorch anchor: forward, gradients and BN statistics (training mode)', (t) => {
  if (anchorUnavailable) return t.skip(anchorUnavailable);
  pinOracleThreads(t);
  torch.manualSeed(11);
  const catf = new CATF({ channels: 32, height: 4, width: 4 });
  perturb(catf);
  const inputs: Record<string, Tensor> = { ...snapshot(catf, 'sd') };
  const fr = torch.randn([6, 32, 4, 4]).requiresGrad_();
  const sb = torch.randn([6, 32, 4, 4]).requiresGrad_();
  const w1 = torch.randn([6, 512]);
  const w2 = torch.randn([6, 1]);
  Object.assign(inputs, { fr, sb, w1, w2 });
  const { embedding, norm } = catf.forward(fr, sb);
  embedding.mul(w1).sum().add(norm.mul(w2).sum()).backward();
  const py = runPython(
    `${anchorPrelude(['--size', '64', '--widths', '8,16,24,32'])}
${pythonHelpers}
catf = CATF(32, 16); catf.load_state_dict(prefixed(inp, 'sd')); catf.train()
fr = inp['fr'].clone().requires_grad_(); sb = inp['sb'].clone().requires_grad_()
e, n = catf(fr, sb)
((e * inp['w1']).sum() + (n * inp['w2']).sum()).backward()
out.update(emb=e, norm=n, gfr=fr.grad, gsb=sb.grad)
grads('g', catf); put('state', catf.state_dict())`,
    inputs,
  );
  const failures: string[] = [];
  expectClose(failures, 'embedding', embedding, py.get('emb'));
  expectClose(failures, 'norm', norm, py.get('norm'));
  expectClose(failures, 'grad FR map', fr.grad, py.get('gfr'));
  expectClose(failures, 'grad SB map', sb.grad, py.get('gsb'));
  for (const [name, p] of catf.namedParameters()) {
    if (p.requiresGrad) expectClose(failures, `grad ${name}`, p.grad, py.get(`g.${name}`));
    else assert.equal(py.get(`g.${name}`), undefined, `${name} is frozen in both`);
  }
  for (const [name, b] of catf.namedBuffers()) expectClose(failures, `buffer ${name}`, b, py.get(`state.${name}`));
  assert.deepEqual(failures, [], failures.join('\n'));
});

// PyTorch transcriptions of the ablation variants and baselines, built on the anchor's classes.
const variantsPython = `
import math
class Variant(CATF):
    def __init__(s, c, hw, mffnl, caf):
        super().__init__(c, hw)
        s.mffnl, s.caf = mffnl, caf
        if not mffnl: del s.ffn_fr; del s.ffn_sb
        if not caf: del s.caf_qkv
    def forward(s, ffr, fsb):
        b, c, h, w = ffr.shape
        tfr, tsb = ffr.flatten(2).transpose(1, 2), fsb.flatten(2).transpose(1, 2)
        qf, kf, vf = s.qkv_fr(s.norm_fr(tfr)).chunk(3, -1); qs, ks, vs = s.qkv_sb(s.norm_sb(tsb)).chunk(3, -1)
        att = lambda q, k, v: (torch.softmax(s._heads(q) @ s._heads(k).transpose(-1, -2) / math.sqrt(c // s.h), -1) @ s._heads(v)).transpose(1, 2).reshape(b, h * w, c)
        zfr = (tfr + s.out_fr(att(qs, kf, vf))).transpose(1, 2).reshape(b, c, h, w)
        zsb = (tsb + s.out_sb(att(qf, ks, vs))).transpose(1, 2).reshape(b, c, h, w)
        if s.mffnl: zfr, zsb = zfr + s.ffn_fr(zfr), zsb + s.ffn_sb(zsb)
        x = torch.cat([zfr, zsb], 1)
        if not s.caf: return s.head(x)
        q, k, v = s.caf_qkv(x).chunk(3, 1)
        g = lambda t: t.reshape(b, s.G, 2 * c // s.G, h * w)
        return s.head((torch.softmax(g(q) @ g(k).transpose(-1, -2) / math.sqrt(h * w), -1) @ g(v)).reshape(b, 2 * c, h, w))
class Simple(nn.Module):
    def __init__(s, kind, c, hw):
        super().__init__(); s.kind = kind
        s.head = EmbedHead(c if kind in ('none', 'add') else 2 * c, hw)
    def forward(s, fr, sb):
        return s.head(fr if s.kind == 'none' else fr + sb if s.kind == 'add' else torch.cat([fr, sb], 1))
class SE(nn.Module):
    def __init__(s, c, hw, r=16):
        super().__init__(); s.fc1 = nn.Linear(2 * c, max(1, 2 * c // r)); s.fc2 = nn.Linear(max(1, 2 * c // r), 2 * c); s.head = EmbedHead(2 * c, hw)
    def forward(s, fr, sb):
        x = torch.cat([fr, sb], 1); g = torch.sigmoid(s.fc2(torch.relu(s.fc1(x.mean((2, 3))))))
        return s.head(x * g[:, :, None, None])
class Cross(nn.Module):
    def __init__(s, c, hw, heads=8):
        super().__init__(); s.h = heads
        s.norm_fr, s.norm_sb = nn.LayerNorm(c), nn.LayerNorm(c)
        s.q_fr = nn.Linear(c, c, bias=False); s.kv_sb = nn.Linear(c, 2 * c, bias=False); s.out = nn.Linear(c, c)
        s.head = EmbedHead(c, hw)
    def forward(s, fr, sb):
        b, c, h, w = fr.shape; t = fr.flatten(2).transpose(1, 2)
        q = s.q_fr(s.norm_fr(t)); k, v = s.kv_sb(s.norm_sb(sb.flatten(2).transpose(1, 2))).chunk(2, -1)
        sp = lambda x: x.reshape(b, h * w, s.h, c // s.h).transpose(1, 2)
        a = (torch.softmax(sp(q) @ sp(k).transpose(-1, -2) / math.sqrt(c // s.h), -1) @ sp(v)).transpose(1, 2).reshape(b, h * w, c)
        return s.head((t + s.out(a)).transpose(1, 2).reshape(b, c, h, w))
def build(kind, c, hw):
    if kind == 'catf': return CATF(c, hw)
    if kind == 'catf-no-mffnl': return Variant(c, hw, False, True)
    if kind == 'catf-no-caf': return Variant(c, hw, True, False)
    if kind == 'se': return SE(c, hw)
    if kind == 'cross': return Cross(c, hw)
    return Simple(kind, c, hw)
`;

const kinds: FusionKind[] = ['none', 'concat', 'add', 'se', 'cross', 'catf', 'catf-no-mffnl', 'catf-no-caf'];

test('every fusion kind matches its PyTorch transcription (strict state-dict load, parameter count, eval forward, gradients); CATF(256) counts as the anchor', (t) => {
  if (anchorUnavailable) return t.skip(anchorUnavailable);
  pinOracleThreads(t);
  torch.manualSeed(12);
  const inputs: Record<string, Tensor> = {};
  const ours = new Map<FusionKind, { embedding: Tensor; norm: Tensor; gfr: Tensor; params: number }>();
  const fr = torch.randn([3, 16, 3, 3]);
  const sb = torch.randn([3, 16, 3, 3]);
  Object.assign(inputs, { fr, sb });
  for (const kind of kinds) {
    const fusion = createFusion({ kind, channels: 16, height: 3, width: 3 });
    assert.equal(fusion.kind, kind);
    perturb(fusion);
    fusion.eval();
    Object.assign(inputs, snapshot(fusion, kind));
    const x = fr.clone().requiresGrad_();
    const { embedding, norm } = fusion.forward(x, sb);
    assert.deepEqual(embedding.shape, [3, 512]);
    assert.deepEqual(norm.shape, [3, 1]);
    embedding.sum().add(norm.sum()).backward();
    ours.set(kind, { embedding, norm, gfr: x.grad as Tensor, params: fusion.numParameters() });
  }
  const py = runPython(
    `${anchorPrelude(['--size', '48', '--widths', '8,16,16,16'])}
${pythonHelpers}
${variantsPython}
for kind in ${JSON.stringify(kinds)}:
    m = build(kind, 16, 9); m.load_state_dict(prefixed(inp, kind)); m.eval()
    fr = inp['fr'].clone().requires_grad_()
    e, n = m(fr, inp['sb']); (e.sum() + n.sum()).backward()
    out[kind + '.emb'] = e; out[kind + '.norm'] = n; out[kind + '.gfr'] = fr.grad
    out[kind + '.params'] = torch.tensor(sum(p.numel() for p in m.parameters()))
big = CATF(256, 16)  # the anchor benchmark's CATF at 64 px
out['big.params'] = torch.tensor(sum(p.numel() for p in big.parameters()))
out['big.trainable'] = torch.tensor(sum(p.numel() for p in big.parameters() if p.requires_grad))`,
    inputs,
  );
  const failures: string[] = [];
  for (const [kind, o] of ours) {
    expectClose(failures, `${kind} embedding`, o.embedding, py.get(`${kind}.emb`));
    expectClose(failures, `${kind} norm`, o.norm, py.get(`${kind}.norm`));
    expectClose(failures, `${kind} grad FR`, o.gfr, py.get(`${kind}.gfr`));
    const count = py.get(`${kind}.params`)?.item();
    if (count !== o.params) failures.push(`${kind}: ${o.params} parameters vs PyTorch ${count}`);
  }
  const big = new CATF({ channels: 256, height: 4, width: 4 });
  if (big.numParameters() !== py.get('big.params')?.item())
    failures.push(`CATF(256): ${big.numParameters()} parameters vs anchor ${py.get('big.params')?.item()}`);
  if (big.numParameters(true) !== py.get('big.trainable')?.item())
    failures.push('CATF(256): trainable parameter count differs from the anchor');
  big.dispose();
  assert.deepEqual(failures, [], failures.join('\n'));
});

test('fusion configs are checked with errors naming the field', () => {
  assert.throws(() => createFusion({ kind: 'catf', channels: 30, height: 2, width: 2 }), /config\.heads \(8\) must divide the 30 channels/);
  assert.throws(
    () => createFusion({ kind: 'catf', channels: 24, height: 2, width: 2, heads: 4, groups: 5 }),
    /config\.groups \(5\) must divide/,
  );
  assert.throws(() => createFusion({ kind: 'bogus' as FusionKind, channels: 8, height: 2, width: 2 }), /config\.kind must be one of/);
  assert.throws(() => createFusion({ channels: 8, height: 0, width: 2 }), /config\.height must be a positive integer/);
  const fusion = createFusion({ kind: 'add', channels: 8, height: 2, width: 2 });
  assert.throws(() => fusion.forward(torch.zeros([2, 8, 2, 2]), torch.zeros([2, 8, 3, 3])), /SB map must be \[B, 8, 2, 2\]/);
});
