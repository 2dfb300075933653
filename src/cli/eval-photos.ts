// `catface eval photos`: validation on real low-quality faces (issue 11 item 6). Each condition of
// src/degrade/photo-conditions.ts is applied to the whole decoded LFW photo of a validation person, then each
// system runs its own pipeline on the same pixels: catface detects (`detector`, as the photo commands) and aligns to the dlib chip, then
// embeds with the model's fused embedding, its FR branch alone, and the pretrained dlib network alone;
// face-api.js runs its own detector + 68 landmarks + descriptor. Where detection fails on a degraded photo (no
// face, or a face not overlapping the clean one) the clean photo's face is reused, and counted.
// Metrics: every genuine and impostor pair among the photos (TAR@FAR, AUC; 95% bootstrap CIs over genuine
// pairs, thresholds fixed on the impostors), and the 10-fold accuracy on the standard pairs of folds 9–10.
// Embeddings are cached per condition under --out, so an interrupted run resumes.
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import sharp, { type OverlayOptions } from 'sharp';
import { pixelsToNormalized } from '../common/image-convention.js';
import { alignFace } from '../data/align/align-face.js';
import { boxIoU, type Detector, landmarksOnDegraded, type Point, SAME_FACE_MIN_IOU } from '../data/align/detect.js';
import { splitLfw } from '../data/lfw-split.js';
import { applyPhotoCondition, PHOTO_CONDITIONS, type PhotoCondition, photoTurbulence, type RgbPhoto } from '../degrade/photo-conditions.js';
import { bootstrap, weightedMean } from '../eval/bootstrap.js';
import { faceApiPipeline } from '../eval/peer-faceapi.js';
import { type ReportSection, writeReport } from '../eval/report.js';
import { auc, SortedScores, tarAtFar } from '../eval/roc.js';
import { tenFold } from '../eval/tenfold.js';
import { writeFileDurably } from '../io/durable.js';
import { loadFaceApiDlibResNet } from '../models/dlib-resnet.js';
import { createDetector, type DetectorKind } from '../serve/face-detectors.js';
import { FaceModel } from '../serve/face-model.js';
import * as torch from '../torch/index.js';
import { UsageError } from './command.js';
import { HOLDOUT_FOLD } from './lfw.js';

export const SYSTEMS = ['fused', 'fr', 'pretrained', 'faceapi'] as const;
type System = (typeof SYSTEMS)[number];
const FARS = [1e-3, 1e-2, 1e-1];

interface PhotoEntry {
  embeddings: Record<System, number[]>;
  /** catface reused the clean face; face-api reused its clean face. */
  fallback: boolean;
  faceapiFallback: boolean;
}
type Cache = Record<string, PhotoEntry>;

interface CleanFace {
  box: number[];
  landmarks: Point[];
}

export interface PhotoEvalOptions {
  lfw: string;
  faces: string;
  model: string;
  out: string;
  /** Photos of the first `pairs` genuine standard pairs of folds 9–10 carry the degraded conditions. */
  pairs: number;
  conditions: PhotoCondition[];
  /** catface's face detector on the degraded photos (as the photo commands' --detector). */
  detector: DetectorKind;
  /** face-api.js's own detector. */
  faceapiDetector: 'ssd' | 'tiny';
  bootstrap: number;
  /** Embed every photo of the 1,200 standard pairs in the clean condition for the 10-fold accuracy (default true). */
  tenfold: boolean;
  /** Whose photos: the validation people (folds 9–10), or the training people held out for checks (fold 8). */
  people: 'validation' | 'holdout';
  /** face-api.js runs on the photos of the first `faceapiPairs` genuine pairs only (its pipeline is slow; 0: not at all). */
  faceapiPairs: number;
}

const unit = (v: ArrayLike<number>): number[] => {
  const n = Math.hypot(...Array.from(v)) || 1;
  return Array.from(v, (x) => x / n);
};

async function decode(path: string): Promise<RgbPhoto> {
  const { data, info } = await sharp(path).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data), width: info.width, height: info.height };
}

