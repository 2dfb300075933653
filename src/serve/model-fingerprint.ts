// A model's identity for galleries: sha256 over what decides its embeddings — the architecture, input size,
// default embedding and alignment from model.json, and the weights file's bytes. Provenance and the
// threshold do not count (re-tuning the threshold keeps the embeddings comparable).
import { createHash } from 'node:crypto';
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import { join } from 'node:path';

export function modelFingerprint(dir: string): string {
  const spec = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as Record<string, unknown>;
  const hash = createHash('sha256');
  const decisive = ['imageSize', 'attributes', 'network', 'fusion', 'defaultEmbedding', 'alignment'].map((k) => [k, spec[k] ?? null]);
  hash.update(JSON.stringify(decisive));
  const fd = openSync(join(dir, 'weights.safetensors'), 'r');
  try {
    const chunk = Buffer.alloc(1 << 20);
    for (let n = readSync(fd, chunk); n > 0; n = readSync(fd, chunk)) hash.update(chunk.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return hash.digest('hex');
}
