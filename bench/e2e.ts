// End-to-end benchmark, photo in → embedding out: decode → detect → align → embed, catface (FaceRecognizer on
// the shipped model, or --model, its forward on onnxruntime or --backend libtorch; detection by BlazeFace +
// FaceMesh on onnxruntime, or --detector libtorch, or human on tfjs-wasm) against face-api.js's own pipeline (SSD MobileNet v1 → 68 landmarks → dlib ResNet-34, tfjs wasm)
// on the same LFW validation photos (people of folds 9–10 of pairs.txt), in the same run, alternating the two
// over rounds. Reports batch-1 latency (median per round; median and min–max over rounds), CPU time per photo,
// catface's per-stage split, folder throughput (sequential, and catface pipelined: detection and the model
// each on a worker thread) and the load average. Ends with one line `RESULT {json}`.
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { detectFaces } from '../src/data/align/align-image.js';
import { decodePhoto } from '../src/data/decode.js';
import { readLfwPairs } from '../src/data/readers/pairs.js';
import { faceApiPhotoPipeline } from '../src/eval/peer-faceapi.js';
import { loadFaceApiDlibResNet } from '../src/models/dlib-resnet.js';
import { resolveModelDir } from '../src/models/model-dir.js';
import { createDetector, DETECTOR_KINDS, type DetectorKind } from '../src/serve/face-detectors.js';
import { FaceModel } from '../src/serve/face-model.js';
import { alignForModel, BACKENDS, type Backend, type CropModel, FaceRecognizer } from '../src/serve/face-recognizer.js';
import { OnnxFaceModel } from '../src/serve/onnx-face-model.js';
import * as torch from '../src/torch/index.js';
import { dlibCropModel } from '../test/helpers/dlib-crop-model.js';
import { median, positiveFlags } from './common.js';

const { values } = parseArgs({
  options: {
    photos: { type: 'string', default: '200' },
    rounds: { type: 'string', default: '3' },
    threads: { type: 'string', default: '1' },
    model: { type: 'string' },
    // face-api.js's dlib ResNet-34 run by catface on libtorch as the model (the shipped model's trunk), for when
    // no model directory with that backbone loads in this tree
    'dlib-weights': { type: 'boolean', default: false },
    'detection-side': { type: 'string', default: '640' },
    detector: { type: 'string', default: 'onnx' },
    backend: { type: 'string', default: 'onnx' },
  },
});
const detectorKind = values.detector as DetectorKind;
if (!DETECTOR_KINDS.includes(detectorKind)) throw new Error(`bench:e2e: --detector must be ${DETECTOR_KINDS.join(', ')}`);
const backend = values.backend as Backend;
if (!BACKENDS.includes(backend)) throw new Error(`bench:e2e: --backend must be ${BACKENDS.join(' or ')}`);
const flag = positiveFlags('bench:e2e', {
  ...values,
  model: undefined,
  'dlib-weights': undefined,
  detector: undefined,
  backend: undefined,
});
const count = flag('photos');
const rounds = flag('rounds');
const threads = flag('threads');
const detectionSide = flag('detection-side');
torch.setNumThreads(threads);

const lfwRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'shared', 'data', 'lfw');

/** `count` photos of the validation people (folds 9–10), spread evenly over them in name order. */
function validationPhotos(): string[] {
  const { pairs } = readLfwPairs(join(lfwRoot, 'pairs.txt'), lfwRoot, { checkFiles: false });
  const files = new Set<string>();
  for (const p of pairs) if (p.fold >= 8) for (const f of [p.a, p.b]) files.add(f);
  const all = [...files].sort();
  if (all.length < count) throw new Error(`bench:e2e: only ${all.length} validation photos, asked for ${count}`);
  return Array.from({ length: count }, (_, i) => all[Math.floor((i * all.length) / count)]);
}

const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

interface Pass {
  /** Median wall ms per photo. */
  ms: number;
  /** CPU ms (user + system, this process) per photo. */
  cpu: number;
  /** Photos per second over the pass. */
  rate: number;
  found: number;
}

async function timed(photos: Uint8Array[], run: (bytes: Uint8Array) => Promise<boolean>): Promise<Pass> {
  const times: number[] = [];
  let found = 0;
  const cpu0 = cpuMs();
  const start = performance.now();
  for (const bytes of photos) {
    const t0 = performance.now();
    if (await run(bytes)) found++;
    times.push(performance.now() - t0);
  }
  const wall = performance.now() - start;
  return { ms: median(times), cpu: (cpuMs() - cpu0) / photos.length, rate: (1000 * photos.length) / wall, found };
}

const files = validationPhotos();
const photos = files.map((f) => new Uint8Array(readFileSync(f)));
const dlib = values['dlib-weights'] ? loadFaceApiDlibResNet() : null;
const modelDir = dlib ? null : resolveModelDir(values.model);
const modelName = modelDir ?? "face-api.js's dlib ResNet-34 weights on libtorch";
const loadBefore = loadavg();
console.log(
  `${photos.length} LFW validation photos; model ${modelName} on ${dlib ? 'libtorch' : backend}; detector ${detectorKind}; threads ${threads}; ` +
    `face-api.js on tfjs wasm, 1 thread; load average ${loadBefore.map((l) => l.toFixed(1)).join(' ')}`,
);
/** The model under test, in this process. */
async function loadModel(): Promise<CropModel & { dispose(): void | Promise<void> }> {
  if (dlib) return { ...dlibCropModel(dlib), dispose: () => dlib.dispose() };
  if (backend === 'libtorch') return FaceModel.load(modelDir as string);
  const onnx = await OnnxFaceModel.open(modelDir as string, { threads });
  return Object.assign(onnx, { dispose: () => onnx.close() });
}
const inProcess = await loadModel();
const catface = await FaceRecognizer.withModel(inProcess, { detectionSide, detector: detectorKind, threads });
const faceapi = await faceApiPhotoPipeline();
const runCatface = async (bytes: Uint8Array) => (await catface.analyze(bytes)).faces.length > 0;
const runFaceApi = async (bytes: Uint8Array) => {
  const { full } = await decodePhoto(bytes, 'photo');
  return (await faceapi(full.data, full.width, full.height)) !== null;
};
for (const bytes of photos.slice(0, 3)) {
  await runCatface(bytes); // warm-up: first calls compile kernels and allocate
  await runFaceApi(bytes);
}

