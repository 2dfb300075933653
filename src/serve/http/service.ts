// The running service: the gallery file, the token check, the HTTP app listening at once (503 until the
// model has loaded in its workers), and a graceful stop: no new connections, requests in flight answered,
// the inference queue drained, the workers stopped, the gallery closed.
import type { FastifyInstance } from 'fastify';
import { Gallery, type GalleryOptions } from '../gallery.js';
import { InferencePool, type PoolOptions } from '../inference-pool.js';
import { buildApp, type ServiceLimits } from './app.js';
import type { TokenAuth } from './auth.js';

export interface ServiceConfig {
  host?: string;
  port?: number;
  galleryFile: string;
  gallery?: GalleryOptions;
  pool: PoolOptions;
  auth: TokenAuth;
  limits?: ServiceLimits;
  logger?: boolean;
}

export interface Service {
  app: FastifyInstance;
  gallery: Gallery;
  /** `http://host:port`. */
  url: string;
  /** Resolves when the model has loaded (rejects with the loader's error). */
  ready: Promise<InferencePool>;
  close(): Promise<void>;
}

export async function startService(config: ServiceConfig): Promise<Service> {
  const gallery = Gallery.open(config.galleryFile, config.gallery);
  let pool: InferencePool | null = null;
  const app = await buildApp({ pool: () => pool, gallery, auth: config.auth, limits: config.limits, logger: config.logger });
  const ready = InferencePool.start(config.pool).then((p) => {
    pool = p;
    return p;
  });
  ready.catch(() => {}); // the caller decides what a failed load means; never an unhandled rejection
  let address: string;
  try {
    address = await app.listen({ host: config.host ?? '127.0.0.1', port: config.port ?? 8080 });
  } catch (err) {
    gallery.close();
    await ready.then(
      (p) => p.close(),
      () => {},
    );
    throw err;
  }
  let closing: Promise<void> | null = null;
  return {
    app,
    gallery,
    url: address,
    ready,
    close: () => {
      closing ??= (async () => {
        const stopping = app.close(); // stops accepting; waits for requests in flight
        await ready.then(
          (p) => p.close(),
          () => {},
        );
        await stopping;
        gallery.close();
      })();
      return closing;
    },
  };
}
