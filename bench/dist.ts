// Data-parallel benchmark: stage-1 images/s (bench:train's 64 px step, global batch 32) for 1 rank × 2 threads
// and 2 ranks × 1 thread (batch 16 each, gradients averaged over Gloo), catface against PyTorch
// DistributedDataParallel (bench/dist_anchor.py, running the shared anchor's own model and step) in the same run,
// alternating over --rounds; and the all-reduce bandwidth of one 50 MB gradient between 2 ranks.
// Rates and CPU times are rank 0's (each rank does the same work). `--only overlap` instead compares catface's
// 2 ranks with gradient averaging overlapped with backward (distributed.overlap, the default) against averaging
// after backward, alternating, with each side's backward (+ averaging) seconds per step; it needs no PyTorch.
//   npm run bench:dist [-- --rounds 3 --steps 5 --warmup 2 --mb 50] [--only overlap]
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  alternate,
  anchorPath,
  comparisonFields,
  describeComparison,
  loadAverage,
  median,
  positiveFlags,
  pythonWithTorch,
  rateComparisonFields,
  type StepTimes,
} from './common.js';

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    steps: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '2' },
    mb: { type: 'string', default: '50' },
    port: { type: 'string', default: '29611' },
    only: { type: 'string', default: '' },
  },
});
const positive = positiveFlags('bench:dist', args);
const rounds = positive('rounds');
const steps = positive('steps');
const warmup = Number(args.warmup);
const mb = positive('mb');
const GLOBAL_BATCH = 32;
const CORES = 2;
const here = dirname(fileURLToPath(import.meta.url));
if (args.only !== '' && args.only !== 'overlap') throw new RangeError(`bench:dist: --only takes 'overlap', got '${args.only}'`);
const python = args.only ? null : pythonWithTorch(); // --only overlap runs no PyTorch
if (!args.only && !python) throw new Error('bench:dist: no python3 with torch (apt-get install python3-torch) for the PyTorch DDP anchor');
const anchorScript = join(here, '..', '..', 'bench', 'dist_anchor.py');
let port = Number(args.port);

/** Runs `world` ranks of a command (cores / world threads each) at once and returns rank 0's RESULT. */
async function ranks(world: number, command: string, argv: string[]): Promise<StepTimes & Record<string, unknown>> {
  port += 1; // a fresh rendezvous port per group: the last one may linger in TIME_WAIT
  const threads = String(CORES / world);
  const runs = Array.from(
    { length: world },
    (_, rank) =>
      new Promise<string>((resolve, reject) => {
        const child = spawn(command, argv, {
          env: {
            ...process.env,
            MASTER_ADDR: '127.0.0.1',
            MASTER_PORT: String(port),
            RANK: String(rank),
            WORLD_SIZE: String(world),
            LOCAL_RANK: String(rank),
            CATFACE_THREADS: threads,
            OMP_NUM_THREADS: threads,
          },
        });
        let out = '';
        let err = '';
        child.stdout.on('data', (d) => {
          out += d;
        });
        child.stderr.on('data', (d) => {
          err += d;
        });
        child.on('exit', (code) =>
          code === 0
            ? resolve(out)
            : reject(new Error(`bench:dist: rank ${rank} of ${command} ${argv.join(' ')} exited with ${code}: ${err.slice(-1500)}`)),
        );
      }),
  );
  const outputs = await Promise.all(runs);
  const line = outputs[0].split('\n').find((l) => l.startsWith('RESULT '));
  if (!line) throw new Error(`bench:dist: rank 0 printed no RESULT: ${outputs[0].slice(-500)}`);
  return JSON.parse(line.slice('RESULT '.length));
}

const catfaceRank = join(here, 'dist-rank.js');
const common = ['--steps', String(steps), '--warmup', String(warmup)];
const catface = (world: number, mode = 'stage1', overlap = 'on') =>
  ranks(world, process.execPath, [
    catfaceRank,
    '--mode',
    mode,
    '--batch',
    String(GLOBAL_BATCH / world),
    '--mb',
    String(mb),
    '--overlap',
    overlap,
    ...common,
  ]);