/** Embeds every photo of one condition (resuming from the cache file). */
async function embedCondition(
  condition: PhotoCondition,
  photos: string[],
  o: PhotoEvalOptions,
  ctx: {
    clean: Map<string, CleanFace>;
    model: FaceModel;
    pretrained: ReturnType<typeof loadFaceApiDlibResNet>;
    detector: () => Promise<Detector>;
    faceapi: Awaited<ReturnType<typeof faceApiPipeline>> | null;
    faceapiPhotos: Set<string>;
    cleanFaceApi: Map<string, number[]>;
  },
): Promise<Cache> {
  const file = join(o.out, 'cache', `${condition}.json`);
  const cache: Cache = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : {};
  const todo = photos.filter((p) => !cache[p]);
  const turbulence = photoTurbulence();
  const chunk = 16;
  for (let start = 0; start < todo.length; start += chunk) {
    const batch = todo.slice(start, start + chunk);
    const chips: Uint8Array[] = [];
    const partial: { photo: string; fallback: boolean; faceapi: number[]; faceapiFallback: boolean }[] = [];
    for (const photo of batch) {
      const face = ctx.clean.get(photo) as CleanFace;
      const clean = await decode(join(o.lfw, photo));
      const seed = photos.indexOf(photo) + 1;
      const image = await applyPhotoCondition(clean, condition, face.box[2], turbulence, seed);
      let landmarks = face.landmarks;
      let fallback = false;
      if (condition !== 'clean') {
        const [found] = await (await ctx.detector()).detect(image.data, image.width, image.height);
        ({ landmarks, fallback } = landmarksOnDegraded(found, face));
      }
      chips.push(alignFace(image.data, image.width, image.height, landmarks, { template: 'dlib', size: 150 }).pixels);
      if (!ctx.faceapi || !ctx.faceapiPhotos.has(photo)) {
        partial.push({ photo, fallback, faceapi: [], faceapiFallback: false });
        continue;
      }
      const peer = await ctx.faceapi.describe(image.data, image.width, image.height);
      const cleanBox = ctx.cleanFaceApi.get(photo);
      let faceapiFallback = false;
      let descriptor: ArrayLike<number>;
      if (peer && (!cleanBox || boxIoU(peer.alignedBox, cleanBox) >= SAME_FACE_MIN_IOU)) {
        descriptor = peer.descriptor;
        if (condition === 'clean') ctx.cleanFaceApi.set(photo, peer.alignedBox);
      } else {
        faceapiFallback = true;
        const box = cleanBox ?? face.box; // no clean face-api face: catface's clean box
        descriptor = await ctx.faceapi.describeBox(image.data, image.width, image.height, box as [number, number, number, number]);
        if (condition === 'clean') ctx.cleanFaceApi.set(photo, box);
      }
      partial.push({ photo, fallback, faceapi: unit(descriptor), faceapiFallback });
    }
    const { fused, fr, pre } = torch.tidy(() =>
      torch.noGrad(() => {
        const input = pixelsToNormalized(chips, 150);
        const out = ctx.model.model.network.forward(input);
        const f = ctx.model.model.fusion ? ctx.model.model.fusion.forward(out.fr.map, out.sb.map).embedding : out.embedding;
        const p = ctx.pretrained.forward(input.add(1).mul(127.5));
        return {
          fused: f.dataSync() as Float32Array,
          fr: out.embedding.dataSync() as Float32Array,
          pre: torch.F.normalize(p, 2, 1).dataSync() as Float32Array,
        };
      }),
    );
    partial.forEach((p, i) => {
      const row = (a: Float32Array, d: number) => Array.from(a.subarray(i * d, (i + 1) * d));
      cache[p.photo] = {
        embeddings: { fused: row(fused, fused.length / batch.length), fr: row(fr, 128), pretrained: row(pre, 128), faceapi: p.faceapi },
        fallback: p.fallback,
        faceapiFallback: p.faceapiFallback,
      };
    });
    writeFileDurably(file, JSON.stringify(cache));
    process.stderr.write(`${condition}: ${Math.min(start + chunk, todo.length)}/${todo.length}\n`);
  }
  turbulence.dispose();
  return cache;
}

