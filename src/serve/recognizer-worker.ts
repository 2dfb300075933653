// The worker side of the service's inference: one FaceRecognizer (decode → detect → align → model) per
// worker, answering one job at a time. Errors travel back classified, so the HTTP layer can answer 400
// (undecodable photo), 413 (too many pixels) or 422 (no face) instead of 500.
import { fileURLToPath } from 'node:url';
import { DataError } from '../data/errors.js';
import { type Backend, FaceRecognizer, type ModelFacts, type PhotoAnalysis, type RecognizerOptions } from './face-recognizer.js';
import { modelFingerprint } from './model-fingerprint.js';
import { parentChannel } from './worker-port.js';

export const RECOGNIZER_WORKER_ENTRY = fileURLToPath(import.meta.url);
const FLAG = '--catface-recognizer-worker';

export interface WorkerSettings {
  modelDir: string;
  backend: Backend;
  recognizer: RecognizerOptions;
}

/** One photo to analyze (the largest face, or every face). */
export interface Job {
  photo: Uint8Array;
  allFaces: boolean;
}

export type FailureKind = 'bad_image' | 'too_many_pixels' | 'no_face' | 'internal';

export type WorkerMessage =
  | { type: 'ready'; spec: ModelFacts; fingerprint: string }
  | { type: 'failed'; error: string }
  | { type: 'done'; id: number; result: PhotoAnalysis }
  | { type: 'error'; id: number; kind: FailureKind; error: string };

/** Arguments that start this file as a worker. */
export function workerArgs(settings: WorkerSettings): string[] {
  return [FLAG, JSON.stringify(settings)];
}

function classify(err: unknown): FailureKind {
  if (!(err instanceof DataError)) return 'internal';
  if (/no face found/.test(err.reason)) return 'no_face';
  if (/too large/.test(err.reason)) return 'too_many_pixels';
  return 'bad_image';
}

async function serve(settings: WorkerSettings, channel: NonNullable<ReturnType<typeof parentChannel>>): Promise<void> {
  let recognizer: FaceRecognizer;
  try {
    recognizer = await FaceRecognizer.open(settings.modelDir, { ...settings.recognizer, backend: settings.backend });
    channel.send({ type: 'ready', spec: recognizer.spec, fingerprint: modelFingerprint(settings.modelDir) } satisfies WorkerMessage);
  } catch (err) {
    channel.send({ type: 'failed', error: (err as Error).message } satisfies WorkerMessage);
    return;
  }
  let queue = Promise.resolve();
  channel.onMessage((message) => {
    const { id, job } = message as { id: number; job: Job };
    queue = queue.then(async () => {
      try {
        const result = await recognizer.analyze(job.photo, { allFaces: job.allFaces, source: 'photo' });
        channel.send({ type: 'done', id, result } satisfies WorkerMessage);
      } catch (err) {
        channel.send({ type: 'error', id, kind: classify(err), error: (err as Error).message } satisfies WorkerMessage);
      }
    });
  });
}

const args = process.argv.slice(2);
if (args[0] === FLAG) {
  const channel = parentChannel();
  if (channel) await serve(JSON.parse(args[1]) as WorkerSettings, channel);
}
