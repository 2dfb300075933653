// The HTTP face service (fastify): recognition (verify, identify, analyze, embed), the gallery
// (identities and their enrolled faces), health, Prometheus metrics, the OpenAPI document generated from
// these route schemas, and the web page at `/`. Model work goes through the InferencePool (off the event
// loop, bounded queue); gallery search is one engine matmul on libuv's pool.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import multipart from '@fastify/multipart';
import swagger from '@fastify/swagger';
import { Ajv } from 'ajv';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { verification } from '../face-model.js';
import type { PhotoAnalysis, RecognizedFace } from '../face-recognizer.js';
import type { Gallery } from '../gallery.js';
import { InferenceError, type InferencePool } from '../inference-pool.js';
import type { TokenAuth } from './auth.js';
import { ApiError, errorHandler, errorSchema } from './errors.js';
import { Metrics } from './metrics.js';
import { photoField, readUpload } from './uploads.js';

export interface ServiceLimits {
  /** Largest upload (one photo, or all parts of a multipart body), bytes (default 10 MB). */
  maxUploadBytes?: number;
  /** Largest JSON body, bytes (default 64 KB). */
  maxJsonBytes?: number;
}

export interface ServiceOptions {
  /** Null until the model has loaded: recognition answers 503 meanwhile. */
  pool: () => InferencePool | null;
  gallery: Gallery;
  auth: TokenAuth;
  limits?: ServiceLimits;
  logger?: boolean;
}

const WEB_DIR = join(dirname(fileURLToPath(import.meta.url)), '../../../../src/serve/web');
const WEB_FILES: Record<string, string> = {
  '/': 'index.html',
  '/app.js': 'app.js',
  '/style.css': 'style.css',
};
const MIME: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
};

const photoBody = {
  description:
    'multipart/form-data with the photo(s) as file parts, or (one photo) the raw bytes with Content-Type image/* or application/octet-stream',
};
const face = {
  type: 'object',
  properties: {
    box: { type: 'array', items: { type: 'number' }, description: '[x, y, width, height] in photo pixels' },
    landmarks: { type: 'array', items: { type: 'array', items: { type: 'number' } } },
    score: { type: 'number', description: 'detection confidence' },
    quality: { type: 'number', description: 'FR feature norm (higher: more recognisable)' },
    attributes: { type: 'object', additionalProperties: { type: 'number' } },
  },
} as const;
const faceWithEmbedding = { ...face, properties: { ...face.properties, embedding: { type: 'array', items: { type: 'number' } } } };
const identity = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    metadata: { type: ['object', 'null'], additionalProperties: true },
    createdAt: { type: 'string' },
    faces: { type: 'integer' },
  },
} as const;
const match = {
  type: 'object',
  properties: { id: { type: 'string' }, score: { type: 'number' }, metadata: { type: ['object', 'null'], additionalProperties: true } },
} as const;
const errors = { 400: errorSchema, 413: errorSchema, 415: errorSchema, 422: errorSchema, 429: errorSchema, 503: errorSchema };
const writeErrors = { ...errors, 401: errorSchema, 403: errorSchema, 404: errorSchema, 409: errorSchema };
const idParam = { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] } as const;
const bearer = [{ bearer: [] }];

const publicFace = (f: RecognizedFace) => ({
  box: f.box,
  landmarks: f.landmarks,
  score: f.score,
  quality: f.quality,
  attributes: f.attributes,
});
const withEmbedding = (f: RecognizedFace) => ({ ...publicFace(f), embedding: Array.from(f.embedding) });

function largestFace(analysis: PhotoAnalysis): RecognizedFace {
  const f = analysis.faces[0];
  if (!f) throw new ApiError(422, 'no_face', 'no face found in the photo');
  return f;
}

/** Which failure of two photos to report: the client's broken upload before an overload or a missing face. */
function severity(err: unknown): number {
  const status = (err as { status?: number }).status ?? 500;
  return status === 400 || status === 413 ? 0 : status === 422 ? 2 : 1;
}

function withSlot(err: unknown, slot: string): unknown {
  if (err instanceof InferenceError) return new InferenceError(err.status, err.code, err.message.replace(/^photo:/, `photo ${slot}:`));
  return err;
}

