// The features of the trunk's frozen start (the stem and the first `blocks` trunk blocks), computed once (config
// data.trunkCache). With that part frozen (model.frozen covers it), stage 1 and stage 2 only train what sits
// above it, so each training photo's HQ chip and K LQ twins go through it once, here, and training reads their
// features (fp16) instead of running it every step (`blocks` −1 caches the chips themselves, so the stem trains
// too and only the captures are saved). The LQ twins are made as a camera and the photo validation make them: a
// randomised whole-photo capture (src/degrade/photo-capture.ts) of the original photo, then the dlib chip warp
// with the clean photo's landmarks (`landmarks: 'clean'`: what validation does when detection fails on a degraded
// photo) or, as validation and a camera do, with those the chosen detector finds on the capture (`'detected'`). The frozen
// teacher's unit HQ embedding is cached too. With `mirrored`, the same chips flipped left-right are cached as
// well (features and teacher embedding), and training takes each sample in one orientation or the other: the
// horizontal-flip augmentation every face-recognition recipe uses. The cache lives in one folder of chunk files (each written
// durably, so an interrupted build resumes at the first missing chunk) and a settings.json that must match.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import sharp from 'sharp';
import { pixelsToNormalized } from '../common/image-convention.js';
import { mixSeed, Prng } from '../common/prng.js';
import { alignFace } from '../data/align/align-face.js';
import { type DetectorChoice, type FaceDetection, landmarksOnDegraded, loadDetector, type Point } from '../data/align/detect.js';
import { type FaceDataset, readImageBytes } from '../data/dataset.js';
import { IndexStream } from '../data/loader/sampler.js';
import { type CaptureDraw, capturePhoto, drawCapture, type PhotoCaptureConfig } from '../degrade/photo-capture.js';
import { photoTurbulence, type RgbPhoto } from '../degrade/photo-conditions.js';
import { forEachBounded } from '../io/bounded.js';
import { writeFileDurably } from '../io/durable.js';
import { loadSafetensors, serializeSafetensors } from '../nn/safetensors.js';
import type { Tensor } from '../torch/index.js';
import * as torch from '../torch/index.js';
import type { BatchSource, EmbeddingTeacher, TrainBatch } from './contracts.js';

export interface TrunkCacheSettings {
  /** Folder of the cache (chunk-NNNN.safetensors, settings.json). */
  dir: string;
  /** Root of the original photos the chips were aligned from (e.g. ../shared/data/lfw). */
  photos: string;
  /** The alignment manifest of the chips (catface align's manifest.json: source, output, box, landmarks per photo). */
  faces: string;
  /** Trunk blocks (after the stem) whose output is cached: these and the stem must be frozen. −1: the chips. */
  blocks: number;
  /** LQ twins per photo. */
  variants: number;
  capture: PhotoCaptureConfig;
  /** Which landmarks warp an LQ capture to its chip: the clean photo's, or those detected on the capture. */
  landmarks: 'clean' | 'detected';
  /** Cache the chips flipped left-right too, for the flip augmentation. */
  mirrored: boolean;
}

/** Photos per chunk file. */
const CHUNK = 128;
/** Photos captured concurrently. */
const CAPTURES_IN_FLIGHT = 8;
/** Chips per trunk forward. */
const FORWARD_BATCH = 32;

/** A training sample's key in the alignment manifest: its identity folder and file name. */
const keyOf = (path: string) => `${basename(dirname(path))}/${basename(path)}`;

interface FaceEntry {
  source: string;
  box: number[];
  landmarks: Point[];
}

function readFaces(path: string): Map<string, FaceEntry> {
  const manifest = JSON.parse(readFileSync(path, 'utf8')) as { entries?: (FaceEntry & { output: string })[] };
  if (!Array.isArray(manifest.entries)) throw new Error(`${path}: not an alignment manifest (no 'entries' list; made by catface align)`);
  return new Map(manifest.entries.map((e) => [e.output, e]));
}

async function decodePhoto(path: string): Promise<RgbPhoto> {
  const { data, info } = await sharp(path).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data), width: info.width, height: info.height };
}

async function decodeChip(bytes: Uint8Array, size: number, source: string): Promise<Uint8Array> {
  const { data, info } = await sharp(bytes).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  if (info.width !== size || info.height !== size)
    throw new Error(`${source}: chip is ${info.width}×${info.height}, expected ${size}×${size}`);
  return new Uint8Array(data);
}

