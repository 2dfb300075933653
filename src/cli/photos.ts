// What the photo commands (verify, embed, attributes, detect) share: the model/detector flags, the photo list
// from files and folders, one face as JSON, and the table printer.
import { existsSync, statSync } from 'node:fs';
import { relative } from 'node:path';
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { type BadInputReport, DataError } from '../data/errors.js';
import { listImageTree } from '../data/readers/image-folder.js';
import { DETECTOR_KINDS, type DetectorKind } from '../serve/face-detectors.js';
import { BACKENDS, type Backend, FaceRecognizer, type RecognizedFace } from '../serve/face-recognizer.js';
import { choiceFlag, intFlag, numberFlag, RANGES } from './flags.js';

/** parseArgs options every photo command takes. */
export const RECOGNIZER_FLAGS = {
  model: { type: 'string' },
  'min-score': { type: 'string', default: '0.3' },
  detector: { type: 'string', default: 'onnx' },
  backend: { type: 'string', default: 'onnx' },
  'detection-side': { type: 'string', default: '640' },
  'max-pixels': { type: 'string', default: '50000000' },
  threads: { type: 'string', default: '1' },
} as const;

/** `--all-faces` and `--json`, taken by most photo commands. */
export const ALL_FACES_FLAG = { 'all-faces': { type: 'boolean', default: false } } as const;
export const JSON_FLAG = { json: { type: 'boolean', default: false } } as const;

/** Parses a photo command's arguments: positionals, the recognizer flags and the command's own `options`. */
/** parseArgs' option table (not exported by name from node:util). */
type OptionTable = NonNullable<ParseArgsConfig['options']>;

type PhotoArgsConfig<O extends OptionTable> = { args: string[]; allowPositionals: true; options: typeof RECOGNIZER_FLAGS & O };

export function parsePhotoArgs<const O extends OptionTable>(argv: string[], options: O): ReturnType<typeof parseArgs<PhotoArgsConfig<O>>> {
  return parseArgs<PhotoArgsConfig<O>>({
    args: argv,
    allowPositionals: true,
    options: { ...RECOGNIZER_FLAGS, ...options },
  });
}

export const RECOGNIZER_USAGE = [
  '  --model DIR           model directory (default: the model shipped with catface, models/default)',
  '  --min-score S         lowest face-detection score kept (0–1, default 0.3)',
  "  --detector NAME       onnx (default: BlazeFace + FaceMesh on onnxruntime), libtorch (the same on catface's",
  '                        engine) or human (the same on tfjs-wasm)',
  "  --backend NAME        the model's engine: onnx (default: onnxruntime) or libtorch",
  '  --detection-side N    detect on a copy of the photo shrunk to this longer side (64–8192, default 640)',
  '  --max-pixels N        refuse photos with more pixels than this (1–1e9, default 50000000)',
  '  --threads N           threads of the model and the detector (0–256, default 1, fastest one photo at a time; 0: as set',
  '                        by $CATFACE_THREADS or every core)',
];

/** `--detector`: one of DETECTOR_KINDS (default onnx). */
export const parseDetector = (value: string | undefined): DetectorKind => choiceFlag(value ?? 'onnx', 'detector', DETECTOR_KINDS);

/** `--backend`: one of BACKENDS (default onnx). */
export const parseBackend = (value: string | undefined): Backend => choiceFlag(value ?? 'onnx', 'backend', BACKENDS);

/** Opens the recognizer the flags describe. */
export function openRecognizer(values: {
  model?: string;
  'min-score'?: string;
  detector?: string;
  backend?: string;
  'detection-side'?: string;
  'max-pixels'?: string;
  threads?: string;
}): Promise<FaceRecognizer> {
  const threads = intFlag(values.threads, 'threads', { min: 0, max: RANGES.threads.max });
  return FaceRecognizer.open(values.model, {
    threads: threads > 0 ? threads : undefined,
    detector: parseDetector(values.detector),
    backend: parseBackend(values.backend),
    minScore: numberFlag(values['min-score'], 'min-score', { min: 0, max: 1 }),
    detectionSide: intFlag(values['detection-side'], 'detection-side', { min: 64, max: 8192 }),
    maxPixels: intFlag(values['max-pixels'], 'max-pixels', { min: 1, max: 1_000_000_000 }),
  });
}

export interface PhotoEntry {
  /** Path to read. */
  path: string;
  /** How results name it: relative to the folder it was found in, or the path as given. */
  file: string;
}

/** The photos named on the command line: files as given, folders walked (non-image files go to `report`). */
export function collectPhotos(args: readonly string[], report: BadInputReport): PhotoEntry[] {
  const photos: PhotoEntry[] = [];
  for (const arg of args) {
    if (existsSync(arg) && statSync(arg).isDirectory()) {
      for (const path of listImageTree(arg, report)) photos.push({ path, file: relative(arg, path) });
    } else {
      photos.push({ path: arg, file: arg });
    }
  }
  return photos;
}

/** One face as JSON: plain arrays, in the documented field order. */
export function faceJson(face: RecognizedFace) {
  return {
    box: face.box,
    landmarks: face.landmarks,
    score: face.score,
    quality: face.quality,
    embedding: Array.from(face.embedding),
    attributes: face.attributes,
  };
}

/** Left-aligned columns under a header. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/** A box as "x,y w×h" in whole pixels. */
export function formatBox(box: readonly number[]): string {
  return `${Math.round(box[0])},${Math.round(box[1])} ${Math.round(box[2])}×${Math.round(box[3])}`;
}

/** The message of a per-photo failure: DataErrors already name the file. */
export function failureReason(error: unknown): string {
  if (error instanceof DataError) return error.reason;
  return error instanceof Error ? error.message : String(error);
}

/** Prints the failures of a multi-photo run at the end (to stderr); returns the exit code. */
export function reportFailures(failures: { file: string; reason: string }[], ignored: BadInputReport): number {
  if (ignored.size > 0) console.error(`ignored ${ignored.size} non-image file(s):\n${ignored}`);
  if (failures.length === 0) return 0;
  console.error(`${failures.length} photo(s) failed:`);
  for (const f of failures) console.error(`  ${f.file}: ${f.reason}`);
  return 1;
}
