// The training loop end to end on a tiny network and a tiny generated image folder: the loss goes down; a run
// killed with SIGKILL and resumed continues with exactly the losses of an uninterrupted run; stage 2 leaves the
// frozen stage-1 weights bit-identical; a NaN loss stops with a clear error and keeps the last good checkpoint;
// a bad config file is rejected by the CLI with the field's name.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { appendFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { IResNet, iresnetConfig } from '../src/models/iresnet.js';
import { loadSafetensors, saveSafetensors } from '../src/nn/safetensors.js';
import { FaceModel } from '../src/serve/face-model.js';
import { FaceModelWorker } from '../src/serve/face-model-worker.js';
import * as torch from '../src/torch/index.js';
import { buildModules } from '../src/train/build.js';
import { listCheckpoints, readCheckpoint } from '../src/train/checkpoint.js';
import { parseTrainConfig, type TrainConfig } from '../src/train/config.js';
import { readMetrics } from '../src/train/metrics-log.js';
import { PreflightError, preflight } from '../src/train/preflight.js';
import { readTrainingSet, runTraining } from '../src/train/run.js';
import { TrainingDivergedError } from '../src/train/trainer.js';
import { writeTinyFolder } from './helpers/tiny-folder.js';

const here = dirname(fileURLToPath(import.meta.url));
const cli = join(here, '..', 'src', 'cli', 'main.js');
let root: string;
let data: string;

function tinyConfig(
  outDir: string,
  patch: { stage1?: number; stage2?: number; every?: number; pairs?: string } = {},
): Record<string, unknown> {
  return {
    ...(patch.pairs ? { validation: { pairs: patch.pairs, every: 20 } } : {}),
    seed: 7,
    threads: 1,
    outDir,
    data: { train: data, imageSize: 32, workers: 0 },
    model: { widths: [8, 8, 16, 16], embeddingSize: 16, heads: 2, groups: 2, expandRatio: 2 },
    stage1: { steps: patch.stage1 ?? 20, batchSize: 8, optim: { lr: 0.05, warmupSteps: 3, milestones: [(patch.stage1 ?? 20) - 5] } },
    stage2: { steps: patch.stage2 ?? 10, batchSize: 8, optim: { lr: 0.05 } },
    checkpoint: { every: patch.every ?? 10, keep: 10 },
    log: { progress: 'off' },
  };
}

function config(outDir: string, patch?: Parameters<typeof tinyConfig>[1]): TrainConfig {
  return parseTrainConfig(tinyConfig(outDir, patch));
}

function trainLosses(runDir: string): Map<number, number> {
  return new Map(
    readMetrics(join(runDir, 'metrics.jsonl'))
      .filter((r) => r.kind === 'train')
      .map((r) => [r.step, r.loss as number]),
  );
}

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'catface-train-'));
  data = join(root, 'data');
  await writeTinyFolder(data);
});

after(() => {
  rmSync(root, { recursive: true, force: true });
});

