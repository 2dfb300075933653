// ONNX export: the graph written from catface's own modules gives catface's forward within 1e-4 (max abs) in
// onnxruntime-node and in onnxruntime-web's wasm backend, for random tiny models on both backbones, every fusion,
// fixed and dynamic batch, and for the shipped default model.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { runCli } from '../src/cli/run-cli.js';
import { CATFace, type CATFaceConfig } from '../src/models/catface.js';
import type { FusionKind } from '../src/models/fusion-base.js';
import { readModelDir } from '../src/models/model-dir.js';
import { catfaceOnnxModel, exportOnnx, type OnnxExportOptions } from '../src/models/onnx-export.js';
import { OnnxGraph } from '../src/nn/onnx-graph.js';
import * as torch from '../src/torch/index.js';
import { writeTinyModel } from './helpers/tiny-model.js';

const TOLERANCE = 1e-4;
const DEFAULT_MODEL = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'models', 'default');

/** Every float parameter and buffer drawn at random (positive variances, a non-zero attention γ), seeded. */
function randomize(model: CATFace, seed: number): void {
  torch.manualSeed(seed);
  torch.noGrad(() => {
    for (const [name, t] of [...model.namedParameters(), ...model.namedBuffers()]) {
      if (!t.isFloatingPoint || name.endsWith('input_offset')) continue;
      const fresh = name.endsWith('running_var')
        ? torch.rand(t.shape).add(0.5)
        : name.endsWith('gamma')
          ? torch.rand(t.shape).add(0.5)
          : torch.randn(t.shape).mul(name.endsWith('weight') && t.ndim > 1 ? 1 / Math.sqrt(t.numel() / t.shape[0]) : 0.2);
      t.copy_(fresh);
      fresh.dispose();
    }
  });
  model.eval();
}

function tinyModel(kind: FusionKind | null, backbone: Partial<CATFaceConfig['network']> = {}): CATFace {
  const model = CATFace.create({
    network: { layers: [1, 1, 1, 1], widths: [8, 8, 16, 16], inputSize: 32, attributes: 3, embeddingSize: 24, ...backbone },
    fusion: kind ? { kind, heads: 2, groups: 4, expandRatio: 2, seReduction: 4, head: { embeddingSize: 20 } } : null,
  });
  randomize(model, 11);
  return model;
}

/** catface's forward on `images`: what each ONNX output must equal. */
function reference(model: CATFace, images: torch.Tensor): Record<string, Float32Array> {
  return torch.tidy(() =>
    torch.noGrad(() => {
      const out = model.network.forward(images);
      const expected: Record<string, Float32Array> = {
        fr_embedding: out.embedding.dataSync() as Float32Array,
        quality: out.norm.reshape([-1]).dataSync() as Float32Array,
        attribute_logits: out.attributes.dataSync() as Float32Array,
        attributes: out.attributes.sigmoid().dataSync() as Float32Array,
      };
      if (model.fusion) expected.fused_embedding = model.fusion.forward(out.fr.map, out.sb.map).embedding.dataSync() as Float32Array;
      return expected;
    }),
  );
}

type Run = (bytes: Uint8Array, images: Float32Array, shape: number[]) => Promise<Record<string, Float32Array>>;

const runNode: Run = async (bytes, images, shape) => {
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
  try {
    const out = await session.run({ images: new ort.Tensor('float32', images, shape) });
    return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.data as Float32Array]));
  } finally {
    await session.release();
  }
};

const runWeb: Run = async (bytes, images, shape) => {
  const web = await import('onnxruntime-web');
  web.env.wasm.numThreads = 1;
  const session = await web.InferenceSession.create(bytes, { executionProviders: ['wasm'] });
  try {
    const out = await session.run({ images: new web.Tensor('float32', images, shape) });
    return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.data as Float32Array]));
  } finally {
    await session.release();
  }
};

