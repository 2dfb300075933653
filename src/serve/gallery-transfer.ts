// Gallery export/import as a folder of two files: `gallery.json` (format, model, identities with metadata,
// and one entry per face: its identity and quality) and `embeddings.safetensors` (`embeddings` [faces, D]
// float32, rows in the JSON's face order). Written into a temporary folder, then renamed.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeDirDurably, writeFileSynced } from '../io/durable.js';
import { parseSafetensors, serializeSafetensors } from '../nn/safetensors.js';
import * as torch from '../torch/index.js';
import type { Gallery } from './gallery.js';
import type { ModelIdentity } from './gallery-store.js';

const FORMAT = 'catface-gallery';
const VERSION = 1;

interface GalleryJson {
  format: typeof FORMAT;
  version: number;
  model: ModelIdentity | null;
  identities: { id: string; metadata: Record<string, unknown> | null; createdAt: string }[];
  faces: { identity: string; quality: number | null }[];
}

export function exportGallery(gallery: Gallery, dir: string): { identities: number; faces: number } {
  const { model, identities, faces } = gallery.snapshot();
  const dim = model?.dim ?? 0;
  const matrix = new Float32Array(faces.length * dim);
  for (const [i, f] of faces.entries()) matrix.set(f.embedding, i * dim);
  const json: GalleryJson = {
    format: FORMAT,
    version: VERSION,
    model,
    identities: identities.map(({ id, metadata, createdAt }) => ({ id, metadata, createdAt })),
    faces: faces.map((f) => ({ identity: f.identityId, quality: f.quality })),
  };
  const tensor = torch.fromTypedArray(matrix, [faces.length, dim]);
  try {
    // swapped in whole (src/io/durable.ts): a crash never leaves half an export, nor no export
    writeDirDurably(dir, (tmp) => {
      writeFileSynced(join(tmp, 'embeddings.safetensors'), serializeSafetensors({ embeddings: tensor }, { format: FORMAT }));
      writeFileSynced(join(tmp, 'gallery.json'), `${JSON.stringify(json, null, 1)}\n`);
    });
  } finally {
    tensor.dispose();
  }
  return { identities: identities.length, faces: faces.length };
}

/** Replaces the gallery's content with an export; every problem is named with its file and field. */
export function importGallery(gallery: Gallery, dir: string): { identities: number; faces: number } {
  const jsonPath = join(dir, 'gallery.json');
  const stPath = join(dir, 'embeddings.safetensors');
  for (const p of [jsonPath, stPath]) if (!existsSync(p)) throw new Error(`${dir}: not a gallery export (${p} is missing)`);
  let json: GalleryJson;
  try {
    json = JSON.parse(readFileSync(jsonPath, 'utf8'));
  } catch (err) {
    throw new Error(`${jsonPath}: not valid JSON (${(err as Error).message})`);
  }
  if (json.format !== FORMAT || json.version !== VERSION)
    throw new Error(`${jsonPath}: format/version must be '${FORMAT}'/${VERSION}, got ${JSON.stringify([json.format, json.version])}`);
  if (!Array.isArray(json.identities) || !Array.isArray(json.faces)) throw new Error(`${jsonPath}: identities and faces must be arrays`);
  const { tensors } = parseSafetensors(readFileSync(stPath), stPath);
  const embeddings = tensors.get('embeddings');
  try {
    if (embeddings?.ndim !== 2 || embeddings.dtype !== 'float32')
      throw new Error(`${stPath}: expected a float32 tensor 'embeddings' [faces, D]`);
    const [n, dim] = embeddings.shape;
    if (n !== json.faces.length) throw new Error(`${stPath}: ${n} embedding rows for ${json.faces.length} faces in ${jsonPath}`);
    if (n > 0 && json.model?.dim !== dim) throw new Error(`${jsonPath}: model.dim ${json.model?.dim} but the embeddings are ${dim}-d`);
    const known = new Set(json.identities.map((i) => i.id));
    const values = embeddings.dataSync() as Float32Array;
    const faces = json.faces.map((f, i) => {
      if (!known.has(f.identity)) throw new Error(`${jsonPath}: faces[${i}].identity '${f.identity}' is not among the identities`);
      return { identityId: f.identity, embedding: values.slice(i * dim, (i + 1) * dim), quality: f.quality ?? null };
    });
    gallery.replace(json.model, json.identities, faces);
    return { identities: json.identities.length, faces: faces.length };
  } finally {
    torch.dispose([...tensors.values()]);
  }
}