const dot = (a: number[], b: number[]) => a.reduce((s, v, i) => s + v * b[i], 0);

interface SystemMetrics {
  tar: { far: number; value: number | null; low: number; high: number; threshold: number | null }[];
  auc: { value: number; low: number; high: number };
  genuine: number;
  impostor: number;
  roc: { fpr: Float64Array; tpr: Float64Array };
}

/** Every pair among `photos` (identity = folder): TAR@FAR and AUC with bootstrap CIs over genuine pairs. */
function allPairs(photos: string[], cache: Cache, system: System, resamples: number): SystemMetrics {
  const scores: number[] = [];
  const labels: number[] = [];
  for (let i = 0; i < photos.length; i++)
    for (let j = i + 1; j < photos.length; j++) {
      scores.push(dot(cache[photos[i]].embeddings[system], cache[photos[j]].embeddings[system]));
      labels.push(dirname(photos[i]) === dirname(photos[j]) ? 1 : 0);
    }
  const roc = new SortedScores(scores, labels).roc();
  const genuine = scores.filter((_, k) => labels[k] === 1);
  const impostors = Float64Array.from(scores.filter((_, k) => labels[k] === 0)).sort();
  const below = (s: number) => {
    let lo = 0;
    let hi = impostors.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (impostors[mid] < s) lo = mid + 1;
      else hi = mid;
    }
    return lo / impostors.length;
  };
  const ranks = genuine.map(below);
  // resamples 0: no confidence intervals (the threshold calibration needs none)
  const ci = (values: number[]) =>
    resamples > 0 ? bootstrap(genuine.length, weightedMean(values), { resamples, seed: 1 }) : { low: Number.NaN, high: Number.NaN };
  const aucCi = ci(ranks);
  const tar = tarAtFar(roc, FARS).map((t) => {
    if (t.threshold === null) return { far: t.far, value: null, low: Number.NaN, high: Number.NaN, threshold: null };
    const hits = genuine.map((s) => (s >= (t.threshold as number) ? 1 : 0));
    const interval = ci(hits);
    return { far: t.far, value: t.tar, low: interval.low, high: interval.high, threshold: t.threshold };
  });
  return { tar, auc: { value: auc(roc), low: aucCi.low, high: aucCi.high }, genuine: genuine.length, impostor: impostors.length, roc };
}

