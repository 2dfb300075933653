// `catface eval verify|identify|ijb`: the field's protocols on a catface model (--model DIR, through the
// inference API) or the face-api.js peer (--peer faceapi), as a human table or --json, optionally saved
// (--out result.json, for `catface report`) and drawn (--report DIR).

import { existsSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import { decodeImage } from '../data/decode.js';
import { readImageFolder } from '../data/readers/image-folder.js';
import { readLfwPairs, readPairList } from '../data/readers/pairs.js';
import { readVerificationBin } from '../data/readers/verification-bin.js';
import { PHOTO_CONDITIONS } from '../degrade/photo-conditions.js';
import { attributeMetrics } from '../eval/attributes.js';
import { bootstrap, weightedMean } from '../eval/bootstrap.js';
import { type Embedder, embedAll, type FlipFusion } from '../eval/embedding.js';
import { embedFiles } from '../eval/feature-cache.js';
import { firstImagesAsGallery, leaveOneOutSearch, type SearchResult, search } from '../eval/identification.js';
import { findIjbMeta, readFaceTidMid, readTemplatePairs } from '../eval/ijb.js';
import { pairScores } from '../eval/pair-scores.js';
import { faceApiEmbedder } from '../eval/peer-faceapi.js';
import { writeReport } from '../eval/report.js';
import { type EvalRecord, identificationRecord, reportFromRecords, saveRecord, verificationRecord } from '../eval/results.js';
import { farLabel, STANDARD_FARS } from '../eval/roc.js';
import {
  type IdentificationSummary,
  type MetricWithInterval,
  summarizeIdentification,
  summarizeVerification,
  type VerificationSummary,
} from '../eval/summary.js';
import { poolTemplates, templateRows } from '../eval/templates.js';
import { insightfaceDistanceThresholds } from '../eval/tenfold.js';
import { assertSeparate } from '../io/separate-paths.js';
import { modelDirStamp } from '../models/model-dir.js';
import { loadSafetensors } from '../nn/safetensors.js';
import { FaceModel } from '../serve/face-model.js';
import * as torch from '../torch/index.js';
import { type Command, UsageError } from './command.js';
import { evalPhotos, parsePhotoConditions } from './eval-photos.js';
import { choiceFlag, intFlag } from './flags.js';
import { parseDetector } from './photos.js';

const COMMON = [
  'Models (one of):',
  '  --model DIR        a catface model directory (catface train / demo output)',
  '  --peer faceapi     face-api.js descriptors (dlib ResNet-34, weights from its npm package, tfjs wasm)',
  'Options:',
  '  --fusion F         flip test-time fusion: sum (default), norm-weighted, none',
  '  --bootstrap N      bootstrap resamples for the 95% CIs: 0 (none) or 10–100000 (default 1000, ijb 0)',
  '  --cache DIR        cache embeddings of image files here (default ~/.cache/catface/embeddings)',
  '  --json             print the result as JSON instead of a table',
  '  --out FILE         save the result (JSON) for `catface report`',
  '  --report DIR       write an HTML report with figures for this result (new, empty or an earlier report)',
  '  --force            let --report write beside files catface did not make (deleting none of them)',
  'Outputs must not be, contain or lie inside an input (--bin, --root, --folder, --model…).',
];

const USAGE = [
  'catface eval verify   (--bin FILE | --pairs pairs.txt --root DIR | --list FILE --root DIR) <model> [options]',
  'catface eval identify --folder DIR [--protocol loo|first] <model> [options]',
  'catface eval ijb      --meta DIR (--features FILE | --images DIR <model>) [options]',
  'catface eval attributes --folder DIR --model DIR [--bootstrap N] [--json]',
  'catface eval photos   --faces MANIFEST [--model DIR] [--pairs N] [--people validation|holdout] [--faceapi-pairs N]',
  '                      [--conditions clean,down24,…] [--detector onnx|libtorch|human] [--faceapi-detector tiny|ssd]',
  '                      [--no-tenfold] [--out DIR]',
  '',
  'verify    pair verification: 10-fold accuracy (contiguous folds; threshold chosen on 9 folds), AUC, EER,',
  '          TAR@FAR 1e-6…1e-1 where the impostor count supports it. --bin reads insightface .bin files',
  '          (images 2i, 2i+1 form pair i), --pairs LFW pairs.txt, --list "pathA pathB same" lines.',
  "          --metric cosine (default) or distance (squared L2 with insightface's 0…4 threshold grid).",
  'identify  image-folder identification: --protocol loo (default: each image against all others) or',
  '          first (first image of each identity is the gallery, the rest are probes). CMC rank-1/5/20,',
  '          DIR@FAR when some probes have no gallery image.',
  'ijb       IJB-B/C 1:1 templates: per-image features (the rows of FILE\'s "embeddings" tensor, in the order',
  '          of *_face_tid_mid.txt; or aligned crops DIR/<image_name> embedded by the model) pooled into',
  '          templates, scored for every pair of *_template_pair_label.txt; TAR@FAR.',
  "attributes  accuracy and balanced accuracy of the model's attribute head against the folder's",
  "          attributes.csv (columns matched to the model's attribute names, ignoring case).",
  '',
  ...COMMON,
].join('\n');

const OPTIONS = {
  bin: { type: 'string' },
  pairs: { type: 'string' },
  list: { type: 'string' },
  root: { type: 'string' },
  folder: { type: 'string' },
  protocol: { type: 'string', default: 'loo' },
  meta: { type: 'string' },
  features: { type: 'string' },
  images: { type: 'string' },
  model: { type: 'string' },
  peer: { type: 'string' },
  fusion: { type: 'string', default: 'sum' },
  metric: { type: 'string', default: 'cosine' },
  bootstrap: { type: 'string' },
  cache: { type: 'string', default: join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'catface', 'embeddings') },
  json: { type: 'boolean', default: false },
  force: { type: 'boolean', default: false },
  out: { type: 'string' },
  report: { type: 'string' },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

/** A model directory as an Embedder: aligned crops → the model's default unit embedding and FR feature norm. */
export function modelEmbedder(dir: string): Embedder {
  const model = FaceModel.load(dir);
  // the stamp of the weights keys the embedding cache, so retraining into the same directory recomputes
  return { ...model.embedder(model.spec.defaultEmbedding, basename(dir.replace(/\/+$/, ''))), fingerprint: modelDirStamp(dir) };
}

async function chooseEmbedder(values: Values): Promise<Embedder> {
  if (values.model && values.peer) throw new UsageError('give either --model or --peer, not both');
  if (values.model) return modelEmbedder(values.model);
  if (values.peer === 'faceapi') return faceApiEmbedder();
  if (values.peer) throw new UsageError(`unknown --peer '${values.peer}' (known: faceapi)`);
  throw new UsageError('which model? give --model DIR or --peer faceapi');
}

function fusionOf(values: Values): FlipFusion {
  const f = values.fusion;
  if (f !== 'sum' && f !== 'norm-weighted' && f !== 'none') throw new UsageError(`--fusion must be sum, norm-weighted or none, got '${f}'`);
  return f;
}

/** Bootstrap resamples: --bootstrap, else `fallback` (1000; 0 for IJB, where each resample sweeps 15 M pairs per metric). */
function resamplesOf(values: Values, fallback = 1000): number {
  if (values.bootstrap === undefined) return fallback;
  const n = intFlag(values.bootstrap, 'bootstrap', { min: 0, max: 100_000 });
  if (n > 0 && n < 10) throw new UsageError(`--bootstrap must be 0 or an integer in 10–100000, got '${values.bootstrap}'`);
  return n;
}

function progress(label: string): (done: number, total: number) => void {
  return (done, total) => {
    if (process.stderr.isTTY) process.stderr.write(`\r${label} ${done}/${total}${done === total ? '\n' : ''}`);
  };
}

const pct = (m: MetricWithInterval | undefined): string => {
  if (!m || m.value === null) return '—';
  const ci = m.low !== undefined && m.high !== undefined ? ` [${(m.low * 100).toFixed(2)}, ${(m.high * 100).toFixed(2)}]` : '';
  return `${(m.value * 100).toFixed(2)}${ci}`;
};

function printVerification(model: string, dataset: string, s: VerificationSummary): void {
  console.log(`${model} on ${dataset}: ${s.pairs} pairs (${s.genuine} genuine, ${s.impostor} impostor); %, 95% bootstrap CI`);
  if (s.accuracy) console.log(`  10-fold accuracy  ${pct(s.accuracy)}  ± ${(s.accuracy.std * 100).toFixed(2)} (fold std)`);
  console.log(`  AUC               ${pct(s.auc)}`);
  console.log(`  EER               ${pct(s.eer)}`);
  for (const t of s.tarAtFar)
    console.log(`  TAR@FAR=${farLabel(t.far).padEnd(8)} ${t.value === null ? '— (too few impostor pairs)' : pct(t)}`);
}

function printIdentification(model: string, dataset: string, protocol: string, s: IdentificationSummary): void {
  console.log(`${model} on ${dataset} (${protocol}): ${s.probes} probes, ${s.matedProbes} mated; %, 95% bootstrap CI`);
  for (const r of s.ranks) console.log(`  rank-${String(r.rank).padEnd(3)} ${pct(r)}`);
  for (const d of s.dirAtFar)
    console.log(`  DIR@FAR=${farLabel(d.far).padEnd(6)} ${d.dir === null ? '— (too few non-mated probes)' : (d.dir * 100).toFixed(2)}`);
}

/** Refuses, before any work, an --out that is a folder and outputs that overlap an input. */
function checkOutputs(values: Values): void {
  if (values.out && existsSync(values.out) && statSync(values.out).isDirectory())
    throw new UsageError(`--out ${values.out} is a directory; give the result file to write, e.g. ${join(values.out, 'result.json')}`);
  const inputs = (['bin', 'pairs', 'list', 'root', 'folder', 'meta', 'features', 'images', 'model'] as const)
    .filter((flag) => values[flag] !== undefined)
    .map((flag) => ({ role: `--${flag}`, path: values[flag] as string }));
  const outputs = (['out', 'report'] as const)
    .filter((flag) => values[flag] !== undefined)
    .map((flag) => ({ role: `--${flag}`, path: values[flag] as string }));
  assertSeparate(outputs, inputs);
}

async function finish(values: Values, record: EvalRecord, print: () => void, json: unknown): Promise<number> {
  if (values.json) console.log(JSON.stringify(json, null, 2));
  else print();
  if (values.out) saveRecord(values.out, record);
  if (values.report) {
    const written = await writeReport(values.report, reportFromRecords(`${record.model} on ${record.dataset}`, [record]), values.force);
    if (!values.json) console.log(`report: ${written.html}`);
  }
  return 0;
}

async function verify(values: Values): Promise<number> {
  const sources = [values.bin, values.pairs, values.list].filter((v) => v !== undefined);
  if (sources.length !== 1) throw new UsageError('give exactly one of --bin, --pairs, --list');
  const metric = values.metric;
  if (metric !== 'cosine' && metric !== 'distance') throw new UsageError(`--metric must be cosine or distance, got '${metric}'`);
  const embedder = await chooseEmbedder(values);
  const fusion = fusionOf(values);
  let features: torch.Tensor;
  let left: Int32Array;
  let right: Int32Array;
  let labels: number[];
  let dataset: string;
  if (values.bin) {
    const set = readVerificationBin(values.bin);
    const size = embedder.imageSize;
    const source = values.bin;
    features = await embedAll(
      embedder,
      set.images.length,
      (i) => decodeImage(set.images[i], `${source} image ${i}`, { height: size, width: size }),
      {
        fusion,
        onProgress: progress('embedding'),
      },
    );
    left = Int32Array.from(set.issame, (_, i) => 2 * i);
    right = Int32Array.from(set.issame, (_, i) => 2 * i + 1);
    labels = set.issame.map((s) => (s ? 1 : 0));
    dataset = basename(values.bin);
  } else {
    if (!values.root) throw new UsageError('--pairs and --list need --root DIR (where the images are)');
    const list = values.pairs ? readLfwPairs(values.pairs, values.root) : readPairList(values.list as string, values.root);
    const files = [...new Set(list.pairs.flatMap((p) => [p.a, p.b]))];
    const rowOf = new Map(files.map((f, i) => [f, i]));
    features = await embedFiles(embedder, files, { fusion, cacheDir: values.cache, onProgress: progress('embedding') });
    left = Int32Array.from(list.pairs, (p) => rowOf.get(p.a) as number);
    right = Int32Array.from(list.pairs, (p) => rowOf.get(p.b) as number);
    labels = list.pairs.map((p) => (p.same ? 1 : 0));
    dataset = basename((values.pairs ?? values.list) as string);
  }
  const scores = pairScores(features, left, right, { metric: metric === 'cosine' ? 'cosine' : 'negative-squared-distance' });
  features.dispose();
  const summary = summarizeVerification(scores, labels, {
    bootstrap: { resamples: resamplesOf(values) },
    tenFold: metric === 'distance' ? { thresholds: insightfaceDistanceThresholds() } : true,
  });
  const record = verificationRecord(embedder.name, dataset, summary, scores, labels);
  return finish(values, record, () => printVerification(embedder.name, dataset, summary), {
    model: embedder.name,
    dataset,
    ...record.summary,
  });
}

async function identify(values: Values): Promise<number> {
  if (!values.folder) throw new UsageError('identify needs --folder DIR (one sub-folder per identity)');
  const protocol = values.protocol;
  if (protocol !== 'loo' && protocol !== 'first') throw new UsageError(`--protocol must be loo or first, got '${protocol}'`);
  const embedder = await chooseEmbedder(values);
  const dataset = readImageFolder(values.folder, { attributes: [] });
  const files = dataset.samples.map((s) => (s.image.kind === 'file' ? s.image.path : ''));
  const labels = dataset.samples.map((s) => s.label);
  const features = await embedFiles(embedder, files, {
    fusion: fusionOf(values),
    cacheDir: values.cache,
    onProgress: progress('embedding'),
  });
  let result: SearchResult;
  let galleryLabels: number[];
  let probeLabels: number[];
  if (protocol === 'loo') {
    result = leaveOneOutSearch(features, { k: 20 });
    galleryLabels = labels;
    probeLabels = labels;
  } else {
    const split = firstImagesAsGallery(labels);
    result = torch.tidy(() => {
      const gallery = features.indexSelect(0, torch.fromTypedArray(split.gallery));
      const probes = features.indexSelect(0, torch.fromTypedArray(split.probes));
      return search(gallery, probes, { k: 20 });
    });
    galleryLabels = Array.from(split.gallery, (i) => labels[i]);
    probeLabels = Array.from(split.probes, (i) => labels[i]);
  }
  features.dispose();
  const words = protocol === 'loo' ? 'leave-one-out' : 'first image per identity as gallery';
  const summary = summarizeIdentification(result, galleryLabels, probeLabels, { bootstrap: { resamples: resamplesOf(values) } });
  const name = basename(values.folder.replace(/\/+$/, ''));
  const record = identificationRecord(embedder.name, name, words, summary);
  return finish(values, record, () => printIdentification(embedder.name, name, words, summary), {
    model: embedder.name,
    dataset: name,
    protocol: words,
    ...record.summary,
  });
}

async function ijb(values: Values): Promise<number> {
  if (!values.meta)
    throw new UsageError('ijb needs --meta DIR (holding *_face_tid_mid.txt and *_template_pair_label.txt, or meta/ with them)');
  const files = findIjbMeta(values.meta);
  const images = readFaceTidMid(files.faceTidMid);
  const pairs = readTemplatePairs(files.templatePairLabel);
  let features: torch.Tensor;
  let model: string;
  if (values.features) {
    const { tensors } = loadSafetensors(values.features);
    const found = tensors.get('embeddings');
    if (found?.ndim !== 2 || found.shape[0] !== images.imageNames.length) {
      throw new UsageError(
        `${values.features}: needs an 'embeddings' tensor [${images.imageNames.length}, D] (one row per line of ${files.faceTidMid}), got ${found ? `[${found.shape}]` : 'none'}`,
      );
    }
    features = found;
    model = basename(values.features);
  } else if (values.images) {
    const embedder = await chooseEmbedder(values);
    const dir = values.images;
    features = await embedFiles(
      embedder,
      images.imageNames.map((n) => join(dir, n)),
      { fusion: fusionOf(values), cacheDir: values.cache, onProgress: progress('embedding') },
    );
    model = embedder.name;
  } else throw new UsageError('ijb needs --features FILE or --images DIR with a model');
  const pooled = poolTemplates(features, images.templateIds, images.mediaIds);
  features.dispose();
  const scores = pairScores(
    pooled.features,
    templateRows(pooled, pairs.left, files.templatePairLabel),
    templateRows(pooled, pairs.right, files.templatePairLabel),
  );
  pooled.features.dispose();
  const summary = summarizeVerification(scores, pairs.labels, {
    fars: STANDARD_FARS,
    tenFold: false,
    bootstrap: { resamples: resamplesOf(values, 0) },
  });
  const dataset = basename(files.templatePairLabel).replace(/_template_pair_label\.txt$/, '');
  const record = verificationRecord(model, dataset, summary, scores, pairs.labels);
  return finish(values, record, () => printVerification(model, dataset, summary), { model, dataset, ...record.summary });
}

async function attributes(values: Values): Promise<number> {
  if (!values.folder || !values.model) throw new UsageError('attributes needs --folder DIR (with attributes.csv) and --model DIR');
  const model = FaceModel.load(values.model);
  const dataset = readImageFolder(values.folder);
  const columns = model.spec.attributes.map((name) => dataset.attributeNames.findIndex((c) => c.toLowerCase() === name.toLowerCase()));
  const names = model.spec.attributes.filter((_, i) => columns[i] >= 0);
  if (names.length === 0) {
    throw new UsageError(`${values.folder}/attributes.csv has none of the model's attributes (${model.spec.attributes.join(', ')})`);
  }
  const k = names.length;
  const predictions = new Float32Array(dataset.samples.length * k);
  const labels = new Float32Array(dataset.samples.length * k);
  const batch = 64;
  for (let start = 0; start < dataset.samples.length; start += batch) {
    const part = dataset.samples.slice(start, start + batch);
    const input = await model.decode(part.map((s) => (s.image.kind === 'file' ? s.image.path : '')));
    const probabilities = torch.tidy(() => model.forwardTensor(input).attributes.dataSync() as Float32Array);
    input.dispose();
    const all = model.spec.attributes.length;
    part.forEach((sample, i) => {
      let j = 0;
      model.spec.attributes.forEach((_, a) => {
        if (columns[a] < 0) return;
        predictions[(start + i) * k + j] = probabilities[i * all + a];
        labels[(start + i) * k + j++] = (sample.attributes as number[])[columns[a]];
      });
    });
    progress('predicting')(start + part.length, dataset.samples.length);
  }
  const metrics = attributeMetrics(predictions, labels, names, 0.5).map((m, a) => {
    const correct = Array.from({ length: dataset.samples.length }, (_, s) =>
      (predictions[s * k + a] > 0.5 ? 1 : 0) === labels[s * k + a] ? 1 : 0,
    );
    const resamples = resamplesOf(values);
    const interval = resamples > 0 ? bootstrap(correct.length, weightedMean(correct), { resamples, seed: 1 }) : null;
    return { ...m, accuracyLow: interval?.low, accuracyHigh: interval?.high };
  });
  if (values.json)
    console.log(JSON.stringify({ model: basename(values.model), dataset: basename(values.folder), attributes: metrics }, null, 2));
  else {
    console.log(`${basename(values.model)} on ${basename(values.folder)}: ${dataset.samples.length} images; %, 95% bootstrap CI`);
    for (const m of metrics) {
      console.log(
        `  ${m.name.padEnd(12)} accuracy ${pct({ value: m.accuracy, low: m.accuracyLow, high: m.accuracyHigh })}  balanced ${(m.balancedAccuracy * 100).toFixed(2)}  (${m.positives}+ / ${m.negatives}−)`,
      );
    }
  }
  return 0;
}

/** `catface eval photos`: whole-photo conditions × (fused, FR, pretrained, face-api.js) on LFW validation people. */
async function photos(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      lfw: { type: 'string', default: '../shared/data/lfw' },
      faces: { type: 'string' },
      model: { type: 'string', default: 'models/default' },
      out: { type: 'string', default: 'runs/eval-photos' },
      pairs: { type: 'string', default: '100' },
      conditions: { type: 'string', default: PHOTO_CONDITIONS.join(',') },
      detector: { type: 'string', default: 'onnx' },
      'faceapi-detector': { type: 'string', default: 'tiny' },
      bootstrap: { type: 'string', default: '1000' },
      'no-tenfold': { type: 'boolean', default: false },
      people: { type: 'string', default: 'validation' },
      'faceapi-pairs': { type: 'string' },
    },
  });
  if (!values.faces) throw new UsageError('photos needs --faces MANIFEST (catface align <lfw> <chips> --template dlib --size 150)');
  const pairs = Number(values.pairs);
  if (!(Number.isInteger(pairs) && pairs > 0)) throw new UsageError(`--pairs must be a positive integer, got '${values.pairs}'`);
  if (values.people !== 'validation' && values.people !== 'holdout')
    throw new UsageError(`--people must be validation or holdout, got '${values.people}'`);
  const faceapiPairs = values['faceapi-pairs'] === undefined ? pairs : Number(values['faceapi-pairs']);
  if (!(Number.isInteger(faceapiPairs) && faceapiPairs >= 0))
    throw new UsageError(`--faceapi-pairs must be a non-negative integer, got '${values['faceapi-pairs']}'`);
  const faceapiDetector = choiceFlag(values['faceapi-detector'], 'faceapi-detector', ['ssd', 'tiny'] as const);
  // --detector named face-api.js's detector before catface's own detector took the photo commands' flag
  if (values.detector === 'ssd' || values.detector === 'tiny')
    throw new UsageError(
      `--detector is catface's detector (onnx, libtorch or human); face-api.js's is --faceapi-detector ${values.detector}`,
    );
  const detector = parseDetector(values.detector);
  return evalPhotos({
    lfw: values.lfw,
    faces: values.faces,
    model: values.model,
    out: values.out,
    pairs,
    conditions: parsePhotoConditions(values.conditions),
    detector,
    faceapiDetector,
    bootstrap: Number(values.bootstrap),
    tenfold: !values['no-tenfold'],
    people: values.people,
    faceapiPairs,
  });
}

export const evalCommand: Command = {
  name: 'eval',
  summary: 'evaluate a model or the face-api.js peer: pair verification, identification, IJB templates',
  usage: USAGE,
  async run(argv) {
    const [sub, ...rest] = argv;
    if (sub === 'photos') return photos(rest);
    const { values, positionals } = parseArgs({ args: rest, options: OPTIONS, allowPositionals: true });
    if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
    checkOutputs(values);
    if (sub === 'verify') return verify(values);
    if (sub === 'identify') return identify(values);
    if (sub === 'ijb') return ijb(values);
    if (sub === 'attributes') return attributes(values);
    throw new UsageError(
      sub ? `unknown eval protocol '${sub}' (verify, identify, ijb, attributes)` : 'which protocol? verify, identify, ijb or attributes',
    );
  },
};
