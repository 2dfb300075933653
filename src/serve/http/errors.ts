// Every error the service answers is JSON `{ error: { code, message } }` with the right status: the client's
// mistakes are 4xx with a code a program can branch on; only a fault of ours is 500.
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { GalleryError } from '../gallery.js';
import { InferenceError } from '../inference-pool.js';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface ErrorBody {
  error: { code: string; message: string };
}

/** Fastify's own client errors (validation, body parsing, limits) mapped to our codes. */
const FASTIFY_CODES: Record<string, [number, string]> = {
  FST_ERR_CTP_BODY_TOO_LARGE: [413, 'too_large'],
  FST_REQ_FILE_TOO_LARGE: [413, 'too_large'],
  FST_FILES_LIMIT: [413, 'too_many_files'],
  FST_PARTS_LIMIT: [413, 'too_many_parts'],
  FST_FIELDS_LIMIT: [413, 'too_many_fields'],
  FST_ERR_CTP_INVALID_MEDIA_TYPE: [415, 'unsupported_media_type'],
  FST_INVALID_MULTIPART_CONTENT_TYPE: [415, 'unsupported_media_type'],
  FST_ERR_CTP_EMPTY_JSON_BODY: [400, 'bad_request'],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: [400, 'bad_request'],
  FST_ERR_VALIDATION: [400, 'bad_request'],
};

export function toErrorReply(err: unknown): { status: number; body: ErrorBody } {
  if (err instanceof ApiError || err instanceof GalleryError || err instanceof InferenceError)
    return { status: err.status, body: { error: { code: err.code, message: err.message } } };
  const fe = err as FastifyError;
  const known = fe.code ? FASTIFY_CODES[fe.code] : undefined;
  if (known) return { status: known[0], body: { error: { code: known[1], message: fe.message } } };
  // Any other error fastify or a plugin raised with a 4xx status (malformed JSON, multipart syntax…).
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500)
    return { status: fe.statusCode, body: { error: { code: 'bad_request', message: fe.message } } };
  return { status: 500, body: { error: { code: 'internal', message: 'internal error (logged by the service)' } } };
}

export function errorHandler(err: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const { status, body } = toErrorReply(err);
  if (status >= 500) request.log.error({ err }, 'request failed');
  reply.code(status).send(body);
}

/** The schema every error response shares (for the OpenAPI document). */
export const errorSchema = {
  type: 'object',
  properties: {
    error: {
      type: 'object',
      properties: { code: { type: 'string' }, message: { type: 'string' } },
      required: ['code', 'message'],
    },
  },
  required: ['error'],
} as const;
