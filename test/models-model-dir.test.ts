// The CATFace module and its model directory: the state dict is the saved names, a saved model reads back to the
// same outputs, the spec stores each config once (the input size is the network's), and a version-1 directory
// (written the old way: imageSize beside the network config, the fusion with its map geometry, each module's
// weights under its own prefix) still loads, with the same outputs.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { CATFace } from '../src/models/catface.js';
import { createFusion } from '../src/models/fusion.js';
import { readModelDir, saveModelDir } from '../src/models/model-dir.js';
import { MultiBranchNet } from '../src/models/multi-branch.js';
import { saveSafetensors } from '../src/nn/safetensors.js';
import type { Tensor } from '../src/torch/index.js';
import * as torch from '../src/torch/index.js';

const root = mkdtempSync(join(tmpdir(), 'catface-modeldir-'));
after(() => rmSync(root, { recursive: true, force: true }));

const network = { widths: [8, 8, 16, 16], inputSize: 32, attributes: 2, embeddingSize: 16 } as const;
const fusion = { kind: 'catf', heads: 2, groups: 2, expandRatio: 2, head: { embeddingSize: 16 } } as const;
const meta = { attributes: ['Male', 'Bald'], verifyThreshold: 0.3, provenance: { note: 'test' } };

/** A model with non-trivial weights (fresh self-attention and CAF start as identities). */
function tinyModel(seed: number): CATFace {
  torch.manualSeed(seed);
  const model = CATFace.create({ network, fusion });
  torch.noGrad(() => {
    for (const p of model.parameters()) p.add_(torch.randn(p.shape).mul(0.05));
  });
  return model.eval();
}

function outputs(model: CATFace, images: Tensor): Float32Array[] {
  return torch.tidy(() => {
    const fused = model.infer(images, 'fused');
    const fr = model.infer(images, 'fr');
    return [fused.embedding, fr.embedding, fr.quality, fr.attributes].map((t) => t.dataSync() as Float32Array);
  });
}

test("CATFace's state dict is the saved names: network.… and fusion.…", () => {
  const model = tinyModel(1);
  const keys = [...model.stateDict().keys()];
  assert.ok(keys.includes('network.conv1.weight') && keys.includes('fusion.head.fc.weight') && keys.includes('fusion.caf_qkv.weight'));
  assert.ok(keys.every((k) => k.startsWith('network.') || k.startsWith('fusion.')));
  const stage1 = model.withoutFusion();
  assert.ok([...stage1.stateDict().keys()].every((k) => k.startsWith('network.')));
  assert.throws(() => stage1.infer(torch.zeros([1, 3, 32, 32]), 'fused'), /no fusion/);
  model.dispose();
});

test('a saved model directory reads back to the same outputs; its spec stores each config once', () => {
  const model = tinyModel(2);
  const dir = join(root, 'v2');
  saveModelDir(dir, model, { ...meta, defaultEmbedding: 'fused' });
  const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
  assert.equal(json.version, 2);
  assert.equal(json.imageSize, undefined, 'the input size is stored once, as network.inputSize');
  assert.equal(json.network.inputSize, 32);
  assert.deepEqual(json.network.layers, [2, 2, 2, 2]);
  assert.equal(json.fusion.channels, undefined, "the fusion's geometry comes from the network");
  assert.deepEqual(json.fusion, {
    kind: 'catf',
    heads: 2,
    groups: 2,
    expandRatio: 2,
    seReduction: 16,
    head: { embeddingSize: 16, dropout: 0 },
  });
  const images = torch.randn([3, 3, 32, 32]);
  const { spec, model: loaded } = readModelDir(dir);
  assert.equal(loaded.imageSize, 32);
  assert.equal(spec.defaultEmbedding, 'fused');
  assert.deepEqual(outputs(loaded, images), outputs(model, images));
  // a stage-1-only export holds no fusion and defaults to the FR embedding
  saveModelDir(join(root, 'stage1'), model.withoutFusion(), { ...meta, defaultEmbedding: 'fr' });
  const stage1 = readModelDir(join(root, 'stage1'));
  assert.equal(stage1.model.fusion, null);
  assert.equal(stage1.spec.fusion, null);
  assert.throws(
    () => saveModelDir(join(root, 'bad'), model.withoutFusion(), { ...meta, defaultEmbedding: 'fused' }),
    /needs a model with a fusion/,
  );
  torch.dispose([images]);
  for (const m of [model, loaded, stage1.model]) m.dispose();
});

test('a version-1 model directory (written the old way) still loads, with the same outputs', () => {
  const model = tinyModel(3);
  const dir = join(root, 'v1');
  // what the first landing's saveModelDir wrote: each module's state dict under its prefix, and this model.json
  const weights = new Map<string, Tensor>();
  for (const [k, v] of model.network.stateDict()) weights.set(`network.${k}`, v);
  for (const [k, v] of (model.fusion as NonNullable<CATFace['fusion']>).stateDict()) weights.set(`fusion.${k}`, v);
  const spec = {
    format: 'catface-model',
    version: 1,
    imageSize: 32,
    attributes: meta.attributes,
    network: { depth: 'ir18', ...network, dropout: 0, attentionReduction: 8, shortcut: 'conv' },
    fusion: { ...fusion, channels: 16, height: 2, width: 2, head: { embeddingSize: 16, dropout: 0 } },
    defaultEmbedding: 'fused',
    verifyThreshold: 0.25,
    provenance: { steps: 30 },
  };
  writeDir(dir, spec, weights);
  const images = torch.randn([2, 3, 32, 32]);
  const { spec: read, model: loaded } = readModelDir(dir);
  assert.equal(read.version, 2, 'read as the current version');
  assert.equal(read.network.inputSize, 32);
  assert.equal(read.verifyThreshold, 0.25);
  assert.deepEqual(outputs(loaded, images), outputs(model, images));
  // a version-1 spec whose two sizes disagree is refused, naming the field
  writeDir(join(root, 'v1-bad'), { ...spec, imageSize: 64 }, weights);
  assert.throws(() => readModelDir(join(root, 'v1-bad')), /model\.json: imageSize: 64 differs from network\.inputSize 32/);
  writeDir(join(root, 'v1-attrs'), { ...spec, attributes: ['Male'] }, weights);
  assert.throws(() => readModelDir(join(root, 'v1-attrs')), /model\.json: attributes: 1 names for the network's 2 attribute logits/);
  torch.dispose([images]);
  loaded.dispose();
  model.dispose();
});

test('CATFace refuses a fusion sized for other maps', () => {
  const net = new MultiBranchNet(network);
  const wrong = createFusion({ ...fusion, channels: 8, height: 2, width: 2 });
  assert.throws(() => new CATFace(net, wrong), /the fusion takes \[8, 2, 2\] maps, the network gives \[16, 2, 2\]/);
  net.dispose();
  wrong.dispose();
});

function writeDir(dir: string, spec: object, weights: Map<string, Tensor>): void {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir);
  saveSafetensors(join(dir, 'weights.safetensors'), weights, { format: 'catface-model' });
  writeFileSync(join(dir, 'model.json'), `${JSON.stringify(spec, null, 2)}\n`);
}