export async function evalPhotos(o: PhotoEvalOptions): Promise<number> {
  const split = splitLfw(o.lfw);
  const rel = (p: string) => relative(split.root, p);
  const pairs = o.people === 'holdout' ? split.trainPairs.filter((p) => p.fold === HOLDOUT_FOLD) : split.validationPairs;
  const standard = pairs.map((p) => ({ a: rel(p.a), b: rel(p.b), same: p.same }));
  const everyPhoto = [...new Set(standard.flatMap((p) => [p.a, p.b]))];
  const photosOfPairs = (n: number) => [
    ...new Set(
      standard
        .filter((p) => p.same)
        .slice(0, n)
        .flatMap((p) => [p.a, p.b]),
    ),
  ];
  const subset = photosOfPairs(o.pairs);
  const faceapiSubset = photosOfPairs(Math.min(o.pairs, o.faceapiPairs));
  const manifest = JSON.parse(readFileSync(o.faces, 'utf8')) as { entries: { source: string; box: number[]; landmarks: Point[] }[] };
  const clean = new Map<string, CleanFace>(manifest.entries.map((e) => [e.source, { box: e.box, landmarks: e.landmarks }]));
  const known = [...clean.values()];
  const meanFace: CleanFace = {
    box: [0, 1, 2, 3].map((k) => known.reduce((s, f) => s + f.box[k], 0) / known.length),
    landmarks: [0, 1, 2, 3, 4].map((k) => [0, 1].map((d) => known.reduce((s, f) => s + f.landmarks[k][d], 0) / known.length) as Point),
  };
  const undetected = everyPhoto.filter((p) => !clean.has(p));
  for (const p of undetected) clean.set(p, meanFace); // LFW is deep-funneled: the mean face is where the face is
  const built: { detector?: ReturnType<typeof createDetector> } = {}; // loaded on the first degraded photo
  const ctx = {
    clean,
    model: FaceModel.load(o.model),
    pretrained: loadFaceApiDlibResNet(),
    detector: (): Promise<Detector> => {
      built.detector ??= createDetector(o.detector, { maxFaces: 1 });
      return built.detector;
    },
    faceapi: faceapiSubset.length > 0 ? await faceApiPipeline(o.faceapiDetector) : null,
    faceapiPhotos: new Set(faceapiSubset),
    cleanFaceApi: new Map<string, number[]>(),
  };
  const caches = new Map<PhotoCondition, Cache>();
  try {
    for (const condition of o.conditions) {
      const photos = condition === 'clean' && o.tenfold ? everyPhoto : subset;
      caches.set(condition, await embedCondition(condition, photos, o, ctx));
    }
  } finally {
    const detector = await built.detector?.catch(() => null);
    if (detector && 'dispose' in detector) await detector.dispose();
  }
  const results: Record<string, unknown>[] = [];
  const sections: ReportSection[] = [];
  for (const condition of o.conditions) {
    const cache = caches.get(condition) as Cache;
    const fallbacks = subset.filter((p) => cache[p].fallback).length;
    const peerFallbacks = faceapiSubset.filter((p) => cache[p].faceapiFallback).length;
    const curves = [];
    for (const system of SYSTEMS) {
      const photos = system === 'faceapi' ? faceapiSubset : subset;
      if (photos.length === 0) continue;
      const m = allPairs(photos, cache, system, o.bootstrap);
      let tenfold: { value: number; low: number; high: number } | null = null;
      if (condition === 'clean' && o.tenfold && system !== 'faceapi') {
        const scores = standard.map((p) => dot(cache[p.a].embeddings[system], cache[p.b].embeddings[system]));
        const r = tenFold(
          scores,
          standard.map((p) => p.same),
        );
        const ci = bootstrap(r.correct.length, weightedMean(r.correct), { resamples: o.bootstrap, seed: 1 });
        tenfold = { value: r.accuracy, low: ci.low, high: ci.high };
      }
      curves.push({ label: system, fpr: m.roc.fpr, tpr: m.roc.tpr });
      results.push({
        condition,
        system,
        photos: photos.length,
        genuine: m.genuine,
        impostor: m.impostor,
        tar: m.tar,
        auc: m.auc,
        tenfold,
        detectionFallback: system === 'faceapi' ? peerFallbacks : fallbacks,
      });
    }
    sections.push({ kind: 'roc', title: `ROC, ${condition} (${subset.length} photos, all pairs)`, curves });
  }
  // the calibrated threshold: the model's default embedding, clean, all pairs among every validation photo
  const people = o.people === 'holdout' ? `fold ${HOLDOUT_FOLD + 1} (held-out training people)` : 'folds 9–10 (validation people)';
  const cleanCache = caches.get('clean');
  let threshold: { cosine: number | null; far: number; photos: number } | null = null;
  if (cleanCache && o.tenfold) {
    const m = allPairs(everyPhoto, cleanCache, ctx.model.spec.defaultEmbedding === 'fused' ? 'fused' : 'fr', 0);
    threshold = { cosine: m.tar[0].threshold, far: 1e-3, photos: everyPhoto.length };
  }
  const cell = (v: number | null, low?: number, high?: number) => ({ value: v, low, high, percent: true });
  const table = (condition: PhotoCondition) =>
    results
      .filter((r) => r.condition === condition)
      .map((r) => {
        const tar = r.tar as SystemMetrics['tar'];
        const a = r.auc as SystemMetrics['auc'];
        const t = r.tenfold as { value: number; low: number; high: number } | null;
        return [
          condition,
          r.system as string,
          ...tar.map((x) => cell(x.value, x.low, x.high)),
          cell(a.value, a.low, a.high),
          t ? cell(t.value, t.low, t.high) : '—',
          `${r.detectionFallback}/${r.photos} photos`,
        ];
      });
  sections.unshift({
    kind: 'table',
    title: 'Validation people, all pairs among the photos (TAR@FAR %, AUC %, 95% bootstrap CI over genuine pairs)',
    columns: ['condition', 'system', 'TAR@1e-3', 'TAR@1e-2', 'TAR@1e-1', 'AUC', '10-fold acc (1,200 std pairs)', 'clean-face reuse'],
    rows: o.conditions.flatMap(table),
    note: `${subset.length} photos (the first ${o.pairs} genuine standard pairs of ${people}); 10-fold accuracy on all ${standard.length} standard pairs (${everyPhoto.length} photos, ${undetected.length} with no clean catface detection took the mean LFW face) is computed for clean only, not for face-api.js. catface detects with ${o.detector}. face-api.js: ${o.faceapiDetector} detector + 68 landmarks + descriptor, on the ${faceapiSubset.length} photos of the first ${Math.min(o.pairs, o.faceapiPairs)} genuine pairs.`,
  });
  const sheet = await exampleSheet(
    subset.slice(0, 3).map((p) => ({ path: join(o.lfw, p), faceWidth: (clean.get(p) as CleanFace).box[2], seed: subset.indexOf(p) + 1 })),
    o.conditions,
  );
  if (sheet) {
    // beside the report folder, which holds only what writeReport wrote
    writeFileDurably(join(o.out, 'examples.png'), sheet);
    sections.push({
      kind: 'text',
      title: 'Example photos per condition',
      text: `../examples.png: one row per photo, one column per condition (${o.conditions.join(', ')}): the whole photo as the detectors see it.`,
    });
  }
  const written = await writeReport(join(o.out, 'report'), {
    title: 'catface on real low-quality faces (LFW validation people)',
    subtitle: basename(o.model),
    sections,
  });
  const html = readFileSync(written.html, 'utf8');
  writeFileDurably(
    written.html,
    html.replace('<footer>', '<section><h2>Example photos</h2><img src="../examples.png" alt="examples"></section>\n<footer>'),
  );
  const summary = {
    model: o.model,
    people: o.people,
    photos: subset.length,
    faceapiPhotos: faceapiSubset.length,
    conditions: o.conditions,
    detector: o.detector,
    faceapiDetector: o.faceapiDetector,
    threshold,
    results,
  };
  writeFileDurably(join(o.out, 'result.json'), `${JSON.stringify(summary, null, 1)}\n`);
  console.log(`report: ${written.html}`);
  ctx.model.dispose();
  return 0;
}

