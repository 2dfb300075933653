// `catface ablate --study <name> --config base.json`: re-tests one of the paper's ablations with several seeds
// and confidence intervals (src/ablate/); prints the verdicts and the report's path.
import { parseArgs } from 'node:util';
import { runAblation } from '../ablate/runner.js';
import { findStudy, STUDIES } from '../ablate/studies.js';
import { readConfigJson } from '../train/config.js';
import { type Command, UsageError } from './command.js';
import { intFlag, RANGES } from './flags.js';

const pct = (v: number) => (100 * v).toFixed(2);

export const ablateCommand: Command = {
  name: 'ablate',
  summary: "re-run one of the paper's ablations over seeds: per-variant accuracy with CIs, paired differences, verdicts",
  usage: [
    'catface ablate --study <name> --config base.json [--seeds 3] [--out runs/ablate] [--resume] [--report-only] [--jobs 1]',
    '               [--threads 1] [--test DIR] [--identities 200] [--images 12] [--test-identities 60]',
    '               [--test-images 8] [--data-seed 1] [--eval-seed 1]',
    '',
    'Studies (each a reference variant and overrides of the base config, src/ablate/studies.ts):',
    ...STUDIES.map((s) => `  ${s.name.padEnd(13)} ${s.variants.map((v) => v.id).join(', ')} (reference ${s.reference})`),
    '',
    'Trains every variant with seeds 1…N (one child process per run, --jobs at once, each with --threads libtorch',
    'threads), evaluates each on the same pairs — clean, degraded, clean gallery vs degraded probe — and writes',
    '<out>/reports/<study>/index.html and summary.json: per variant the mean over seeds with a 95% interval, paired',
    'differences to the reference, ROC curves, and one verdict per paper claim (holds / reversed / not resolved).',
    'Without --test, synthetic identities are made under <out>/data (training: --identities × --images; test:',
    "--test-identities × --test-images, unseen people) and replace the config's data.train. With --test DIR (an",
    "aligned identity folder, e.g. real photos' chips) the config's data.train is used as it is.",
    'Runs live in <out>/runs/<config hash>/ (shared by studies whose runs coincide). A finished run is never redone;',
    'after an interruption, --resume continues (an unfinished run from its newest checkpoint: set',
    'checkpoint.every in the base config). Without --resume, a study whose runs already exist in <out> is refused.',
    '--report-only writes the report from the runs finished so far (the missing ones are listed) and trains nothing.',
    'Ranges: --seeds 1–100, --jobs 1–64, --threads 1–256, counts as for demo, seeds 0–2^53.',
  ].join('\n'),
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: {
        study: { type: 'string' },
        config: { type: 'string' },
        seeds: { type: 'string', default: '3' },
        out: { type: 'string', default: 'runs/ablate' },
        resume: { type: 'boolean', default: false },
        'report-only': { type: 'boolean', default: false },
        jobs: { type: 'string', default: '1' },
        threads: { type: 'string', default: '1' },
        test: { type: 'string' },
        identities: { type: 'string', default: '200' },
        images: { type: 'string', default: '12' },
        'test-identities': { type: 'string', default: '60' },
        'test-images': { type: 'string', default: '8' },
        'data-seed': { type: 'string', default: '1' },
        'eval-seed': { type: 'string', default: '1' },
      },
    });
    if (!values.study) throw new UsageError(`--study is required (one of ${STUDIES.map((s) => s.name).join(', ')})`);
    if (!values.config) throw new UsageError('--config base.json is required (e.g. configs/demo.json)');
    let study: ReturnType<typeof findStudy>;
    try {
      study = findStudy(values.study);
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    const seeds = intFlag(values.seeds, 'seeds', { min: 1, max: 100 });
    const count = (flag: 'identities' | 'images' | 'test-identities' | 'test-images', min: number) =>
      intFlag(values[flag], flag, { min, max: RANGES.identities.max });
    const options = {
      jobs: intFlag(values.jobs, 'jobs', { min: 1, max: 64 }),
      threads: intFlag(values.threads, 'threads', RANGES.threads),
      synth: {
        identities: count('identities', 10),
        images: count('images', 2),
        testIdentities: count('test-identities', 10),
        testImages: count('test-images', 2),
        seed: intFlag(values['data-seed'], 'data-seed', RANGES.seed),
      },
      evalSeed: intFlag(values['eval-seed'], 'eval-seed', RANGES.seed),
    };
    const result = await runAblation({
      study,
      base: readConfigJson(values.config),
      source: values.config,
      seeds: Array.from({ length: seeds }, (_, i) => i + 1),
      out: values.out,
      resume: values.resume,
      reportOnly: values['report-only'],
      testDir: values.test ?? null,
      log: (line) => console.log(line),
      ...options,
    });
    console.log('');
    for (const v of result.summary.variants) {
      const cells = Object.entries(v.accuracy).map(([p, i]) => `${p} ${pct(i.value)} [${pct(i.low)}, ${pct(i.high)}]`);
      console.log(`${v.id.padEnd(15)} ${v.seeds.length} seeds  ${cells.join('  ')}`);
    }
    for (const c of result.summary.claims) {
      const d = c.difference;
      console.log(
        `${c.verdict.padEnd(27)} ${c.text} (${c.source}, ${c.protocol})${d ? `: ${pct(d.value)} points [${pct(d.low)}, ${pct(d.high)}]` : ''}`,
      );
    }
    console.log(`report: ${result.html}`);
    if (result.failed.length > 0) {
      console.error(`${result.failed.length} run(s) failed:\n  ${result.failed.join('\n  ')}`);
      return 1;
    }
    return 0;
  },
};
