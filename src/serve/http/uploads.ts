// Photos in requests: multipart/form-data (one file part per named field) or the raw bytes as the body
// (`image/*` or `application/octet-stream`, one photo). Sizes are bounded by fastify's body limit and the
// multipart file limit (413); pixel counts by the recognizer's limit (413, checked before decoding).
import type { FastifyRequest } from 'fastify';
import { ApiError } from './errors.js';

export interface Upload {
  photos: Map<string, Buffer>;
  fields: Map<string, string>;
}

/** Reads the photos (and text fields) of a request; a raw body counts as the field `photo`. */
export async function readUpload(request: FastifyRequest): Promise<Upload> {
  const photos = new Map<string, Buffer>();
  const fields = new Map<string, string>();
  if (request.isMultipart()) {
    try {
      for await (const part of request.parts()) {
        if (part.type === 'file') {
          if (photos.has(part.fieldname)) throw new ApiError(400, 'bad_request', `field '${part.fieldname}' holds more than one file`);
          photos.set(part.fieldname, await part.toBuffer());
        } else {
          fields.set(part.fieldname, String(part.value));
        }
      }
    } catch (err) {
      // The multipart parser's own syntax errors (no boundary, body cut short) carry no status: the client's fault.
      const known = err instanceof ApiError || typeof (err as { statusCode?: unknown }).statusCode === 'number';
      throw known ? err : new ApiError(400, 'bad_multipart', `malformed multipart body: ${(err as Error).message}`);
    }
  } else if (Buffer.isBuffer(request.body)) {
    photos.set('photo', request.body);
  } else if (/^(image\/|application\/octet-stream)/.test(request.headers['content-type'] ?? '') && request.body === undefined) {
    photos.set('photo', Buffer.alloc(0)); // an empty raw upload: reported as an empty photo, not a wrong type
  } else {
    throw new ApiError(
      415,
      'unsupported_media_type',
      'send the photo as multipart/form-data or as the raw body with Content-Type image/* or application/octet-stream',
    );
  }
  return { photos, fields };
}

/** The photo of a named field, checked non-empty. */
export function photoField(upload: Upload, name: string): Buffer {
  const photo = upload.photos.get(name);
  if (!photo) {
    const got = [...upload.photos.keys()];
    throw new ApiError(
      400,
      'missing_photo',
      `expected a photo in field '${name}'${got.length ? `, got ${got.map((g) => `'${g}'`).join(', ')}` : ''}`,
    );
  }
  if (photo.length === 0) throw new ApiError(400, 'bad_image', `${name}: empty file (0 bytes)`);
  return photo;
}
