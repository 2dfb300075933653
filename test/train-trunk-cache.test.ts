// Training on the frozen trunk's cached features (data.trunkCache) is the same training as running the trunk
// every step: on a tiny dlib-backbone case with a fixed LQ twin per image, both stages' losses match within the
// fp16 rounding of the cached features, and the cached run never calls the degrader or the teacher. Both for a
// cache of the 32 and 64 stages (blocks 7), of the stem alone (blocks 0: the shipped recipe trains every block) and
// of the chips themselves (blocks -1: the stem trains too).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { unitToNormalized } from '../src/common/image-convention.js';
import type { FaceDataset } from '../src/data/dataset.js';
import type { DlibMultiBranchNet } from '../src/models/dlib-multi-branch.js';
import type { Fusion } from '../src/models/fusion-base.js';
import type { Tensor } from '../src/torch/index.js';
import * as torch from '../src/torch/index.js';
import { buildModules } from '../src/train/build.js';
import { parseTrainConfig } from '../src/train/config.js';
import type { BatchSource, TwinDegrader } from '../src/train/contracts.js';
import { makeStageOptimizer } from '../src/train/optimizer.js';
import { dlibTeacher, lossWeights } from '../src/train/run.js';
import { train } from '../src/train/trainer.js';
import { CachedTrunkSource } from '../src/train/trunk-cache.js';

const root = mkdtempSync(join(tmpdir(), 'catface-trunk-cache-'));
after(() => rmSync(root, { recursive: true, force: true }));

const configFor = (blocks: number) =>
  parseTrainConfig({
    seed: 3,
    threads: 1,
    outDir: join(root, 'unused'),
    data: { train: join(root, 'unused-data'), imageSize: 150, attributes: ['male'], workers: 0 },
    model: {
      backbone: 'dlib',
      pretrained: 'faceapi',
      widths: [32, 64, 128, 256],
      embeddingSize: 128,
      dropout: 0,
      heads: 8,
      groups: 8,
      frozen: blocks < 0 ? [] : ['stem', ...Array.from({ length: blocks }, (_, i) => `trunk.${i}.`)],
    },
    loss: { head: 'adaface', lambdaFR: 0.5, lambdaSB: 0.5, lambdaDist: 1, lambdaTeacher: 5, lambdaTeacherHQ: 1 },
    stage1: { steps: 2, batchSize: 4, optim: { lr: 0.001, clipGradNorm: 1 } },
    stage2: { steps: 2, batchSize: 4, optim: { lr: 0.001, clipGradNorm: 1 } },
    checkpoint: { every: 0, keep: 1 },
    log: { progress: 'off' },
  });

const labels = [0, 0, 1, 1];
const attributes = [[1], [0], [1], [0]];

/** Both stages' losses of a 2 + 2 step run from identically initialised modules, and how far the stem and trunk.0 moved. */
async function run(
  name: string,
  config: ReturnType<typeof configFor>,
  make: (
    network: DlibMultiBranchNet,
    teacher: ReturnType<typeof dlibTeacher>,
  ) => { source: BatchSource; degrader: TwinDegrader; teacher: ReturnType<typeof dlibTeacher> | null },
) {
  torch.manualSeed(11);
  const modules = buildModules(config, 2);
  const teacher = dlibTeacher(modules.teacher as NonNullable<typeof modules.teacher>);
  const { source, degrader, teacher: used } = make(modules.model.network as DlibMultiBranchNet, teacher);
  const first = (prefix: string) => modules.model.network.namedParameters().find(([n]) => n.startsWith(prefix))?.[1] as Tensor;
  const watched = ['stem.', 'trunk.0.'].map((prefix) => ({ param: first(prefix), before: torch.keep(first(prefix).detach().clone()) }));
  torch.manualSeed(12);
  const result = await train(
    {
      network: modules.model.network,
      frHead: modules.frHead,
      fusion: modules.model.fusion as Fusion,
      fusedHead: modules.fusedHead,
      source,
      degrader,
      teacher: used,
      makeOptimizer: (stage, trained) => makeStageOptimizer(stage === 1 ? config.stage1.optim : config.stage2.optim, trained),
    },
    {
      runDir: join(root, name),
      stage1: config.stage1,
      stage2: config.stage2,
      weights: lossWeights(config),
      checkpoint: config.checkpoint,
      validation: { every: 0 },
      log: { every: 1, progress: 'off', lineEverySeconds: 0 },
      resume: false,
    },
  );
  modules.teacher?.dispose();
  const [stemMoved, trunkMoved] = watched.map(({ param, before }) => {
    const moved = torch.tidy(() => param.detach().sub(before).abs().max().item());
    before.dispose();
    return moved;
  });
  return { losses: result.losses, stemMoved, trunkMoved };
}