// `landmarks` (and the detector) are written only when not the original 'clean', and `mirrored` only when set,
// so caches built before they existed stay valid.
const settingsJson = (s: TrunkCacheSettings, seed: number, imageSize: number, detector: string) =>
  JSON.stringify(
    {
      photos: s.photos,
      faces: s.faces,
      blocks: s.blocks,
      variants: s.variants,
      capture: s.capture,
      ...(s.landmarks === 'clean' ? {} : { landmarks: s.landmarks, detector }),
      ...(s.mirrored ? { mirrored: true } : {}),
      seed,
      imageSize,
    },
    null,
    1,
  );

/** Finds the face on a capture. */
export type CaptureDetector = (photo: RgbPhoto) => Promise<FaceDetection | undefined>;

/** The most confident face on a capture (score ≥ 0.3), found by the chosen detector (Human's when none). */
export async function captureDetector(choice?: DetectorChoice): Promise<{ detect: CaptureDetector; dispose(): Promise<void> }> {
  const detector = await loadDetector(choice, { maxFaces: 1 });
  return {
    detect: async (photo) => (await detector.detect(photo.data, photo.width, photo.height))[0],
    dispose: async () => {
      await detector.dispose?.();
    },
  };
}

/**
 * The HQ chip and the LQ twins of one training sample, as chips. With `detect`, each capture is warped with the
 * landmarks found on it (the clean ones where none overlaps the clean face: `fallbacks` counts them).
 */
export async function captureTwins(
  sample: { path: string; bytes: Uint8Array },
  face: FaceEntry,
  photosRoot: string,
  draws: CaptureDraw[],
  imageSize: number,
  turbulence: ReturnType<typeof photoTurbulence>,
  detect?: CaptureDetector,
): Promise<{ hq: Uint8Array; lq: Uint8Array[]; fallbacks: number }> {
  const hq = await decodeChip(sample.bytes, imageSize, sample.path);
  const photo = await decodePhoto(join(photosRoot, face.source));
  const lq: Uint8Array[] = [];
  let fallbacks = 0;
  for (const draw of draws) {
    const captured = await capturePhoto(photo, draw, face.box[2], turbulence);
    const { landmarks, fallback } = detect
      ? landmarksOnDegraded(await detect(captured), face)
      : { landmarks: face.landmarks, fallback: false };
    if (fallback) fallbacks++;
    lq.push(alignFace(captured.data, captured.width, captured.height, landmarks, { template: 'dlib', size: imageSize }).pixels);
  }
  return { hq, lq, fallbacks };
}

/** The chips as normalised images, flipped left-right when `mirror`. */
function chipImages(chips: Uint8Array[], size: number, mirror: boolean): Tensor {
  const images = pixelsToNormalized(chips, size);
  return mirror ? images.flip([3]) : images;
}

/** Trunk features (fp16) of chips, FORWARD_BATCH at a time. */
function trunkFeatures(trunk: (images: Tensor) => Tensor, chips: Uint8Array[], size: number, mirror: boolean): Tensor {
  return torch.tidy(() =>
    torch.noGrad(() => {
      const parts: Tensor[] = [];
      for (let i = 0; i < chips.length; i += FORWARD_BATCH)
        parts.push(trunk(chipImages(chips.slice(i, i + FORWARD_BATCH), size, mirror)).to('float16'));
      return torch.cat(parts);
    }),
  );
}

/**
 * Builds the missing chunks of the cache for `dataset` (in its sample order). `trunk` is the frozen shared
 * trunk on normalised images; `teacher` the frozen teacher. The LQ draws of sample i are a pure function of
 * (seed, i), so a resumed build equals an uninterrupted one.
 */
