// Which engine runs the service's model forward faster here: onnxruntime-node (`serve --backend onnx`) or libtorch
// (the default). Both run the shipped model (models/default, 150 px dlib chips, unless --model) through what the
// service calls, `analyzeCrops` on aligned uint8 crops (normalisation, forward, reading the outputs), at batch 1
// and 16, alternating which goes first over --rounds rounds in one process, with the same intra-op thread count.
// Per round: onnxruntime's images/s over libtorch's (> 1: onnxruntime faster) and the CPU ratio (libtorch's
// process CPU seconds per step over onnxruntime's; > 1: onnxruntime spends less). Ends with `RESULT {json}`.
import { parseArgs } from 'node:util';
import { resolveModelDir } from '../src/models/model-dir.js';
import { FaceModel } from '../src/serve/face-model.js';
import { OnnxFaceModel } from '../src/serve/onnx-face-model.js';
import * as torch from '../src/torch/index.js';
import {
  alternate,
  comparisonFields,
  describeComparison,
  loadAverage,
  median,
  positiveFlags,
  type StepTimes,
  timeSteps,
} from './common.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string' },
    rounds: { type: 'string', default: '5' },
    threads: { type: 'string', default: '1' },
    'steps-1': { type: 'string', default: '40' },
    'steps-16': { type: 'string', default: '5' },
    warmup: { type: 'string', default: '3' },
  },
});
const { model: modelFlag, ...counts } = values;
const flag = positiveFlags('bench:onnx', counts);
const rounds = flag('rounds');
const threads = flag('threads');
const warmup = flag('warmup');
const steps = { batch1: flag('steps-1'), batch16: flag('steps-16') };
const items = { batch1: 1, batch16: 16 };

const loadStart = loadAverage();
const dir = resolveModelDir(modelFlag);
torch.setNumThreads(threads);
const libtorch = FaceModel.load(dir);
const onnx = await OnnxFaceModel.open(dir, { threads });
const s = libtorch.imageSize;

// Seeded crops (the forward's cost does not depend on the pixels): 16 distinct faces-sized RGB images.
let state = 12345;
const crops = Array.from({ length: 16 }, () =>
  Uint8Array.from({ length: s * s * 3 }, () => {
    state = (state * 1103515245 + 12345) >>> 0;
    return state >>> 24;
  }),
);

// The two engines agree on these crops (what the parity tests check, here as a guard on what is timed).
const [a, b] = await Promise.all([onnx.analyzeCrops(crops.slice(0, 2)), libtorch.analyzeCrops(crops.slice(0, 2))]);
const agreement = Math.max(...a.flatMap((f, i) => Array.from(f.embedding, (v, j) => Math.abs(v - b[i].embedding[j]))));
if (!(agreement <= 1e-4)) throw new Error(`bench:onnx: the engines disagree by ${agreement} on the same crops`);

type Model = Pick<FaceModel, 'analyzeCrops'>;
async function measure(model: Model): Promise<Record<keyof typeof items, StepTimes>> {
  return {
    batch1: await timeSteps(() => model.analyzeCrops(crops.slice(0, 1)), warmup, steps.batch1),
    batch16: await timeSteps(() => model.analyzeCrops(crops), warmup, steps.batch16),
  };
}

console.log(`bench:onnx: ${dir} (${s} px), ${threads} thread(s), ${rounds} rounds, load average ${loadStart}`);
const result = await alternate({
  rounds,
  items,
  ours: () => measure(onnx),
  anchor: () => measure(libtorch),
  label: `${s}px, onnxruntime in the catface slot, libtorch in the anchor slot`,
});
const fields: Record<string, number | number[] | string> = {
  model: dir,
  image_size: s,
  threads,
  rounds,
  max_abs_embedding_difference: agreement,
  load_average_start: loadStart,
};
for (const key of Object.keys(items) as (keyof typeof items)[]) {
  const c = result[key];
  console.log(describeComparison(`${key} (onnxruntime vs libtorch)`, c));
  Object.assign(fields, {
    [`onnx_img_s_${key}`]: +median(c.ours).toFixed(2),
    [`libtorch_img_s_${key}`]: +median(c.anchor).toFixed(2),
    ...comparisonFields('onnx_vs_libtorch', `_${key}`, c),
  });
}
fields.load_average_end = loadAverage();
await onnx.close();
libtorch.dispose();
console.log(`RESULT ${JSON.stringify(fields)}`);
