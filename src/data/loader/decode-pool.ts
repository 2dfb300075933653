// A pool of decode workers (or in-thread decoding when `workers` is 0) so image decoding overlaps training.
import sharp from 'sharp';
import { WorkerPool } from '../../io/worker-pool.js';
import { describeLocator, type ImageLocator, readImageBytes } from '../dataset.js';
import { type DecodeOptions, decodeImage } from '../decode.js';
import { DataError } from '../errors.js';
import type { DecodeReply, DecodeRequest } from './decode-worker.js';

// sharp must be loaded by the main thread before any worker loads it.
void sharp.versions;

export class DecodePool {
  private readonly pool: WorkerPool<Omit<DecodeRequest, 'id'>, DecodeReply> | undefined;

  constructor(readonly size: number) {
    if (size > 0) this.pool = new WorkerPool(new URL('./decode-worker.js', import.meta.url), size);
  }

  /** Decodes one image to H×W×3 uint8 on the least busy worker. */
  async decode(image: ImageLocator, options: DecodeOptions): Promise<Uint8Array> {
    if (!this.pool) return decodeImage(readImageBytes(image), describeLocator(image), options);
    let reply: DecodeReply;
    try {
      reply = await this.pool.run({ image, options });
    } catch (error) {
      throw new DataError(describeLocator(image), `not decoded: the decode ${(error as Error).message}`);
    }
    if ('pixels' in reply) return reply.pixels;
    throw new DataError(reply.error.file, reply.error.reason, reply.error.line);
  }

  async close(): Promise<void> {
    await this.pool?.close();
  }
}