export async function buildTrunkCache(
  dataset: FaceDataset,
  settings: TrunkCacheSettings,
  ctx: {
    trunk: (images: Tensor) => Tensor;
    teacher: EmbeddingTeacher;
    seed: number;
    imageSize: number;
    /** Finds the faces of `landmarks: 'detected'` (Human's detector when none is chosen). */
    detector?: DetectorChoice;
    log?: (line: string) => void;
  },
): Promise<void> {
  mkdirSync(settings.dir, { recursive: true });
  const settingsPath = join(settings.dir, 'settings.json');
  const wanted = settingsJson(settings, ctx.seed, ctx.imageSize, ctx.detector?.kind ?? 'human');
  if (existsSync(settingsPath) && readFileSync(settingsPath, 'utf8') !== wanted)
    throw new Error(
      `${settingsPath}: the cache was built with other settings than data.trunkCache, seed and data.imageSize ask for; point data.trunkCache.dir at a new folder`,
    );
  writeFileDurably(settingsPath, wanted);
  const faces = readFaces(settings.faces);
  const missing = dataset.samples.filter((s) => s.image.kind !== 'file' || !faces.has(keyOf(s.image.path)));
  if (missing.length > 0)
    throw new Error(
      `${settings.faces}: no aligned face for ${missing.length} training sample(s) (first: ${missing[0].image.kind === 'file' ? missing[0].image.path : 'a RecordIO record'}); data.trunkCache needs image-folder chips made by catface align`,
    );
  const turbulence = photoTurbulence();
  const detector = settings.landmarks === 'detected' ? await captureDetector(ctx.detector) : null;
  const started = performance.now();
  try {
    const chunks = Math.ceil(dataset.samples.length / CHUNK);
    for (let c = 0; c < chunks; c++) {
      const file = join(settings.dir, `chunk-${String(c).padStart(4, '0')}.safetensors`);
      if (existsSync(file)) continue;
      const samples = dataset.samples.slice(c * CHUNK, (c + 1) * CHUNK);
      const twins: Awaited<ReturnType<typeof captureTwins>>[] = [];
      const draws: CaptureDraw[][] = [];
      // sharp's calls spend most of their time waiting for its thread pool: keep several photos in flight
      await forEachBounded(samples, CAPTURES_IN_FLIGHT, async (sample, j) => {
        const path = (sample.image as { path: string }).path;
        const prng = new Prng(mixSeed(ctx.seed, c * CHUNK + j));
        draws[j] = Array.from({ length: settings.variants }, () => drawCapture(prng, settings.capture));
        twins[j] = await captureTwins(
          { path, bytes: readImageBytes(sample.image) },
          faces.get(keyOf(path)) as FaceEntry,
          settings.photos,
          draws[j],
          ctx.imageSize,
          turbulence,
          detector?.detect,
        );
      });
      const captured = performance.now();
      const hq = twins.map((t) => t.hq);
      const lq = twins.flatMap((t) => t.lq);
      const bytes = torch.tidy(() => {
        const orientation = (mirror: boolean, prefix: string) => ({
          [`${prefix}hq`]: trunkFeatures(ctx.trunk, hq, ctx.imageSize, mirror),
          [`${prefix}lq`]: trunkFeatures(ctx.trunk, lq, ctx.imageSize, mirror),
          [`${prefix}teacher`]: torch.noGrad(() => ctx.teacher.embed(chipImages(hq, ctx.imageSize, mirror))).contiguous(),
        });
        return serializeSafetensors(
          { ...orientation(false, ''), ...(settings.mirrored ? orientation(true, 'mirrored.') : {}) },
          { keys: JSON.stringify(samples.map((s) => keyOf((s.image as { path: string }).path))), draws: JSON.stringify(draws) },
        );
      });
      writeFileDurably(file, bytes);
      const seconds = (performance.now() - started) / 1000;
      const forward = (performance.now() - captured) / 1000;
      const fallbacks = detector ? `, ${twins.reduce((n, t) => n + t.fallbacks, 0)}/${lq.length} captures on the clean landmarks` : '';
      ctx.log?.(
        `trunk cache: chunk ${c + 1}/${chunks} (${Math.min((c + 1) * CHUNK, dataset.samples.length)} photos) after ${seconds.toFixed(0)} s (this chunk's trunk and teacher: ${forward.toFixed(1)} s${fallbacks})`,
      );
    }
  } finally {
    turbulence.dispose();
    await detector?.dispose();
  }
}

/** Cached features, rows in the dataset's sample order: hq [N, C, h, w], lq [N, K, C, h, w] (fp16), teacher [N, E]. */
export interface CachedChips {
  hq: Tensor;
  lq: Tensor;
  teacher: Tensor;
}

/** The cached features of a dataset, and those of its chips flipped left-right when the cache holds them. */
export interface TrunkCache extends CachedChips {
  mirrored?: CachedChips;
  dispose(): void;
}