const pytorch = (world: number, mode = 'stage1') =>
  ranks(world, python as string, [
    anchorScript,
    '--anchor',
    anchorPath('pytorch_catface_bench.py'),
    '--mode',
    mode,
    '--batch',
    String(GLOBAL_BATCH / world),
    '--threads',
    String(CORES / world),
    '--mb',
    String(mb),
    ...common,
  ]);

const result: Record<string, unknown> = { rounds, steps, warmup, global_batch: GLOBAL_BATCH, load_average_start: loadAverage() };
const images = 2 * GLOBAL_BATCH; // HQ + LQ twins, as bench:train counts them

if (args.only === 'overlap') {
  // "catface" = overlap on, "anchor" = overlap off, in alternate()'s terms
  const backward = { on: [] as number[], off: [] as number[] };
  let buckets = 0;
  const run = async (overlap: 'on' | 'off') => {
    const r = await catface(2, 'stage1', overlap);
    backward[overlap].push(r.backward_s_per_step as number);
    if (overlap === 'on') buckets = r.buckets as number;
    return { ddp: r };
  };
  const c = await alternate({
    rounds,
    items: { ddp: images },
    label: 'stage 1, 2 ranks × 1 thread, overlap on vs off',
    ours: () => run('on'),
    anchor: () => run('off'),
  });
  Object.assign(result, {
    overlap_on_img_s: +median(c.ddp.ours).toFixed(3),
    overlap_off_img_s: +median(c.ddp.anchor).toFixed(3),
    ...comparisonFields('overlap_on_over_off', '', c.ddp),
    overlap_on_backward_s_per_step: +median(backward.on).toFixed(4),
    overlap_off_backward_s_per_step: +median(backward.off).toFixed(4),
    overlap_on_buckets: buckets,
    load_average_end: loadAverage(),
  });
  console.log(describeComparison('stage 1, 2 ranks × 1 thread: overlap on (catface) vs off (anchor)', c.ddp));
  console.log(`RESULT ${JSON.stringify(result)}`);
  process.exit(0);
}

const backwardSeconds: number[] = [];
let gradientMB = 0;
const stage1 = await alternate({
  rounds,
  items: { one: images, ddp: images },
  label: 'stage 1, 64px',
  ours: async () => {
    const one = await catface(1);
    const ddp = await catface(2);
    backwardSeconds.push(ddp.backward_s_per_step as number);
    gradientMB = ddp.gradient_mb as number;
    return { one, ddp };
  },
  anchor: async () => ({ one: await pytorch(1), ddp: await pytorch(2) }),
});
const bytes = mb; // MB per all-reduce
const bandwidth = await alternate({
  rounds,
  items: { allreduce: bytes },
  label: `all-reduce ${mb} MB, 2 ranks`,
  ours: async () => ({ allreduce: await catface(2, 'allreduce') }),
  anchor: async () => ({ allreduce: await pytorch(2, 'allreduce') }),
});
const scaling = (c: { ours: number[]; anchor: number[] }, d: { ours: number[]; anchor: number[] }) => ({
  catface: +(median(d.ours) / median(c.ours)).toFixed(3),
  pytorch: +(median(d.anchor) / median(c.anchor)).toFixed(3),
});
Object.assign(result, {
  ...rateComparisonFields('stage1_1rank_2threads', '', stage1.one),
  ...rateComparisonFields('stage1_2ranks_1thread', '', stage1.ddp),
  ddp_over_single: scaling(stage1.one, stage1.ddp),
  catface_gradient_mb: +gradientMB.toFixed(2),
  catface_backward_s_per_step: +median(backwardSeconds).toFixed(4),
  catface_allreduce_mb_s: +median(bandwidth.allreduce.ours).toFixed(1),
  pytorch_allreduce_mb_s: +median(bandwidth.allreduce.anchor).toFixed(1),
  ...comparisonFields('allreduce', '', bandwidth.allreduce),
  load_average_end: loadAverage(),
});
console.log(describeComparison('stage 1, 1 rank × 2 threads', stage1.one));
console.log(describeComparison('stage 1, 2 ranks × 1 thread (DDP)', stage1.ddp));
console.log(describeComparison(`all-reduce of ${mb} MB, 2 ranks`, bandwidth.allreduce, 'MB/s'));
console.log(`RESULT ${JSON.stringify(result)}`);