test('a tiny stage-1 run brings the loss down', async () => {
  const run = join(root, 'down');
  // validation pairs with a known outcome: 10 genuine pairs of an image with itself (cosine 1 for any model) and
  // 10 distinct impostor pairs, alternating, so each of the 10 contiguous folds holds one of each
  const pairs = join(data, 'pairs.txt');
  const pairList = Array.from({ length: 10 }, (_, i) => [
    [`id${i % 8}/${i % 6}.png`, `id${i % 8}/${i % 6}.png`, 1],
    [`id${i % 8}/1.png`, `id${(i + 3) % 8}/${2 + Math.floor(i / 8)}.png`, 0],
  ]).flat() as [string, string, number][];
  writeFileSync(pairs, `${pairList.map((p) => p.join(' ')).join('\n')}\n`);
  const result = await runTraining(config(run, { stage1: 40, stage2: 0, every: 0, pairs }));
  for (const m of Object.values(result.modules)) m.dispose();
  const losses = result.losses;
  assert.equal(losses.length, 40);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const first = mean(losses.slice(0, 5));
  const last = mean(losses.slice(-5));
  assert.ok(last < 0.8 * first, `loss should fall by >20%: first five ${first.toFixed(3)}, last five ${last.toFixed(3)}`);
  const validations = readMetrics(join(run, 'metrics.jsonl')).filter((r) => r.kind === 'validation');
  assert.deepEqual(
    validations.map((r) => r.step),
    [20, 40],
  );
  // the exported stage-1-only model answers with FR embeddings
  const model = FaceModel.load(join(run, 'model'));
  assert.equal(model.spec.defaultEmbedding, 'fr');
  // The validation scores by hand: FR embeddings of each image and its mirror, summed and normalised, cosine.
  const fused = async (file: string) => {
    const mirrored = await sharp(join(data, file)).flop().png().toBuffer();
    const [a, b] = await model.embed([readFileSync(join(data, file)), mirrored]);
    const sum = a.map((v, i) => v + b[i]);
    const norm = Math.hypot(...sum);
    return sum.map((v) => v / norm);
  };
  const scores: number[] = [];
  for (const [a, b] of pairList) {
    const [ea, eb] = [await fused(a), await fused(b)];
    scores.push(ea.reduce((s, v, i) => s + v * eb[i], 0));
  }
  const genuine = scores.filter((_, i) => pairList[i][2] === 1);
  const impostors = scores.filter((_, i) => pairList[i][2] === 0).sort((x, y) => y - x);
  assert.ok(Math.min(...genuine) > impostors[0] + 1e-3, `an image with itself scores above every impostor: ${scores}`);
  // Known outcome: AUC 1. Each fold's threshold is the lowest that is best on the other nine: just above their
  // highest impostor. In the fold holding the highest impostor m1 that is (m2 + m1)/2, which accepts m1: that
  // fold scores 1/2, the nine others 1 — 10-fold accuracy 0.95 — and the exported threshold is the folds' mean.
  const final = validations.at(-1) as Record<string, unknown>;
  assert.equal(final.auc, 1);
  assert.ok(Math.abs((final.accuracy as number) - 0.95) < 1e-12, `validation accuracy ${final.accuracy}`);
  const [m1, m2] = impostors;
  const expected = (9 * ((m1 + Math.min(...genuine)) / 2) + (m2 + m1) / 2) / 10;
  const threshold = model.spec.verifyThreshold as number;
  assert.ok(Math.abs(threshold - expected) < 1e-4, `exported threshold ${threshold} vs ${expected} from the scores`);
  // …which accepts every genuine pair and no impostor of the validation set: FAR 0, TAR 1.
  assert.equal(impostors.filter((s) => s > threshold).length, 0);
  assert.equal(genuine.filter((s) => s > threshold).length, 10);
  const [e] = await model.embed([join(data, 'id0', '0.png')]);
  assert.equal(e.length, 16);
  assert.ok(Math.abs(Math.hypot(...e) - 1) < 1e-4);
  const [quality] = await model.quality([join(data, 'id0', '0.png')]);
  assert.ok(quality > 0);
  // the out-of-process API answers the same, off the event loop
  const worker = await FaceModelWorker.open(join(run, 'model'));
  try {
    const [fromWorker] = await worker.embed([readFileSync(join(data, 'id0', '0.png'))]);
    assert.deepEqual([...fromWorker], [...e]);
    const same = await worker.verify(join(data, 'id0', '0.png'), join(data, 'id0', '0.png'));
    assert.ok(Math.abs(same.similarity - 1) < 1e-5 && same.same === true);
    const [attributes] = await worker.attributes([join(data, 'id1', '2.png')]);
    assert.deepEqual(Object.keys(attributes), ['Male', 'Big_Nose', 'Chubby', 'Narrow_Eyes', 'Bald']);
    await assert.rejects(worker.embed([join(data, 'missing.png')]), /missing\.png: cannot read \(ENOENT\)/);
  } finally {
    await worker.close();
  }
  model.dispose();
});

