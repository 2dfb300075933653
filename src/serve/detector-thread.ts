// A face detector on a worker thread: its inference (onnxruntime, libtorch or Human's tfjs-wasm) runs synchronously inside
// `detect`, so a server moves it here to keep its event loop free. Same `detect`/`maxSide` as the detector;
// requests answered in order.
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import type { DetectorOptions, FaceDetection } from '../data/align/detect.js';
import { createDetector, type DetectorKind } from './face-detectors.js';

type ThreadData = { options: DetectorOptions; kind: DetectorKind; threads?: number };

type Request = { id: number; rgb: Uint8Array; width: number; height: number };
type Reply = { id: number; faces: FaceDetection[] } | { id: number; error: string } | { ready: true } | { failed: string };

export class FaceDetectorThread {
  private readonly pending = new Map<number, { resolve(f: FaceDetection[]): void; reject(e: Error): void }>();
  private nextId = 0;

  private constructor(
    private readonly worker: Worker,
    readonly maxSide: number,
  ) {
    worker.on('message', (reply: Reply) => {
      if (!('id' in reply)) return;
      const entry = this.pending.get(reply.id);
      this.pending.delete(reply.id);
      if ('error' in reply) entry?.reject(new Error(reply.error));
      else entry?.resolve(reply.faces);
    });
    const failAll = (err: Error) => {
      for (const entry of this.pending.values()) entry.reject(err);
      this.pending.clear();
    };
    worker.on('error', failAll);
    worker.on('exit', (code) => failAll(new Error(`face detector thread exited (code ${code})`)));
  }

  /** Starts the thread and loads the detector in it (rejects with the loader's error). */
  static async create(options: DetectorOptions = {}, kind: DetectorKind = 'onnx', threads?: number): Promise<FaceDetectorThread> {
    const worker = new Worker(new URL(import.meta.url), {
      workerData: { catfaceDetector: { options, kind, threads } satisfies ThreadData },
    });
    const first = await new Promise<Reply>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    if ('failed' in first) {
      await worker.terminate();
      throw new Error(first.failed);
    }
    return new FaceDetectorThread(worker, options.maxSide ?? 1024);
  }

  /** Faces in an RGB image (height×width×3 uint8), most confident first. */
  detect(rgb: Uint8Array, width: number, height: number): Promise<FaceDetection[]> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, rgb, width, height } satisfies Request);
    });
  }

  async close(): Promise<void> {
    await this.worker.terminate();
  }
}

// Thread side: load the detector once, then answer requests one at a time.
if (!isMainThread && parentPort && workerData?.catfaceDetector) {
  const port = parentPort;
  try {
    const { options, kind, threads } = workerData.catfaceDetector as ThreadData;
    const detector = await createDetector(kind, options, threads);
    let queue = Promise.resolve();
    port.on('message', (request: Request) => {
      queue = queue.then(async () => {
        try {
          port.postMessage({ id: request.id, faces: await detector.detect(request.rgb, request.width, request.height) } satisfies Reply);
        } catch (err) {
          port.postMessage({ id: request.id, error: (err as Error).message } satisfies Reply);
        }
      });
    });
    port.postMessage({ ready: true } satisfies Reply);
  } catch (err) {
    port.postMessage({ failed: `face detector: ${(err as Error).message}` } satisfies Reply);
  }
}
