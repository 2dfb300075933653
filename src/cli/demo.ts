// `catface demo`: the whole job on the embedded default, on a CPU — synthetic identities with attributes,
// stage-1 and stage-2 training (configs/demo.json: 64 px, a narrow IR-18), then baseline (FR branch alone) vs
// CATFace on unseen identities, clean and degraded, written as an HTML report.
import { existsSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { seedPairInterval, verdictOf } from '../ablate/seed-interval.js';
import { PROTOCOLS } from '../ablate/test-protocols.js';
import { generateSynthDataset } from '../data/synth/synth-dataset.js';
import { writeReport } from '../eval/report.js';
import { claimFolder, recordFolder } from '../io/owned-folder.js';
import { parseTrainConfig, readConfigJson } from '../train/config.js';
import { formatDuration } from '../train/progress.js';
import { runTraining } from '../train/run.js';
import { RUN_FILE } from '../train/run-identity.js';
import { type Command, UsageError } from './command.js';
import { type DemoEvaluation, evaluateDemo } from './demo-evaluation.js';
import { intFlag, RANGES } from './flags.js';

const here = dirname(fileURLToPath(import.meta.url));
/** configs/demo.json of the package (dist/src/cli → ../../../configs). */
export const DEMO_CONFIG =
  [join(here, '..', '..', '..', 'configs', 'demo.json'), join(here, '..', '..', 'configs', 'demo.json')].find(existsSync) ?? '';

const count = (value: string, flag: string, min: number) => intFlag(value, flag, { min, max: RANGES.identities.max });

const percent = (v: number | null) => (v === null ? '—' : `${(100 * v).toFixed(2)}%`);

export const demoCommand: Command = {
  name: 'demo',
  summary: 'synthetic identities → two-stage training → baseline vs CATFace report (about 10 min on 2 cores)',
  usage: [
    'catface demo [--out runs/demo] [--config configs/demo.json] [--identities 200] [--images 12]',
    '             [--test-identities 60] [--test-images 8] [--threads 2] [--seed 1] [--seeds 3] [--force]',
    '',
    'Generates synthetic identities with attributes (catface synth), trains stage 1 (multi-branch network with',
    'distillation on degraded twins) and stage 2 (CATF fusion) with the config, evaluates the FR branch alone',
    '(baseline) against CATFace on identities not seen in training — clean, degraded, and clean gallery vs',
    'degraded probe — and writes <out>/report/index.html. Training is repeated with --seeds seeds (--seed, --seed+1, …;',
    'the data and the test pairs stay those of --seed) and the verdict is the gain averaged over them with a 95%',
    'interval over seeds and pairs: one seed decides nothing (with seed 1 CATFace can win where seed 2 loses).',
    'The exported model is the --seed run, <out>/model; the other seeds run in <out>/seeds/seed-N/.',
    'Ranges: --identities and --test-identities 10–100000, --images and --test-images 2–100000, --threads 1–256, --seeds 1–20,',
    '--seed 0–2^53. --out must be new, empty or an earlier demo (replaced whole); --force uses a folder holding',
    "other files (deleting only the demo's own entries: data, checkpoints, metrics.jsonl, model, report, run.json, seeds).",
  ].join('\n'),
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: {
        out: { type: 'string', default: 'runs/demo' },
        config: { type: 'string', default: DEMO_CONFIG },
        identities: { type: 'string', default: '200' },
        images: { type: 'string', default: '12' },
        'test-identities': { type: 'string', default: '60' },
        'test-images': { type: 'string', default: '8' },
        threads: { type: 'string', default: '2' },
        seed: { type: 'string', default: '1' },
        seeds: { type: 'string', default: '3' },
        force: { type: 'boolean', default: false },
      },
    });
    if (!values.config || !existsSync(values.config))
      throw new UsageError(`--config: cannot find '${values.config}' (the demo config ships as configs/demo.json)`);
    const out = resolve(values.out);
    const seed = intFlag(values.seed, 'seed', RANGES.seed);
    const threads = intFlag(values.threads, 'threads', RANGES.threads);
    const seedCount = intFlag(values.seeds, 'seeds', { min: 1, max: 20 });
    // every flag is checked before anything is deleted or written
    const identities = count(values.identities, 'identities', 10);
    const testIdentities = count(values['test-identities'], 'test-identities', 10);
    const imagesPerIdentity = count(values.images, 'images', 2);
    const testImagesPerIdentity = count(values['test-images'], 'test-images', 2);
    const started = performance.now();
    const lap = (since: number) => (performance.now() - since) / 1000;

    const trainDir = join(out, 'data', 'train');
    const testDir = join(out, 'data', 'test');
    const raw = readConfigJson(values.config);
    const config = parseTrainConfig(
      { ...raw, threads, seed, outDir: out, data: { ...(raw.data as object), train: trainDir } },
      values.config,
    );
    const size = config.data.imageSize;
    // a fresh run each time (the demo measures the whole job), in a folder the demo made or a new one
    const folder = claimFolder(out, 'demo', values.force);
    const entries = ['data', 'checkpoints', 'metrics.jsonl', 'model', 'report', RUN_FILE, 'seeds'];
    for (const name of entries) rmSync(join(out, name), { recursive: true, force: true });

    let t = performance.now();
    console.log(`1/4 synthesising ${identities} training and ${testIdentities} held-out identities (${size} px)…`);
    const train = await generateSynthDataset(trainDir, { identities, imagesPerIdentity, seed, size }, threads);
    // another seed gives other people: the test identities are unseen
    const test = await generateSynthDataset(
      testDir,
      { identities: testIdentities, imagesPerIdentity: testImagesPerIdentity, seed: seed + 1000, size },
      threads,
    );
    const synthSeconds = lap(t);
    console.log(`    ${train.images} + ${test.images} images in ${formatDuration(synthSeconds)}`);

    // the first seed's run is the exported model at <out>; the others train beside it, each evaluated on the same pairs
    const seeds = Array.from({ length: seedCount }, (_, i) => seed + i);
    const runs = seeds.map((s, i) => ({
      seed: s,
      config: i === 0 ? config : { ...config, seed: s, outDir: join(out, 'seeds', `seed-${s}`) },
    }));
    let trainSeconds = 0;
    let evalSeconds = 0;
    const evaluations: DemoEvaluation[] = [];
    let modelDir = '';
    for (const [i, run] of runs.entries()) {
      const of = seeds.length > 1 ? ` — seed ${run.seed} (${i + 1} of ${seeds.length})` : '';
      t = performance.now();
      console.log(`2/4 training stage 1 (${config.stage1.steps} steps) and stage 2 (${config.stage2.steps} steps)${of}…`);
      const result = await runTraining(run.config);
      for (const m of Object.values(result.modules)) m.dispose();
      trainSeconds += lap(t);
      if (!result.modelDir) throw new Error('training stopped before its last step');
      if (i === 0) modelDir = result.modelDir;
      t = performance.now();
      console.log(`3/4 evaluating baseline (FR branch) vs CATFace on unseen identities, clean and degraded${of}…`);
      // the pairs and degraded twins of the data seed, the same for every training seed
      evaluations.push(await evaluateDemo(result.modelDir, testDir, seed));
      evalSeconds += lap(t);
    }
    const evaluation = evaluations[0];
    const gains = PROTOCOLS.map((protocol) => {
      const differences = evaluations.map((e) => {
        const fused = e.correct.get(`${protocol}/fused`) as Uint8Array;
        const fr = e.correct.get(`${protocol}/fr`) as Uint8Array;
        return Float64Array.from(fused, (v, k) => v - fr[k]);
      });
      const interval = seedPairInterval(differences, evaluation.same, [-1, 1], seed);
      return { protocol, ...interval, verdict: verdictOf(interval) };
    });
    const single = seeds.length === 1;
    const verdictText = single
      ? `A single training seed (${seed}): the gains below are that one run's, and another seed can reverse them (rerun with --seeds 3 or more for a verdict).`
      : `Verdict over ${seeds.length} training seeds (${seeds.join(', ')}), each a full stage-1 + stage-2 run on the same data, all scored on the same pairs: CATFace − baseline, mean 10-fold accuracy difference with a 95% interval combining the spread over seeds (Student's t) and the sampling of pairs (paired bootstrap). "holds": the interval is above 0; "reversed": below 0; otherwise not resolved at this scale.`;
    t = performance.now();
    console.log('4/4 writing the report…');
    const total = lap(started);
    const report = await writeReport(join(out, 'report'), {
      title: single
        ? 'CATFace demo: FR-branch baseline vs CATFace on synthetic identities (one seed: no verdict)'
        : `CATFace demo: FR-branch baseline vs CATFace on synthetic identities, ${seeds.length} seeds`,
      subtitle: `${identities} training identities × ${values.images} images, ${evaluation.identities} unseen test identities; ${size} px, ${config.model.depth} widths ${config.model.widths.join('/')}, ${config.stage1.steps} + ${config.stage2.steps} steps, ${threads} threads`,
      sections: [
        {
          kind: 'table',
          title: single ? `CATFace − baseline, one seed (${seed})` : `CATFace − baseline over ${seeds.length} seeds`,
          columns: ['protocol', 'difference (mean over seeds)', 'per seed', 'verdict'],
          rows: gains.map((g) => [
            g.protocol,
            { value: g.value, low: g.low, high: g.high, percent: true },
            g.perSeed.map((v) => (100 * v).toFixed(2)).join(', '),
            single ? 'one seed: not a verdict' : g.verdict,
          ]),
          note: verdictText,
        },
        {
          kind: 'text',
          title: 'What ran',
          text: [
            `Synthetic faces (facesjs) with five attributes derived from each face (${config.data.attributes.join(', ')}). Stage 1 trained the multi-branch network on HQ images and their degraded twins (turbulence or unconstrained-imaging degradations, 50/50) with AdaFace (λ=${config.loss.lambdaFR}), attribute BCE (λ=${config.loss.lambdaSB}) and self-attention distillation (λ=${config.loss.lambdaDist}); stage 2 trained the ${config.model.fusion.toUpperCase()} fusion and fused head with the stage-1 network frozen.`,
            `The baseline is the FR branch's own embedding; CATFace is the fused embedding of the FR and SB branches. Degraded test images come from the same degradation pipeline with a fixed seed.`,
            `Wall time: synthesis ${formatDuration(synthSeconds)}, training ${formatDuration(trainSeconds)}, evaluation ${formatDuration(evalSeconds)}, total ${formatDuration(total)} (before this report).`,
            ...(single ? [] : [`The tables and figures below are the exported model's: the seed-${seed} run.`]),
          ].join('\n\n'),
        },
        ...evaluation.sections,
      ],
    });
    console.log('');
    console.log('protocol                          model                  accuracy   AUC      TAR@1e-2');
    for (const r of evaluation.rows) {
      console.log(
        `${r.protocol.padEnd(34)}${r.model.padEnd(23)}${percent(r.accuracy).padEnd(11)}${r.auc.toFixed(4).padEnd(9)}${percent(r.tarAt1e2)}`,
      );
    }
    console.log(single ? `\n(the table is one seed's: ${seed})` : `\n(the table is the exported model's, seed ${seed})`);
    for (const g of gains) {
      const per = single ? '' : ` (per seed ${g.perSeed.map((v) => (100 * v).toFixed(2)).join(', ')})`;
      console.log(
        `CATFace − baseline, ${g.protocol}: ${(100 * g.value).toFixed(2)} points [${(100 * g.low).toFixed(2)}, ${(100 * g.high).toFixed(2)}]${per}: ${single ? 'one seed, not a verdict' : `${g.verdict} over ${seeds.length} seeds`}`,
      );
    }
    console.log(
      `\nwall time ${formatDuration(lap(started))} (synthesis ${formatDuration(synthSeconds)}, training ${formatDuration(trainSeconds)}, evaluation ${formatDuration(evalSeconds)})`,
    );
    recordFolder(folder, entries);
    console.log(`model:  ${modelDir}`);
    console.log(`report: ${report.html}`);
    return 0;
  },
};