for (const blocks of [7, 0, -1]) {
  test(`cached trunk features (${blocks} blocks) train like the trunk run every step (same losses, both stages)`, async () => {
    const config = configFor(blocks);
    torch.manualSeed(5);
    const hq = torch.keep(torch.rand([4, 3, 150, 150]));
    // a fixed LQ twin per image: blurred-looking (local mean) and darker, as any capture would make
    const lq = torch.keep(torch.tidy(() => torch.F.avgPool2d(hq, 5, { stride: 1, padding: 2 }).mul(0.8)));
    const label = torch.keep(torch.tensor(labels, { dtype: 'int64' }));
    const attribute = torch.keep(torch.tensor(attributes).float());

    const images = await run(`images-${blocks}`, config, (_, teacher) => ({
      source: {
        next: async () => ({ images: hq.clone(), labels: label.clone(), attributes: attribute.clone() }),
        state: () => null,
        restore: () => {},
      },
      degrader: { degrade: async (images: Tensor) => ({ hq: images, lq: lq.clone() }), state: () => null, restore: () => {} },
      teacher,
    }));

    let teacherCalls = 0;
    const cached = await run(`cached-${blocks}`, config, (network, teacher) => {
      const cache = torch.tidy(() =>
        torch.noGrad(() => {
          const features = (images: Tensor) => network.trunk(unitToNormalized(images), blocks).to('float16');
          return { hq: features(hq), lq: features(lq).unsqueeze(1), teacher: teacher.embed(unitToNormalized(hq)) };
        }),
      );
      const dataset: FaceDataset = {
        samples: labels.map((l, i) => ({ image: { kind: 'file', path: `id${l}/${i}.png` }, label: l, attributes: attributes[i] })),
        classes: ['id0', 'id1'],
        attributeNames: ['male'],
        report: { skipped: [] } as unknown as FaceDataset['report'],
      };
      return {
        source: new CachedTrunkSource({ ...cache, dispose: () => torch.dispose(cache) }, dataset, {
          seed: 1,
          mode: 'shuffled',
          imagesPerIdentity: 4,
          blocks,
        }),
        degrader: {
          degrade: async () => {
            throw new Error('the cached run must not degrade');
          },
          state: () => null,
          restore: () => {},
        },
        teacher: {
          embed: (images: Tensor) => {
            teacherCalls += 1;
            return teacher.embed(images);
          },
        },
      };
    });
    torch.dispose([hq, lq, label, attribute]);

    const [imageLosses, cachedLosses] = [images.losses, cached.losses];
    assert.equal(imageLosses.length, 4);
    assert.equal(cachedLosses.length, 4);
    for (const [i, a] of imageLosses.entries()) {
      const b = cachedLosses[i];
      assert.ok(Number.isFinite(a) && a > 0, `step ${i + 1}: loss ${a}`);
      assert.ok(Math.abs(a - b) <= 2e-3 * Math.abs(a), `step ${i + 1}: trunk every step ${a} vs cached ${b}`);
    }
    // the losses move (the step really trained), so equal losses mean equal updates
    assert.notEqual(imageLosses[0], imageLosses[1]);
    assert.equal(teacherCalls, 0, 'the cached run reads the teacher embedding from the cache');
    // what the cache holds is frozen; what sits above it trains (in both runs alike)
    for (const run of [images, cached]) {
      if (blocks > 0) assert.equal(run.trunkMoved, 0);
      else assert.ok(run.trunkMoved > 0, 'trunk.0 trained above a stem-only cache');
      if (blocks >= 0) assert.equal(run.stemMoved, 0);
      else assert.ok(run.stemMoved > 0, 'the stem trained on a cache of chips');
    }
  });
}

test('data.trunkCache is refused without the teacher it caches, naming the field', () => {
  assert.throws(
    () =>
      parseTrainConfig({
        outDir: join(root, 'x'),
        data: { train: join(root, 'y'), trunkCache: { dir: join(root, 'cache'), photos: join(root, 'lfw'), faces: join(root, 'm.json') } },
        model: { backbone: 'dlib', pretrained: 'faceapi' },
      }),
    /data\.trunkCache: caches the frozen teacher too/,
  );
  assert.throws(
    () => parseTrainConfig({ outDir: 'x', data: { train: 'y' }, loss: { lambdaTeacherHQ: 1 } }),
    /loss\.lambdaTeacherHQ: needs model\.pretrained 'faceapi'/,
  );
});