/** One row per example photo, one column per condition (the whole photo as the detectors see it), 200 px cells. */
async function exampleSheet(
  photos: { path: string; faceWidth: number; seed: number }[],
  conditions: PhotoCondition[],
): Promise<Uint8Array | null> {
  if (photos.length === 0) return null;
  const cell = 200;
  const tiles: OverlayOptions[] = [];
  const turbulence = photoTurbulence();
  for (const [r, photo] of photos.entries())
    for (const [c, condition] of conditions.entries()) {
      const image = await applyPhotoCondition(await decode(photo.path), condition, photo.faceWidth, turbulence, photo.seed);
      const input = await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
        .resize(cell, cell, { fit: 'contain' })
        .png()
        .toBuffer();
      tiles.push({ input, left: c * cell, top: r * cell });
    }
  turbulence.dispose();
  return new Uint8Array(
    await sharp({ create: { width: cell * conditions.length, height: cell * photos.length, channels: 3, background: '#ffffff' } })
      .composite(tiles)
      .png()
      .toBuffer(),
  );
}

export function parsePhotoConditions(text: string): PhotoCondition[] {
  const list = text.split(',').map((s) => s.trim()) as PhotoCondition[];
  for (const c of list)
    if (!PHOTO_CONDITIONS.includes(c)) throw new UsageError(`unknown condition '${c}' (${PHOTO_CONDITIONS.join(', ')})`);
  if (list[0] !== 'clean') throw new UsageError('the conditions must start with clean (degraded photos reuse its faces)');
  return list;
}
