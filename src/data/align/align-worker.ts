// Worker thread of `alignFolder`: one detector per thread, the one the request names (Human's when none), one
// intra-op thread each: the threads are the parallelism.
import { parentPort } from 'node:worker_threads';
import sharp from 'sharp';
import { writeFileDurably } from '../../io/durable.js';
import { DataError } from '../errors.js';
import { readInputFile } from '../files.js';
import type { AlignmentTemplate } from './align-face.js';
import { detectAndAlign } from './align-image.js';
import { type Detector, type DetectorChoice, loadDetector } from './detect.js';

export interface AlignRequest {
  id: number;
  source: string;
  output: string;
  size: number;
  template: AlignmentTemplate;
  minScore: number;
  maxPixels: number;
  /** The detector (default: Human's). */
  detector?: DetectorChoice;
}

export type AlignReply =
  | { id: number; kind: 'aligned'; box: number[]; landmarks: number[][]; score: number }
  | { id: number; kind: 'noface' }
  | { id: number; kind: 'failed'; reason: string };

sharp.concurrency(1);
let detector: Promise<Detector> | undefined;

/** Detects, aligns and writes one image; shared by the worker and the in-thread path. */
export async function alignOne(request: AlignRequest, getDetector: () => Promise<Detector>): Promise<AlignReply> {
  try {
    const bytes = readInputFile(request.source);
    const outcome = await detectAndAlign(
      await getDetector(),
      bytes,
      request.source,
      { template: request.template, size: request.size },
      request.maxPixels,
    );
    if (!outcome.face) return { id: request.id, kind: 'noface' };
    const png = await sharp(outcome.aligned.pixels, { raw: { width: request.size, height: request.size, channels: 3 } })
      .png()
      .toBuffer();
    writeFileDurably(request.output, png);
    return { id: request.id, kind: 'aligned', box: outcome.face.box, landmarks: outcome.face.landmarks, score: outcome.face.score };
  } catch (error) {
    return { id: request.id, kind: 'failed', reason: error instanceof DataError ? error.reason : String(error) };
  }
}

parentPort?.on('message', async (request: AlignRequest) => {
  detector ??= loadDetector(request.detector, { minScore: request.minScore }, 1);
  parentPort?.postMessage(await alignOne(request, () => detector as Promise<Detector>));
});