const passes: { catface: Pass[]; faceapi: Pass[] } = { catface: [], faceapi: [] };
for (let r = 0; r < rounds; r++) {
  const order = r % 2 === 0 ? (['catface', 'faceapi'] as const) : (['faceapi', 'catface'] as const);
  for (const system of order) {
    const pass = await timed(photos, system === 'catface' ? runCatface : runFaceApi);
    passes[system].push(pass);
    console.log(
      `round ${r + 1} ${system.padEnd(7)}: median ${pass.ms.toFixed(1)} ms/photo, CPU ${pass.cpu.toFixed(1)} ms/photo, ${pass.rate.toFixed(1)} photos/s, faces ${pass.found}/${photos.length}`,
    );
  }
}

// Where catface's time goes: the same stages run one by one.
const detector = await createDetector(detectorKind, { maxFaces: 20, maxSide: detectionSide }, threads);
const model = inProcess;
const stages = { decode: [] as number[], detect: [] as number[], align: [] as number[], embed: [] as number[] };
const stageCpu = { decode: 0, detect: 0, align: 0, embed: 0 };
for (const bytes of photos) {
  let t = performance.now();
  let c = cpuMs();
  const lap = (stage: keyof typeof stages) => {
    const [now, cpu] = [performance.now(), cpuMs()];
    stages[stage].push(now - t);
    stageCpu[stage] += (cpu - c) / photos.length;
    [t, c] = [now, cpu];
  };
  const decoded = await decodePhoto(bytes, 'photo', { detectionSide });
  lap('decode');
  const [face] = await detectFaces(detector, decoded);
  lap('detect');
  if (!face) continue;
  const crop = alignForModel(decoded.full, face.landmarks, model.alignment);
  lap('align');
  await model.analyzeCrops([crop]);
  lap('embed');
}
const split = Object.fromEntries(Object.entries(stages).map(([k, v]) => [k, median(v)]));
console.log(
  `catface stages, median wall ms (CPU ms per photo): ${Object.keys(stages)
    .map((k) => `${k} ${split[k].toFixed(1)} (${stageCpu[k as keyof typeof stageCpu].toFixed(1)})`)
    .join(', ')}`,
);
if ('dispose' in detector) await detector.dispose();
await catface.close();
await inProcess.dispose();

// Folder throughput with detection on a worker thread and the model on another: photos overlap across stages.
let pipelinedRate: number | null = null;
if (modelDir) {
  const pipelined = await FaceRecognizer.open(modelDir, { detectionSide, worker: true, threads, detector: detectorKind, backend });
  const inFlight = 2;
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < photos.length) await pipelined.analyze(photos[next++]);
    }),
  );
  pipelinedRate = (1000 * photos.length) / (performance.now() - start);
  await pipelined.close();
  console.log(`catface folder throughput, detector and model threads, ${inFlight} photos in flight: ${pipelinedRate.toFixed(1)} photos/s`);
}

const summary = (ps: Pass[], key: keyof Pass) => {
  const xs = ps.map((p) => p[key]);
  return { median: median(xs), min: Math.min(...xs), max: Math.max(...xs) };
};
const c = summary(passes.catface, 'ms');
const f = summary(passes.faceapi, 'ms');
const speedups = passes.catface.map((p, i) => passes.faceapi[i].ms / p.ms);
const cpuRatio = median(passes.faceapi.map((p) => p.cpu)) / median(passes.catface.map((p) => p.cpu));
console.log(
  `latency ms/photo: catface ${c.median.toFixed(1)} (${c.min.toFixed(1)}–${c.max.toFixed(1)}), face-api.js ${f.median.toFixed(1)} (${f.min.toFixed(1)}–${f.max.toFixed(1)}); speed-up ${median(speedups).toFixed(1)}× (${Math.min(...speedups).toFixed(1)}–${Math.max(...speedups).toFixed(1)}), CPU-time ratio ${cpuRatio.toFixed(1)}×`,
);
const loadAfter = loadavg();
console.log(`load average at the end ${loadAfter.map((l) => l.toFixed(1)).join(' ')}`);
const result = {
  photos: photos.length,
  detector: detectorKind,
  backend: dlib ? 'libtorch' : backend,
  load_average: { start: loadBefore, end: loadAfter },
  rounds,
  threads,
  model: modelName,
  catface_ms: c,
  faceapi_ms: f,
  speedup: { median: median(speedups), min: Math.min(...speedups), max: Math.max(...speedups) },
  cpu_ms_per_photo: { catface: median(passes.catface.map((p) => p.cpu)), faceapi: median(passes.faceapi.map((p) => p.cpu)) },
  cpu_ratio: cpuRatio,
  catface_stage_ms: split,
  catface_stage_cpu_ms: stageCpu,
  throughput_photos_s: {
    catface: median(passes.catface.map((p) => p.rate)),
    catface_pipelined: pipelinedRate,
    faceapi: median(passes.faceapi.map((p) => p.rate)),
  },
  faces_found: { catface: passes.catface[0].found, faceapi: passes.faceapi[0].found },
  target: { latency_ms: 50, speedup: 8 },
};
console.log(`RESULT ${JSON.stringify(result)}`);