function intQuery(value: unknown, name: string, min: number, max: number, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw new ApiError(400, 'bad_request', `${name} must be an integer in [${min}, ${max}]`);
  return n;
}

function numberQuery(value: unknown, name: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n < -1 || n > 1) throw new ApiError(400, 'bad_request', `${name} must be a number in [-1, 1]`);
  return n;
}

export async function buildApp(options: ServiceOptions): Promise<FastifyInstance> {
  const maxUpload = options.limits?.maxUploadBytes ?? 10 * 1024 * 1024;
  const maxJson = options.limits?.maxJsonBytes ?? 64 * 1024;
  const { gallery, auth } = options;
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: maxUpload,
    return503OnClosing: true,
    routerOptions: { maxParamLength: 2000 }, // long ids reach the id check (400 bad_id) instead of the router's bare 414
    frameworkErrors: (error, _request, reply) => {
      (reply as FastifyReply).code(400).send({ error: { code: 'bad_url', message: error.message } });
    },
  });
  // Bodies are validated strictly (no type coercion, no silently dropped fields); query strings are coerced.
  const strict = new Ajv({ coerceTypes: false, removeAdditional: false, useDefaults: true });
  const lenient = new Ajv({ coerceTypes: 'array', removeAdditional: false, useDefaults: true });
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? strict : lenient).compile(schema));
  const metrics = new Metrics(() => {
    const pool = options.pool();
    return {
      catface_inference_queue_depth: { help: 'Photos waiting for or in the model workers.', value: pool?.queueDepth ?? 0 },
      catface_inference_workers: { help: 'Model workers ready.', value: pool?.workers ?? 0 },
      catface_gallery_identities: { help: 'Identities in the gallery.', value: gallery.identityCount },
      catface_gallery_faces: { help: 'Enrolled faces in the gallery.', value: gallery.faceCount },
    };
  });

  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler((request, reply) => {
    reply.code(404).send({ error: { code: 'not_found', message: `no route ${request.method} ${request.url.split('?')[0]}` } });
  });
  app.addHook('onResponse', async (request, reply) => {
    metrics.observe(request.method, request.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000);
  });
  for (const type of ['application/octet-stream', /^image\/[\w.+-]+$/])
    app.addContentTypeParser(type, { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  await app.register(multipart, { limits: { fileSize: maxUpload, files: 4, fields: 8, parts: 12, fieldSize: 4096 } });
  await app.register(swagger, {
    openapi: {
      info: { title: 'catface', version: '1', description: 'Face verification, identification and a persistent gallery' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    },
  });

  const ready = (): InferencePool => {
    const pool = options.pool();
    if (!pool?.ready) throw new ApiError(503, 'not_ready', 'the model is still loading (or the service is shutting down); retry shortly');
    return pool;
  };
  const write = async (request: FastifyRequest) => auth.check(request);

  app.get('/v1/health', {
    schema: {
      summary: 'Readiness: model loaded, gallery size, queue depth (503 while loading)',
      response: {
        200: { type: 'object', additionalProperties: true },
        503: { type: 'object', additionalProperties: true },
      },
    },
    handler: async (_request, reply) => {
      const pool = options.pool();
      const body = {
        status: pool?.ready ? 'ok' : 'not_ready',
        model: pool?.ready ? { threshold: pool.spec.verifyThreshold, attributes: pool.spec.attributes } : null,
        gallery: {
          identities: gallery.identityCount,
          faces: gallery.faceCount,
          scoring: gallery.scoring,
          search: gallery.searchMode,
          model: gallery.model,
        },
        queue: { depth: pool?.queueDepth ?? 0, workers: pool?.workers ?? 0 },
        writes: auth.enabled ? 'token' : 'disabled',
      };
      reply.code(pool?.ready ? 200 : 503).send(body);
    },
  });

  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
    reply.type('text/plain; version=0.0.4; charset=utf-8').send(metrics.render());
  });

  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  for (const [route, file] of Object.entries(WEB_FILES)) {
    const text = readFileSync(join(WEB_DIR, file), 'utf8');
    const type = MIME[file.split('.').pop() as string];
    app.get(route, { schema: { hide: true } }, async (_request, reply) => reply.type(type).header('cache-control', 'no-cache').send(text));
  }

  app.post('/v1/verify', {
    schema: {
      summary: 'Whether the largest faces of two photos (multipart fields `a` and `b`) show the same person',
      querystring: { type: 'object', properties: { threshold: { type: 'number' } } },
      response: {
        200: {
          type: 'object',
          properties: {
            same: { type: ['boolean', 'null'] },
            similarity: { type: 'number' },
            threshold: { type: ['number', 'null'] },
            faces: { type: 'array', items: face },
          },
        },
        ...errors,
      },
    },
    handler: async (request) => {
      const upload = await readUpload(request);
      const a = photoField(upload, 'a');
      const b = photoField(upload, 'b');
      const threshold = numberQuery((request.query as Record<string, unknown>).threshold, 'threshold');
      const pool = ready();
      // Both photos in parallel; a broken photo (400/413) is reported before a photo without a face (422).
      const settled = await Promise.allSettled([pool.analyze(a), pool.analyze(b)]);
      const failures = settled.flatMap((s, i) => (s.status === 'rejected' ? [{ error: s.reason, slot: i === 0 ? 'a' : 'b' }] : []));
      failures.sort((x, y) => severity(x.error) - severity(y.error));
      if (failures.length > 0) throw withSlot(failures[0].error, failures[0].slot);
      const [fa, fb] = settled.map((s, i) => {
        const f = (s as PromiseFulfilledResult<PhotoAnalysis>).value.faces[0];
        if (!f) throw new ApiError(422, 'no_face', `no face found in photo ${i === 0 ? 'a' : 'b'}`);
        return f;
      });
      const result = verification(fa.embedding, fb.embedding, threshold ?? pool.spec.verifyThreshold);
      return { ...result, faces: [publicFace(fa), publicFace(fb)] };
    },
  });

  app.post('/v1/analyze', {
    schema: {
      summary: 'Every face in a photo (field `photo`): box, landmarks, detection score, quality and attributes',
      description: photoBody.description,
      response: {
        200: {
          type: 'object',
          properties: { width: { type: 'integer' }, height: { type: 'integer' }, faces: { type: 'array', items: face } },
        },
        ...errors,
      },
    },
    handler: async (request) => {
      const photo = photoField(await readUpload(request), 'photo');
      const result = await ready().analyze(photo, true);
      return { width: result.width, height: result.height, faces: result.faces.map(publicFace) };
    },
  });

  app.post('/v1/embed', {
    schema: {
      summary: "The unit embedding of the photo's largest face (or of every face with ?all=true)",
      description: photoBody.description,
      querystring: { type: 'object', properties: { all: { type: 'boolean' } } },
      response: {
        200: {
          type: 'object',
          properties: { width: { type: 'integer' }, height: { type: 'integer' }, faces: { type: 'array', items: faceWithEmbedding } },
        },
        ...errors,
      },
    },
    handler: async (request) => {
      const photo = photoField(await readUpload(request), 'photo');
      const all = (request.query as { all?: boolean }).all === true;
      const result = await ready().analyze(photo, all);
      if (result.faces.length === 0) throw new ApiError(422, 'no_face', 'no face found in the photo');
      return { width: result.width, height: result.height, faces: result.faces.map(withEmbedding) };
    },
  });

  app.post('/v1/identify', {
    schema: {
      summary: "The gallery's k best identities for the photo's largest face; `identity` is null (unknown) below the threshold",
      description: photoBody.description,
      querystring: { type: 'object', properties: { k: { type: 'integer' }, threshold: { type: 'number' } } },
      response: {
        200: {
          type: 'object',
          properties: {
            identity: { type: ['string', 'null'] },
            score: { type: ['number', 'null'] },
            threshold: { type: ['number', 'null'] },
            matches: { type: 'array', items: match },
            face,
          },
        },
        ...errors,
        409: errorSchema,
      },
    },
    handler: async (request) => {
      const query = request.query as Record<string, unknown>;
      const k = intQuery(query.k, 'k', 1, 100, 5);
      const given = numberQuery(query.threshold, 'threshold');
      const photo = photoField(await readUpload(request), 'photo');
      const pool = ready();
      const f = largestFace(await pool.analyze(photo, false));
      const matches = await gallery.search(f.embedding, pool.modelIdentity(f.embedding), k);
      const threshold = given ?? pool.spec.verifyThreshold;
      const best = matches[0];
      const known = best !== undefined && (threshold === null || best.score >= threshold);
      return { identity: known ? best.id : null, score: best?.score ?? null, threshold, matches, face: publicFace(f) };
    },
  });

  app.get('/v1/identities', {
    schema: {
      summary: 'Identities, ordered by id',
      querystring: { type: 'object', properties: { offset: { type: 'integer' }, limit: { type: 'integer' } } },
      response: {
        200: { type: 'object', properties: { total: { type: 'integer' }, identities: { type: 'array', items: identity } } },
        ...errors,
      },
    },
    handler: async (request) => {
      const query = request.query as Record<string, unknown>;
      return gallery.identities(
        intQuery(query.offset, 'offset', 0, Number.MAX_SAFE_INTEGER, 0),
        intQuery(query.limit, 'limit', 1, 1000, 100),
      );
    },
  });

  app.get('/v1/identities/:id', {
    schema: { summary: 'One identity', params: idParam, response: { 200: identity, ...errors, 404: errorSchema } },
    handler: async (request) => {
      const { id } = request.params as { id: string };
      const row = gallery.identity(id);
      if (!row) throw new ApiError(404, 'identity_not_found', `no identity '${id}'`);
      return row;
    },
  });

  app.post('/v1/identities', {
    bodyLimit: maxJson,
    preHandler: write,
    schema: {
      summary: 'Creates an identity (no faces yet)',
      security: bearer,
      body: {
        type: 'object',
        properties: { id: { type: 'string' }, metadata: { type: 'object', additionalProperties: true } },
        required: ['id'],
        additionalProperties: false,
      },
      response: { 201: identity, ...writeErrors },
    },
    handler: async (request, reply) => {
      const body = request.body as { id: string; metadata?: Record<string, unknown> };
      reply.code(201);
      return gallery.createIdentity(body.id, body.metadata ?? null);
    },
  });

  app.delete('/v1/identities/:id', {
    preHandler: write,
    schema: {
      summary: 'Deletes an identity and its faces',
      security: bearer,
      params: idParam,
      response: { 200: { type: 'object', properties: { deleted: { type: 'string' } } }, ...writeErrors },
    },
    handler: async (request) => {
      const { id } = request.params as { id: string };
      gallery.delete(id);
      return { deleted: id.normalize('NFC') };
    },
  });

  app.post('/v1/identities/:id/faces', {
    preHandler: write,
    schema: {
      summary: "Enrols the photo's largest face (field `photo`) for the identity, created if missing",
      description: `${photoBody.description}. A multipart field \`metadata\` (JSON object) sets a new identity's metadata.`,
      security: bearer,
      params: idParam,
      response: {
        201: { type: 'object', properties: { identity, faceIds: { type: 'array', items: { type: 'integer' } }, face } },
        ...writeErrors,
      },
    },
    handler: async (request, reply) => {
      const { id } = request.params as { id: string };
      const upload = await readUpload(request);
      const photo = photoField(upload, 'photo');
      let metadata: Record<string, unknown> | null = null;
      const rawMetadata = upload.fields.get('metadata');
      if (rawMetadata !== undefined) {
        try {
          metadata = JSON.parse(rawMetadata);
        } catch {
          throw new ApiError(400, 'bad_request', 'metadata must be a JSON object');
        }
        if (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata))
          throw new ApiError(400, 'bad_request', 'metadata must be a JSON object');
      }
      gallery.identity(id); // checks the id before spending the model on the photo
      const pool = ready();
      const f = largestFace(await pool.analyze(photo, false));
      const result = gallery.enrol(id, [{ embedding: f.embedding, quality: f.quality }], pool.modelIdentity(f.embedding), metadata);
      reply.code(201);
      return { identity: result.identity, faceIds: result.faceIds, face: publicFace(f) };
    },
  });

  return app;
}
