// `catface align`: detect and align every image of a folder tree into a cache of size×size PNGs with the
// same relative layout, a manifest (source, box, landmarks, score) and a report of images with no face or
// that failed. A re-run skips what the manifest says is done (aligned or no face) and retries failures.
import { copyFileSync, existsSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { Worker } from 'node:worker_threads';
import sharp from 'sharp';
import { DEFAULT_MAX_PIXELS } from '../decode.js';
import { BadInputReport, DataError } from '../errors.js';
import { writeFileAtomic } from '../files.js';
import { listImageTree } from '../readers/image-folder.js';
import { type AlignReply, type AlignRequest, alignOne } from './align-worker.js';
import { FaceDetector } from './detect.js';

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
  entries: AlignEntry[];
  noFace: string[];
  failed: { source: string; reason: string }[];
}

export interface AlignFolderOptions {
  /** Output size (default 112). */
  size?: number;
  /** Detector threads (default 2; 0 runs on this thread). */
  workers?: number;
  minScore?: number;
  maxPixels?: number;
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

function readManifest(path: string, size: number): AlignManifest {
  if (!existsSync(path)) return { size, entries: [], noFace: [], failed: [] };
  let manifest: AlignManifest;
  try {
    manifest = JSON.parse(readFileSync(path, 'utf8')) as AlignManifest;
  } catch (error) {
    throw new DataError(path, `unreadable manifest: ${(error as Error).message}`);
  }
  if (manifest.size !== size) throw new DataError(path, `cache was aligned at ${manifest.size} px, not ${size}; use another output folder`);
  return manifest;
}

function writeManifest(out: string, manifest: AlignManifest): void {
  writeFileAtomic(join(out, MANIFEST), `${JSON.stringify(manifest)}\n`);
  const lines = [
    `# ${manifest.entries.length} aligned, ${manifest.noFace.length} without a face, ${manifest.failed.length} failed`,
    ...manifest.noFace.map((s) => `no face: ${s}`),
    ...manifest.failed.map((f) => `failed: ${f.source}: ${f.reason}`),
  ];
  writeFileAtomic(join(out, REPORT), `${lines.join('\n')}\n`);
}

/** Runs requests on `workers` threads (or on this thread), calling `onReply` as each finishes. */
async function runPool(requests: AlignRequest[], workers: number, minScore: number, onReply: (reply: AlignReply) => void): Promise<void> {
  if (requests.length === 0) return;
  if (workers <= 0) {
    const detector = FaceDetector.create({ minScore });
    for (const request of requests) onReply(await alignOne(request, () => detector));
    return;
  }
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(workers, requests.length) }, () => {
      const worker = new Worker(new URL('./align-worker.js', import.meta.url));
      return new Promise<void>((resolve, reject) => {
        const feed = () => {
          if (next < requests.length) worker.postMessage(requests[next++]);
          else void worker.terminate().then(() => resolve());
        };
        worker.on('message', (reply: AlignReply) => {
          onReply(reply);
          feed();
        });
        worker.on('error', reject);
        feed();
      });
    }),
  );
}

/** Aligns the images under `inRoot` into `outRoot` (see the file comment). */
export async function alignFolder(inRoot: string, outRoot: string, options: AlignFolderOptions = {}): Promise<AlignSummary> {
  const size = options.size ?? 112;
  if (!existsSync(inRoot) || !statSync(inRoot).isDirectory()) throw new DataError(inRoot, 'not a directory');
  const start = performance.now();
  const report = new BadInputReport();
  const manifest = readManifest(join(outRoot, MANIFEST), size);
  const done = new Set([...manifest.entries.map((e) => e.source), ...manifest.noFace]);
  const sources = listImageTree(inRoot, report)
    .map((path) => relative(inRoot, path))
    .filter((source) => !options.filter || options.filter(source));
  const todo = sources.filter((s) => !done.has(s));
  manifest.failed = manifest.failed.filter((f) => !todo.includes(f.source));
  const requests: AlignRequest[] = todo.map((source, id) => ({
    id,
    source: join(inRoot, source),
    output: join(outRoot, source.replace(/\.[^./]+$/, '.png')),
    size,
    minScore: options.minScore ?? 0.3,
    maxPixels: options.maxPixels ?? DEFAULT_MAX_PIXELS,
  }));
  let finished = 0;
  let aligned = 0;
  await runPool(requests, options.workers ?? 2, options.minScore ?? 0.3, (reply) => {
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
  if (existsSync(join(inRoot, 'attributes.csv'))) copyFileSync(join(inRoot, 'attributes.csv'), join(outRoot, 'attributes.csv'));
  return {
    manifest,
    processed: todo.length,
    aligned,
    skipped: sources.length - todo.length,
    seconds: (performance.now() - start) / 1000,
    report,
  };
}