function maxAbs(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Exports `model`, runs it on a random batch and checks every output against catface; returns the worst error. */
async function checkParity(model: CATFace, batch: number, options: OnnxExportOptions = {}, run: Run = runNode): Promise<number> {
  const s = model.imageSize;
  torch.manualSeed(batch);
  const images = torch.rand([batch, 3, s, s]).mul(2).sub(1);
  try {
    const expected = reference(model, images);
    const got = await run(exportOnnx(model, options), images.dataSync() as Float32Array, [batch, 3, s, s]);
    assert.deepEqual(Object.keys(got).sort(), Object.keys(expected).sort());
    let worst = 0;
    for (const [name, values] of Object.entries(expected)) {
      const error = maxAbs(got[name], values);
      assert.ok(error <= TOLERANCE, `${name}: max abs error ${error} > ${TOLERANCE}`);
      worst = Math.max(worst, error);
    }
    return worst;
  } finally {
    images.dispose();
  }
}

test('a tiny IR-ResNet CATFace with CATF exports within 1e-4 of its forward, fixed and dynamic batch', async () => {
  const model = tinyModel('catf');
  const fixed = await checkParity(model, 3, { batch: 3 });
  const dynamic1 = await checkParity(model, 1);
  const dynamic5 = await checkParity(model, 5);
  console.log(`tiny catf: max abs error fixed ${fixed.toExponential(2)}, dynamic ${Math.max(dynamic1, dynamic5).toExponential(2)}`);
  const graph = catfaceOnnxModel(model, { batch: 3 });
  assert.deepEqual(graph.inputs, [{ name: 'images', shape: [3, 3, 32, 32] }]);
  assert.deepEqual(
    graph.outputs.map((o) => [o.name, o.shape]),
    [
      ['fr_embedding', [3, 24]],
      ['fused_embedding', [3, 20]],
      ['quality', [3]],
      ['attribute_logits', [3, 3]],
      ['attributes', [3, 3]],
    ],
  );
  assert.deepEqual(catfaceOnnxModel(model).inputs[0].shape, ['batch', 3, 32, 32]);
  model.dispose();
});

test('every fusion kind and the subsampling shortcut export within 1e-4', async () => {
  for (const kind of ['none', 'concat', 'add', 'se', 'cross', 'catf-no-mffnl', 'catf-no-caf'] as const) {
    const model = tinyModel(kind);
    await checkParity(model, 2);
    model.dispose();
  }
  const subsample = tinyModel(null, { shortcut: 'subsample', widths: [8, 8, 8, 16], layers: [2, 1, 1, 1] });
  await checkParity(subsample, 2);
  subsample.dispose();
});

test('opsets 18 (reduce axes as input) and 20 (Gelu op) export within 1e-4', async () => {
  const model = tinyModel('catf');
  for (const opset of [18, 20, 21]) {
    await checkParity(model, 2, { opset });
    assert.equal(catfaceOnnxModel(model, { opset }).opset, opset);
  }
  assert.ok(catfaceOnnxModel(model, { opset: 20 }).nodes.some((n) => n.opType === 'Gelu'));
  assert.ok(!catfaceOnnxModel(model).nodes.some((n) => n.opType === 'Gelu'));
  assert.throws(() => catfaceOnnxModel(model, { opset: 16 }), /opset must be an integer in \[17, 21\], got 16/);
  assert.throws(() => catfaceOnnxModel(model, { batch: 0 }), /batch must be a positive integer or 'dynamic', got 0/);
  model.dispose();
});

test('a tiny dlib-backbone CATFace exports within 1e-4', async () => {
  const model = CATFace.create({
    network: { backbone: 'dlib', inputSize: 150, embeddingSize: 128, attributes: 2 },
    fusion: { kind: 'catf', heads: 4, groups: 4, expandRatio: 1, head: { embeddingSize: 16 } },
  });
  randomize(model, 5);
  await checkParity(model, 2, { batch: 2 });
  model.dispose();
});

test('the shipped default model exports within 1e-4 (fixed batch 2, dynamic batch 1 and 4)', {
  skip: !existsSync(DEFAULT_MODEL) && 'models/default is absent',
}, async () => {
  const { model } = readModelDir(DEFAULT_MODEL);
  const fixed = await checkParity(model, 2, { batch: 2 });
  const dynamic = Math.max(await checkParity(model, 1), await checkParity(model, 4));
  console.log(`models/default: max abs error fixed ${fixed.toExponential(2)}, dynamic ${dynamic.toExponential(2)}`);
  model.dispose();
});

test('the same files run in onnxruntime-web (wasm backend) within 1e-4', async () => {
  const tiny = tinyModel('catf');
  const tinyError = await checkParity(tiny, 3, {}, runWeb);
  tiny.dispose();
  let shippedError = Number.NaN;
  if (existsSync(DEFAULT_MODEL)) {
    const { model } = readModelDir(DEFAULT_MODEL);
    shippedError = await checkParity(model, 2, {}, runWeb);
    model.dispose();
  }
  console.log(`onnxruntime-web: max abs error tiny ${tinyError.toExponential(2)}, models/default ${shippedError.toExponential(2)}`);
});

test('catface export writes a file onnxruntime opens, with the model description in its metadata', async () => {
  const work = mkdtempSync(join(tmpdir(), 'catface-export-'));
  try {
    writeTinyModel(join(work, 'model'));
    const out = join(work, 'tiny.onnx');
    assert.equal(await runCli(['export', '--model', join(work, 'model'), '--out', out, '--batch', '2', '--opset', '18']), 0);
    assert.deepEqual(readdirSync(work).sort(), ['model', 'tiny.onnx'], 'no temporary file left beside it');
    const session = await ort.InferenceSession.create(out);
    assert.deepEqual(session.inputNames, ['images']);
    assert.deepEqual(session.outputNames, ['fr_embedding', 'quality', 'attribute_logits', 'attributes']);
    const result = await session.run({ images: new ort.Tensor('float32', new Float32Array(2 * 3 * 64 * 64), [2, 3, 64, 64]) });
    assert.deepEqual(result.fr_embedding.dims, [2, 32]);
    await session.release();
    const written = readFileSync(out);
    assert.ok(
      written.includes(Buffer.from('catface.model')) && written.includes(Buffer.from('"verifyThreshold":0.5')),
      'model.json in the metadata',
    );
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});

test('equal weights are stored once; shapes are worked out through reshapes with a named batch', () => {
  const g = new OnnxGraph();
  const [a, b, c] = [torch.ones([4]), torch.ones([4]), torch.zeros([4])];
  assert.equal(g.weight(a).name, g.weight(b).name);
  assert.notEqual(g.weight(a).name, g.weight(c).name);
  assert.notEqual(g.weight(a, 'w', [2, 2]).name, g.weight(a).name, 'same bytes, other shape');
  torch.dispose([a, b, c]);
  const x = g.input('x', ['batch', 8, 3, 3]);
  assert.deepEqual(g.reshape(x, [0, 0, -1]).shape, ['batch', 8, 9]);
  assert.deepEqual(g.reshape(g.input('y', ['batch', 1]), [-1]).shape, ['batch']);
  assert.deepEqual(g.reshape(g.input('z', [6, 8, 3, 3]), [-1, 9]).shape, [48, 9]);
  assert.throws(() => g.reshape(x, [-1]), /cannot reshape \[batch, 8, 3, 3\] to \[-1\]/);
  assert.throws(() => g.reshape(x, [0, -1, 5]), /cannot reshape \[batch, 8, 3, 3\] to \[0,-1,5\]/);
  assert.deepEqual(g.matmul(g.reshape(x, [0, 0, -1]), g.floats(new Float32Array(18), [9, 2])).shape, ['batch', 8, 2]);
  assert.throws(() => g.add(x, g.floats([1, 2], [2])), /shapes \[batch, 8, 3, 3\] and \[2\] do not broadcast/);
});
