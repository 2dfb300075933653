// Embeddings of image files, cached on disk: a safetensors file named by a hash of the embedder (with its
// weights' stamp), the flip fusion, the crop fit and every file's path, size and modification time, so a changed
// input or model recomputes and an unchanged one loads in milliseconds. Written atomically (temp file + rename).
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeImage } from '../data/decode.js';
import { DataError } from '../data/errors.js';
import { loadSafetensors, saveSafetensors } from '../nn/safetensors.js';
import type { Tensor } from '../torch/index.js';
import { type EmbedAllOptions, type Embedder, embedAll } from './embedding.js';

export interface EmbedFilesOptions extends EmbedAllOptions {
  /** Directory of the cache files; no caching when absent. */
  cacheDir?: string;
  /** How a crop of another shape becomes square: 'fill' stretches (aligned crops), 'cover' centre-crops. */
  fit?: 'fill' | 'cover';
}

/** The cache file for these inputs (exported for tests and for `--json` output). */
export function cacheFileFor(embedder: Embedder, files: readonly string[], options: EmbedFilesOptions): string | null {
  if (!options.cacheDir) return null;
  const hash = createHash('sha256');
  hash.update(
    JSON.stringify([embedder.name, embedder.imageSize, embedder.fingerprint ?? '', options.fusion ?? 'sum', options.fit ?? 'fill']),
  );
  for (const file of files) {
    let stamp: string;
    try {
      const s = statSync(file);
      stamp = `${s.size}:${s.mtimeMs}`;
    } catch {
      throw new DataError(file, 'file not found');
    }
    hash.update(`\n${file}\0${stamp}`);
  }
  return join(options.cacheDir, `${embedder.name.replace(/[^\w.-]+/g, '_')}-${hash.digest('hex').slice(0, 24)}.safetensors`);
}

/** Unit embeddings [files, D] of image files (decoded and resized to the embedder's crop size). */
export async function embedFiles(embedder: Embedder, files: readonly string[], options: EmbedFilesOptions = {}): Promise<Tensor> {
  const cacheFile = cacheFileFor(embedder, files, options);
  if (cacheFile && existsSync(cacheFile)) {
    const { tensors } = loadSafetensors(cacheFile);
    const features = tensors.get('embeddings');
    if (features && features.shape[0] === files.length) return features;
    for (const t of tensors.values()) t.dispose();
  }
  const size = embedder.imageSize;
  const features = await embedAll(
    embedder,
    files.length,
    async (i) => {
      const bytes = await readFile(files[i]).catch((err: NodeJS.ErrnoException) => {
        throw new DataError(files[i], err.code === 'ENOENT' ? 'file not found' : String(err));
      });
      return decodeImage(bytes, files[i], { height: size, width: size, fit: options.fit ?? 'fill' });
    },
    options,
  );
  if (cacheFile && options.cacheDir) {
    mkdirSync(options.cacheDir, { recursive: true });
    saveSafetensors(cacheFile, { embeddings: features }, { embedder: embedder.name, files: String(files.length) });
  }
  return features;
}