test('resume after kill -9 reproduces the uninterrupted losses exactly; stage 2 keeps stage 1 frozen', async () => {
  const reference = join(root, 'reference');
  const whole = await runTraining(config(reference));
  assert.equal(whole.step, 30);
  const expected = trainLosses(reference);

  // stage 2 (steps 21–30) left the stage-1 network bit-identical to its state at the end of stage 1
  torch.tidy(() => {
    const atStage1End = (readCheckpoint(reference, 20) as NonNullable<ReturnType<typeof readCheckpoint>>).tensors.model;
    const final = loadSafetensors(join(reference, 'model', 'weights.safetensors')).tensors;
    let compared = 0;
    for (const [key, value] of final) {
      if (!key.startsWith('network.')) continue;
      assert.ok(value.equal(atStage1End.get(key) as torch.Tensor), `${key} changed during stage 2`);
      compared++;
    }
    assert.ok(compared > 50, `compared ${compared} network tensors`);
    // …while the fusion did train
    const fusionKey = [...final.keys()].find((k) => k.startsWith('fusion.') && k.endsWith('weight')) as string;
    assert.ok(!final.get(fusionKey)?.equal(atStage1End.get(fusionKey) as torch.Tensor), 'the fusion should change in stage 2');
  });

  // a child process trains the same config, printing a progress line per step; it is killed with SIGKILL as
  // soon as it reports step 13, which it reaches only after writing its step-10 checkpoint
  const killed = join(root, 'killed');
  mkdirSync(killed, { recursive: true });
  const configPath = join(killed, 'config.json');
  writeFileSync(configPath, JSON.stringify({ ...tinyConfig(killed), log: { progress: 'lines', lineEverySeconds: 0 } }));
  const child: ChildProcess = spawn(process.execPath, [cli, 'train', '--config', configPath], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  const reported = new Promise<number>((resolve, reject) => {
    child.stderr?.on('data', (d) => {
      stderr += d;
      const steps = [...stderr.matchAll(/^stage 1 \S+ (\d+)\/20 /gm)].map((m) => Number(m[1]));
      if (steps.some((s) => s >= 13)) resolve(Math.max(...steps));
    });
    child.on('exit', (code) => reject(new Error(`the child exited (${code}) before reporting step 13: ${stderr}`)));
  });
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
  assert.ok((await reported) >= 13);
  assert.ok(listCheckpoints(killed).includes(10), 'the step-10 checkpoint is on disk before step 11 starts');
  child.kill('SIGKILL');
  assert.equal(await exited, 'SIGKILL', 'the child should have been killed mid-run');
  // the child may have run a few steps past 13 before the signal landed, but it never finishes
  assert.ok(listCheckpoints(killed).at(-1) === 10 || listCheckpoints(killed).at(-1) === 20);
  assert.equal(existsSync(join(killed, 'model')), false);

  const resumedFrom = listCheckpoints(killed).at(-1) as number;
  const resumed = await runTraining(config(killed), { resume: true });
  assert.equal(resumed.resumedFrom, resumedFrom);
  assert.equal(resumed.step, 30);
  const got = trainLosses(killed);
  assert.deepEqual([...got.keys()], [...expected.keys()], 'the log reads as one run with no repeated or missing steps');
  const next = [...expected.keys()].filter((s) => s > resumedFrom);
  assert.ok(next.length >= 10);
  for (const step of next) assert.equal(got.get(step), expected.get(step), `loss at step ${step}`);
  if (resumedFrom === 10) assert.equal(next.length, 20);
});

test('a NaN loss stops the run with a clear message and keeps the last good checkpoint', async () => {
  const run = join(root, 'nan');
  const cfg = config(run, { stage1: 6, stage2: 0, every: 1 });
  // lr so large that the weights overflow within a few steps
  cfg.stage1.optim.lr = 1e30;
  await assert.rejects(runTraining(cfg), (err: unknown) => {
    assert.ok(err instanceof TrainingDivergedError, String(err));
    assert.match(err.message, /training diverged at stage 1 step \d+: non-finite loss \(loss=(NaN|Infinity)/);
    assert.match(err.message, /the last good checkpoint is step \d+/);
    assert.equal(listCheckpoints(run).at(-1), err.lastCheckpoint);
    assert.equal(err.lastCheckpoint, err.step - 1);
    return true;
  });
  torch.tidy(() => {
    const last = readCheckpoint(run) as NonNullable<ReturnType<typeof readCheckpoint>>;
    for (const [key, t] of last.tensors.model)
      if (t.isFloatingPoint) assert.ok(t.isfinite().all().item(), `${key} is finite in the kept checkpoint`);
  });
});

test('a run directory holds one run: reuse without --resume, and --resume with another config, are refused', async () => {
  const run = join(root, 'identity');
  const first = await runTraining(config(run, { stage1: 6, stage2: 0, every: 3 }));
  for (const m of Object.values(first.modules)) m.dispose();
  const metricsBefore = readFileSync(join(run, 'metrics.jsonl'));
  await assert.rejects(
    runTraining(config(run, { stage1: 7, stage2: 0, every: 3 })),
    /identity: holds an earlier run \(checkpoints, metrics\.jsonl, model, run\.json\); continue it with --resume/,
  );
  await assert.rejects(runTraining(config(run, { stage1: 8, stage2: 0, every: 3 }), { resume: true }), (e: Error) => {
    assert.match(e.message, /--resume with a config that differs from the run's \(2 field\(s\)\)/);
    assert.match(e.message, /stage1\.steps: 6 → 8/);
    assert.match(e.message, /stage1\.optim\.milestones: \[1\] → \[3\]/);
    return true;
  });
  assert.deepEqual(readFileSync(join(run, 'metrics.jsonl')), metricsBefore, 'a refused run writes nothing');
  assert.deepEqual(listCheckpoints(run), [3, 6]);
  // --force starts over: the earlier run's checkpoints, metrics and model are gone, nothing of two runs mixes
  const again = await runTraining(config(run, { stage1: 6, stage2: 0, every: 2 }), { force: true });
  for (const m of Object.values(again.modules)) m.dispose();
  assert.deepEqual(listCheckpoints(run), [2, 4, 6]);
  assert.deepEqual(
    readMetrics(join(run, 'metrics.jsonl'))
      .filter((r) => r.kind === 'train')
      .map((r) => r.step),
    [1, 2, 3, 4, 5, 6],
  );
});

test('pre-flight: every bad image and label row is reported at once before any step, and good images are cached', async () => {
  const broken = join(root, 'broken-data');
  cpSync(data, broken, { recursive: true });
  writeFileSync(join(broken, 'id1', '2.png'), 'not a png');
  writeFileSync(join(broken, 'id5', '0.png'), readFileSync(join(data, 'id5', '0.png')).subarray(0, 60));
  appendFileSync(join(broken, 'attributes.csv'), 'ghost,1,0,0,0,0\n');
  const run = join(root, 'preflight');
  const cfg = parseTrainConfig({ ...tinyConfig(run, { stage1: 6, stage2: 0 }), data: { train: broken, imageSize: 32, workers: 0 } });
  await assert.rejects(runTraining(cfg), (e: Error) => {
    assert.ok(e instanceof PreflightError, String(e));
    assert.match(e.message, /pre-flight found 3 problem\(s\) in .*broken-data; nothing was trained/);
    assert.match(e.message, /attributes\.csv: identity 'ghost' has no folder/);
    assert.match(e.message, /id1\/2\.png: not an image/);
    assert.match(e.message, /id5\/0\.png: cannot decode image/);
    return true;
  });
  assert.deepEqual(readdirSync(run), ['.preflight-cache.json'], 'no run was started');
  // the 46 good images are cached by size+mtime: a second scan decodes only the 2 bad ones
  const dataset = readTrainingSet(cfg);
  const again = await preflight(dataset, cfg);
  assert.equal(again.cached, 46);
  assert.equal(again.checked, 2);
  const lonely = parseTrainConfig({
    ...tinyConfig(join(root, 'lonely'), { stage1: 6, stage2: 0 }),
    stage1: { steps: 6, batchSize: 64, optim: { lr: 5 } },
  });
  const warned = await preflight(readTrainingSet(lonely), lonely);
  assert.deepEqual(warned.problems, []);
  assert.match(warned.warnings.join('\n'), /stage1\.batchSize 64 is larger than the training set \(48 images\)/);
  assert.match(warned.warnings.join('\n'), /stage1\.optim\.lr 5 is outside the usual/);
});

test('catface train rejects a bad config naming the field', () => {
  const path = join(root, 'bad.json');
  const bad = tinyConfig(join(root, 'bad-run'));
  (bad.stage1 as Record<string, unknown>).batchSize = 'eight';
  writeFileSync(path, JSON.stringify(bad));
  const r = spawnSync(process.execPath, [cli, 'train', '--config', path], { encoding: 'utf8' });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /bad\.json: stage1\.batchSize: expected a finite number, got string "eight"/);
  assert.equal(existsSync(join(root, 'bad-run')), false, 'nothing is written for a bad config');
  assert.ok(readFileSync(path, 'utf8').length > 0);
});

test('model.pretrained starts the trunk and both branches from IR-ResNet weights', () => {
  const ir = new IResNet(iresnetConfig('ir18', { widths: [8, 8, 16, 16], inputSize: 32, embeddingSize: 16 }));
  const path = join(root, 'ir18.safetensors');
  saveSafetensors(path, ir.stateDict());
  const raw = tinyConfig(join(root, 'pretrained'));
  const built = buildModules(parseTrainConfig({ ...raw, model: { ...(raw.model as object), pretrained: path } }), 8);
  const theirs = ir.stateDict();
  const ours = built.model.network.stateDict();
  for (const [mine, source] of [
    ['conv1.weight', 'conv1.weight'],
    ['layer3.1.conv2.weight', 'layer3.1.conv2.weight'],
    ['fr_layer4.0.conv1.weight', 'layer4.0.conv1.weight'],
    ['sb_layer4.1.bn3.running_var', 'layer4.1.bn3.running_var'],
    ['fr_head.fc.weight', 'fc.weight'],
  ]) {
    assert.ok(ours.get(mine)?.equal(theirs.get(source) as torch.Tensor), `${mine} should equal the pretrained ${source}`);
  }
  for (const m of [ir, built.model, built.frHead, built.fusedHead]) m.dispose();
});

test('model.init starts the network from a stage-1 model: stage1.steps 0 trains only the fusion on it', async () => {
  const stage1 = await runTraining(config(join(root, 'init-stage1'), { stage1: 10, stage2: 0 }));
  for (const m of Object.values(stage1.modules)) m.dispose();
  const raw = tinyConfig(join(root, 'init-stage2'), { stage1: 0, stage2: 6 });
  const run = await runTraining(
    parseTrainConfig({
      ...raw,
      model: { ...(raw.model as object), fusion: 'concat', init: stage1.modelDir },
      stage1: { steps: 0, batchSize: 8, optim: { lr: 0.05 } },
    }),
  );
  for (const m of Object.values(run.modules)) m.dispose();
  assert.equal(run.step, 6);
  torch.tidy(() => {
    const before = loadSafetensors(join(stage1.modelDir as string, 'weights.safetensors')).tensors;
    const afterwards = loadSafetensors(join(run.modelDir as string, 'weights.safetensors')).tensors;
    let compared = 0;
    for (const [key, value] of before) {
      assert.ok(value.equal(afterwards.get(key) as torch.Tensor), `${key} should be the stage-1 model's`);
      compared++;
    }
    assert.ok(compared > 50, `compared ${compared} network tensors`);
    assert.ok(
      [...afterwards.keys()].some((k) => k.startsWith('fusion.')),
      'the concat fusion was trained and saved',
    );
  });
  const both = tinyConfig(join(root, 'init-both'));
  assert.throws(() => parseTrainConfig({ ...both, model: { ...(both.model as object), init: 'x', pretrained: 'y' } }), /model\.init/);
});