/** Reads every chunk of the cache at `dir`; its keys must be the dataset's samples, in order. */
export function loadTrunkCache(dir: string, dataset: FaceDataset): TrunkCache {
  const chunks = Math.ceil(dataset.samples.length / CHUNK);
  const parts = { '': { hq: [] as Tensor[], lq: [] as Tensor[], teacher: [] as Tensor[] } } as Record<
    string,
    Record<keyof CachedChips, Tensor[]>
  >;
  const keys: string[] = [];
  const joined = torch.tidy(() => {
    for (let c = 0; c < chunks; c++) {
      const file = join(dir, `chunk-${String(c).padStart(4, '0')}.safetensors`);
      if (!existsSync(file)) throw new Error(`${file}: missing; the trunk cache is incomplete (catface train builds it)`);
      const { tensors, metadata } = loadSafetensors(file);
      keys.push(...(JSON.parse(metadata.keys ?? '[]') as string[]));
      if (c === 0 && tensors.has('mirrored.hq')) parts['mirrored.'] = { hq: [], lq: [], teacher: [] };
      for (const [prefix, into] of Object.entries(parts)) {
        const chip = (name: keyof CachedChips) => {
          const t = tensors.get(`${prefix}${name}`);
          if (!t)
            throw new Error(`${file}: no '${prefix}${name}' tensor; the cache's chunks differ (point data.trunkCache.dir at a new folder)`);
          return t;
        };
        const n = chip('hq').shape[0];
        into.hq.push(chip('hq'));
        into.lq.push(chip('lq').view([n, -1, ...chip('lq').shape.slice(1)]));
        into.teacher.push(chip('teacher'));
      }
    }
    const cat = (into: Record<keyof CachedChips, Tensor[]>): CachedChips => ({
      hq: torch.cat(into.hq),
      lq: torch.cat(into.lq),
      teacher: torch.cat(into.teacher),
    });
    return { plain: cat(parts['']), mirrored: parts['mirrored.'] ? cat(parts['mirrored.']) : undefined };
  });
  const cache = joined.plain;
  const everything = [cache, joined.mirrored].flatMap((c) => (c ? [c.hq, c.lq, c.teacher] : []));
  const expected = dataset.samples.map((s) => (s.image.kind === 'file' ? keyOf(s.image.path) : ''));
  const bad = expected.findIndex((k, i) => keys[i] !== k);
  if (bad >= 0 || keys.length !== expected.length) {
    torch.dispose(everything);
    throw new Error(
      `${dir}: the cache's samples differ from the training set's (row ${bad}: ${keys[bad]} vs ${expected[bad]}); point data.trunkCache.dir at a new folder`,
    );
  }
  return { ...cache, ...(joined.mirrored ? { mirrored: joined.mirrored } : {}), dispose: () => torch.dispose(everything) };
}

/**
 * Batches of cached features: the HQ trunk features as `images`, one of the sample's LQ twins (drawn from
 * (seed, stream position), so a position restores the stream exactly) as `lq`, and the teacher's embedding.
 */
export class CachedTrunkSource implements BatchSource {
  private readonly stream: IndexStream;
  private position = 0;
  private readonly labels: number[];
  private readonly attributes: number[][];

  constructor(
    private readonly cache: TrunkCache,
    dataset: FaceDataset,
    private readonly options: { seed: number; mode: 'shuffled' | 'balanced'; imagesPerIdentity: number; blocks: number },
  ) {
    this.labels = dataset.samples.map((s) => s.label);
    this.attributes = dataset.samples.map((s) => s.attributes ?? []);
    this.stream = new IndexStream(this.labels, options);
  }

  async next(batchSize: number): Promise<TrainBatch> {
    const rows: number[] = [];
    const twins: number[] = [];
    const mirror: number[] = [];
    const variants = this.cache.lq.shape[1];
    for (let i = 0; i < batchSize; i++, this.position++) {
      const row = this.stream.at(this.position);
      const prng = new Prng(mixSeed(this.options.seed, this.position));
      rows.push(row);
      twins.push(row * variants + prng.index(variants));
      mirror.push(this.cache.mirrored ? prng.index(2) : 0);
    }
    return torch.tidy(() => {
      const index = torch.tensor(rows, { dtype: 'int64' });
      const twin = torch.tensor(twins, { dtype: 'int64' });
      const pick = (chips: CachedChips) => ({
        hq: chips.hq.indexSelect(0, index),
        lq: chips.lq.flatten(0, 1).indexSelect(0, twin),
        teacher: chips.teacher.indexSelect(0, index),
      });
      let chosen = pick(this.cache);
      if (this.cache.mirrored) {
        const flipped = pick(this.cache.mirrored);
        const mirrored = torch.tensor(mirror, { dtype: 'int64' }).eq(1);
        const where = (a: Tensor, b: Tensor) => torch.where(mirrored.view([-1, ...a.shape.slice(1).map(() => 1)]), b, a);
        chosen = { hq: where(chosen.hq, flipped.hq), lq: where(chosen.lq, flipped.lq), teacher: where(chosen.teacher, flipped.teacher) };
      }
      return {
        images: chosen.hq.float(),
        lq: chosen.lq.float(),
        teacher: chosen.teacher,
        rows: index,
        fromBlock: this.options.blocks,
        labels: torch.tensor(
          rows.map((r) => this.labels[r]),
          { dtype: 'int64' },
        ),
        attributes: torch.tensor(rows.map((r) => this.attributes[r])).float(),
      };
    });
  }

  state(): unknown {
    return { position: this.position };
  }

  restore(state: unknown): void {
    const position = (state as { position?: unknown })?.position;
    if (!Number.isInteger(position) || (position as number) < 0)
      throw new Error('trunk cache source: checkpoint state has no valid position');
    this.position = position as number;
  }
}
