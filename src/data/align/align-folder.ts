// `catface align`: detect and align every image of a folder tree into a cache of size×size PNGs with the
// same relative layout, a manifest (source, box, landmarks, score) and a report of images with no face or
// that failed. A re-run skips what the manifest says is done (aligned or no face) and retries failures.
import { existsSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import sharp from 'sharp';
import { forEachBounded } from '../../io/bounded.js';
import { writeFileDurably } from '../../io/durable.js';
import { claimFolder, OWNER_FILE, recordFolder } from '../../io/owned-folder.js';
import { assertSeparate } from '../../io/separate-paths.js';
import { WorkerPool } from '../../io/worker-pool.js';
import { DEFAULT_MAX_PIXELS } from '../decode.js';
import { BadInputReport, DataError } from '../errors.js';
import { listImageTree, requireFolder } from '../readers/image-folder.js';
import type { AlignmentTemplate } from './align-face.js';
import { type AlignReply, type AlignRequest, alignOne } from './align-worker.js';
import { type DetectorChoice, loadDetector } from './detect.js';

void sharp.versions; // sharp must be loaded by the main thread before workers load it

export interface AlignEntry {
  /** Paths relative to the input and output roots. */
  source: string;
  output: string;
  box: number[];
  landmarks: number[][];
  score: number;
}

export interface AlignManifest {
  size: number;
  /** The template the crops are aligned to (absent in caches written before templates had names: 'arcface'). */
  template?: AlignmentTemplate;
  /** The detector that found the faces (`--detector`; absent in caches written before it was recorded). */
  detector?: string;
  entries: AlignEntry[];
  noFace: string[];
  failed: { source: string; reason: string }[];
}

export interface AlignFolderOptions {
  /** Output size (default 112). */
  size?: number;
  /** Template the crops are aligned to (default 'arcface'). */
  template?: AlignmentTemplate;
  /** Detector threads (default 2; 0 runs on this thread). */
  workers?: number;
  minScore?: number;
  maxPixels?: number;
  /** The face detector each thread builds (default: Human's on tfjs-wasm). */
  detector?: DetectorChoice;
  /** Write into a non-empty folder catface did not make (its files are left alone). */
  force?: boolean;
  /** Keep only the sources (relative paths) this accepts. */
  filter?: (source: string) => boolean;
  onProgress?: (done: number, total: number) => void;
}

export interface AlignSummary {
  manifest: AlignManifest;
  /** Images this run processed, and how many of them were aligned. */
  processed: number;
  aligned: number;
  /** Images already done by an earlier run. */
  skipped: number;
  seconds: number;
  /** Non-image files found in the tree. */
  report: BadInputReport;
}

const MANIFEST = 'manifest.json';
const REPORT = 'report.txt';

function readManifest(path: string, size: number, template: AlignmentTemplate, detector: string): AlignManifest {
  if (!existsSync(path)) return { size, template, detector, entries: [], noFace: [], failed: [] };
  let manifest: AlignManifest;
  try {
    manifest = JSON.parse(readFileSync(path, 'utf8')) as AlignManifest;
  } catch (error) {
    throw new DataError(path, `unreadable manifest: ${(error as Error).message}`);
  }
  if (manifest.size !== size) throw new DataError(path, `cache was aligned at ${manifest.size} px, not ${size}; use another output folder`);
  if ((manifest.template ?? 'arcface') !== template)
    throw new DataError(
      path,
      `cache was aligned to the ${manifest.template ?? 'arcface'} template, not ${template}; use another output folder`,
    );
  // one manifest, one detector: the engines agree within a pixel, but the record must say what found every face
  if (manifest.detector !== undefined && manifest.detector !== detector)
    throw new DataError(path, `cache's faces were found by the ${manifest.detector} detector, not ${detector}; use another output folder`);
  return manifest;
}

function writeManifest(out: string, manifest: AlignManifest): void {
  writeFileDurably(join(out, MANIFEST), `${JSON.stringify(manifest)}\n`);
  const lines = [
    `# ${manifest.entries.length} aligned, ${manifest.noFace.length} without a face, ${manifest.failed.length} failed`,
    ...manifest.noFace.map((s) => `no face: ${s}`),
    ...manifest.failed.map((f) => `failed: ${f.source}: ${f.reason}`),
  ];
  writeFileDurably(join(out, REPORT), `${lines.join('\n')}\n`);
}

/**
 * The output (relative .png path) of each source. Two sources that would land on one name (`x.jpg` and `x.png`)
 * are refused before anything is written, naming both: keeping one would silently lose the other.
 */
function outputNames(inRoot: string, sources: string[]): Map<string, string> {
  const outputs = new Map<string, string>();
  const byOutput = new Map<string, string>();
  const clashes: string[] = [];
  for (const source of sources) {
    const output = source.replace(/\.[^./]+$/, '.png');
    const other = byOutput.get(output);
    if (other !== undefined) clashes.push(`${join(inRoot, other)} and ${join(inRoot, source)} would both be written to ${output}`);
    byOutput.set(output, source);
    outputs.set(source, output);
  }
  if (clashes.length > 0)
    throw new DataError(inRoot, `${clashes.length} name collision(s); rename one file of each pair:\n  ${clashes.join('\n  ')}`);
  return outputs;
}

/** Runs requests on `workers` threads (or on this thread), calling `onReply` as each finishes. */
async function runPool(
  requests: AlignRequest[],
  workers: number,
  minScore: number,
  choice: DetectorChoice | undefined,
  onReply: (reply: AlignReply) => void,
): Promise<void> {
  if (requests.length === 0) return;
  if (workers <= 0) {
    const detector = loadDetector(choice, { minScore });
    try {
      for (const request of requests) onReply(await alignOne(request, () => detector));
    } finally {
      await (await detector.catch(() => null))?.dispose?.();
    }
    return;
  }
  const threads = Math.min(workers, requests.length);
  const pool = new WorkerPool<AlignRequest, AlignReply>(new URL('./align-worker.js', import.meta.url), threads);
  try {
    // two requests per thread in flight (one running, one waiting): a worker handles its messages concurrently, so
    // sending all of a 13,000-photo folder at once held every photo's decode and detector input (24 GB, killed)
    await forEachBounded(requests, 2 * threads, (request) =>
      pool.run(request).then(
        (reply) => onReply({ ...reply, id: request.id }),
        (error: Error) => onReply({ id: request.id, kind: 'failed', reason: `not aligned: the align ${error.message}` }),
      ),
    );
  } finally {
    await pool.close();
  }
}

/** Aligns the images under `inRoot` into `outRoot` (see the file comment). */
export async function alignFolder(inRoot: string, outRoot: string, options: AlignFolderOptions = {}): Promise<AlignSummary> {
  const size = options.size ?? 112;
  requireFolder(inRoot);
  assertSeparate([{ role: 'output folder', path: outRoot }], [{ role: 'input folder', path: inRoot }]);
  // a cache written before ownership records existed is recognised by its manifest
  const legacyCache = !existsSync(join(outRoot, OWNER_FILE)) && existsSync(join(outRoot, MANIFEST));
  const folder = claimFolder(outRoot, 'align', options.force || legacyCache);
  const start = performance.now();
  const report = new BadInputReport();
  const template = options.template ?? 'arcface';
  const manifest = readManifest(join(outRoot, MANIFEST), size, template, options.detector?.kind ?? 'human');
  const sources = listImageTree(inRoot, report)
    .map((path) => relative(inRoot, path))
    .filter((source) => !options.filter || options.filter(source));
  if (sources.length === 0 && !options.filter) throw new DataError(inRoot, 'no images found in this folder tree');
  const outputs = outputNames(inRoot, sources);
  if (!options.filter) {
    // sources gone from the input since the last run: their crops are stale (recordFolder deletes them)
    const present = new Set(sources);
    manifest.entries = manifest.entries.filter((e) => present.has(e.source));
    manifest.noFace = manifest.noFace.filter((s) => present.has(s));
    manifest.failed = manifest.failed.filter((f) => present.has(f.source));
  }
  const done = new Set([...manifest.entries.map((e) => e.source), ...manifest.noFace]);
  const todo = sources.filter((s) => !done.has(s));
  manifest.failed = manifest.failed.filter((f) => !todo.includes(f.source));
  const requests: AlignRequest[] = todo.map((source, id) => ({
    id,
    source: join(inRoot, source),
    output: join(outRoot, outputs.get(source) as string),
    size,
    template,
    minScore: options.minScore ?? 0.3,
    maxPixels: options.maxPixels ?? DEFAULT_MAX_PIXELS,
    detector: options.detector,
  }));
  let finished = 0;
  let aligned = 0;
  await runPool(requests, options.workers ?? 2, options.minScore ?? 0.3, options.detector, (reply) => {
    const source = todo[reply.id];
    if (reply.kind === 'aligned') {
      manifest.entries.push({
        source,
        output: relative(outRoot, requests[reply.id].output),
        box: reply.box,
        landmarks: reply.landmarks,
        score: reply.score,
      });
      aligned++;
    } else if (reply.kind === 'noface') manifest.noFace.push(source);
    else manifest.failed.push({ source, reason: reply.reason });
    finished++;
    options.onProgress?.(finished, todo.length);
    if (finished % 50 === 0) writeManifest(outRoot, manifest); // an interrupted run keeps its progress
  });
  manifest.entries.sort((a, b) => a.source.localeCompare(b.source, 'en', { numeric: true }));
  writeManifest(outRoot, manifest);
  // Identity attributes carry over, so the cache reads as an image folder like its source.
  const owned = [MANIFEST, REPORT, ...manifest.entries.map((e) => e.output)];
  if (existsSync(join(inRoot, 'attributes.csv'))) {
    writeFileDurably(join(outRoot, 'attributes.csv'), readFileSync(join(inRoot, 'attributes.csv')));
    owned.push('attributes.csv');
  }
  recordFolder(folder, owned);
  return {
    manifest,
    processed: todo.length,
    aligned,
    skipped: sources.length - todo.length,
    seconds: (performance.now() - start) / 1000,
    report,
  };
}
