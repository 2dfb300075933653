// Parity of the two engines on the whole photo pipeline: catface on onnxruntime (detector and model, the
// default) against catface on libtorch (both), on the LFW pairs of folds 9–10 (1,200 pairs): each photo goes
// through both pipelines (decode → detect → align → embed), and each pair's cosine similarity is compared:
// verdict changes at the model's shipped threshold, max and median |Δ similarity|, faces found. Ends with
// `RESULT {json}`.
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { readLfwPairs } from '../src/data/readers/pairs.js';
import { resolveModelDir } from '../src/models/model-dir.js';
import { verification } from '../src/serve/face-model.js';
import { type Backend, FaceRecognizer } from '../src/serve/face-recognizer.js';
import * as torch from '../src/torch/index.js';
import { median, positiveFlags } from './common.js';

const { values } = parseArgs({ options: { threads: { type: 'string', default: '1' }, model: { type: 'string' } } });
const threads = positiveFlags('bench:e2e-parity', { ...values, model: undefined })('threads');
torch.setNumThreads(threads);
const modelDir = resolveModelDir(values.model);
const lfwRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'shared', 'data', 'lfw');
const { pairs } = readLfwPairs(join(lfwRoot, 'pairs.txt'), lfwRoot, { checkFiles: false });
const validation = pairs.filter((p) => p.fold >= 8); // folds 9–10 (0-based 8, 9)
const files = [...new Set(validation.flatMap((p) => [p.a, p.b]))].sort();
const loadBefore = loadavg();
console.log(
  `${validation.length} pairs, ${files.length} photos; model ${modelDir}; threads ${threads}; load average ${loadBefore.map((l) => l.toFixed(1)).join(' ')}`,
);

/** Every photo's largest-face embedding (null: no face) through one engine's pipeline. */
async function embeddings(backend: Backend): Promise<{ byFile: Map<string, Float32Array | null>; threshold: number | null }> {
  const recognizer = await FaceRecognizer.open(modelDir, { backend, detector: backend, threads });
  const byFile = new Map<string, Float32Array | null>();
  const start = performance.now();
  for (const file of files)
    byFile.set(file, (await recognizer.analyze(new Uint8Array(readFileSync(file)), { source: file })).faces[0]?.embedding ?? null);
  console.log(`${backend}: ${files.length} photos in ${((performance.now() - start) / 1000).toFixed(1)} s`);
  const threshold = recognizer.threshold;
  await recognizer.close();
  return { byFile, threshold };
}

const onnx = await embeddings('onnx');
const libtorch = await embeddings('libtorch');
const threshold = onnx.threshold;
if (threshold === null) throw new Error('bench:e2e-parity: the model ships no threshold');
const deltas: number[] = [];
let changes = 0;
let skipped = 0;
for (const p of validation) {
  const [oa, ob, la, lb] = [onnx.byFile.get(p.a), onnx.byFile.get(p.b), libtorch.byFile.get(p.a), libtorch.byFile.get(p.b)];
  if (!(oa && ob && la && lb)) {
    skipped++;
    continue;
  }
  const [o, l] = [verification(oa, ob, threshold), verification(la, lb, threshold)];
  deltas.push(Math.abs(o.similarity - l.similarity));
  if (o.same !== l.same) changes++;
}
const found = (m: Map<string, Float32Array | null>) => [...m.values()].filter((e) => e !== null).length;
const result = {
  pairs: validation.length,
  pairs_compared: deltas.length,
  pairs_without_face: skipped,
  photos: files.length,
  faces_found: { onnx: found(onnx.byFile), libtorch: found(libtorch.byFile) },
  threshold,
  verdict_changes: changes,
  max_abs_similarity_delta: Math.max(...deltas),
  median_abs_similarity_delta: median(deltas),
  threads,
  load_average: { start: loadBefore, end: loadavg() },
};
console.log(
  `${deltas.length} pairs compared (${skipped} without a face in some pipeline): ${changes} verdict changes at ${threshold}, ` +
    `max |Δ similarity| ${result.max_abs_similarity_delta.toExponential(2)}, median ${result.median_abs_similarity_delta.toExponential(2)}`,
);
console.log(`RESULT ${JSON.stringify(result)}`);
