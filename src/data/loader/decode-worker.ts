// Worker thread of the loader: reads and decodes images, sending pixels back as transferred buffers.
import { parentPort } from 'node:worker_threads';
import sharp from 'sharp';
import { describeLocator, type ImageLocator, readImageBytes } from '../dataset.js';
import { type DecodeOptions, decodeImage } from '../decode.js';
import { DataError } from '../errors.js';

export interface DecodeRequest {
  id: number;
  image: ImageLocator;
  options: DecodeOptions;
}

export type DecodeReply = { id: number; pixels: Uint8Array } | { id: number; error: { file: string; reason: string; line?: number } };

sharp.concurrency(1); // one decode thread per worker: the pool size is the parallelism

parentPort?.on('message', async (request: DecodeRequest) => {
  try {
    const pixels = await decodeImage(readImageBytes(request.image), describeLocator(request.image), request.options);
    const copy = pixels.byteOffset === 0 && pixels.byteLength === pixels.buffer.byteLength ? pixels : pixels.slice();
    parentPort?.postMessage({ id: request.id, pixels: copy } satisfies DecodeReply, [copy.buffer as ArrayBuffer]);
  } catch (error) {
    const e = error instanceof DataError ? error : new DataError(describeLocator(request.image), String(error));
    parentPort?.postMessage({ id: request.id, error: { file: e.file, reason: e.reason, line: e.line } } satisfies DecodeReply);
  }
});
