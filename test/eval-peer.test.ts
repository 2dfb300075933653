// The face-api.js peer on ORL (40 identities × 10 images, already cropped faces), leave-one-out
// identification: every image is a probe against the other 399; rank-1 must be ≥ 95% (98.0% measured).
// Its descriptors are cached: the second call loads the numbers from disk instead of running the network.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { readImageFolder } from '../src/data/readers/image-folder.js';
import { embedFiles } from '../src/eval/feature-cache.js';
import { closedSet, leaveOneOutSearch } from '../src/eval/identification.js';
import { faceApiEmbedder } from '../src/eval/peer-faceapi.js';
import { saveSafetensors } from '../src/nn/safetensors.js';
import * as torch from '../src/torch/index.js';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const orl = join(repoRoot, '..', 'shared', 'data', 'orl');
const noData = existsSync(orl) ? false : `ORL not found at ${orl}: face-api peer test skipped`;

test('face-api peer: ORL leave-one-out rank-1 ≥ 95%, descriptors cached', { skip: noData, timeout: 180_000 }, async () => {
  const dataset = readImageFolder(orl, { attributes: [] });
  const files = dataset.samples.map((s) => (s.image.kind === 'file' ? s.image.path : ''));
  const labels = dataset.samples.map((s) => s.label);
  assert.equal(files.length, 400);
  const cacheDir = mkdtempSync(join(tmpdir(), 'catface-peer-'));
  try {
    const peer = await faceApiEmbedder();
    const options = { fusion: 'none' as const, batchSize: 16, cacheDir };
    const features = await embedFiles(peer, files, options);
    assert.deepEqual(features.shape, [400, 128]);
    const closed = closedSet(leaveOneOutSearch(features, { k: 5 }), labels, labels);
    assert.ok(closed.cmc[0] >= 0.95, `rank-1 ${closed.cmc[0]}`);
    const cached = readdirSync(cacheDir);
    assert.equal(cached.length, 1);
    const again = await embedFiles(peer, files, options);
    assert.ok(again.equal(features));
    // The second call read the file instead of running the network: a doctored cache comes back as written.
    const doctored = torch.tidy(() => torch.keep(features.flip([0]).contiguous()));
    saveSafetensors(join(cacheDir, cached[0]), { embeddings: doctored });
    const fromCache = await embedFiles(peer, files, options);
    assert.ok(fromCache.equal(doctored), 'the cached embeddings were not used');
    assert.deepEqual(readdirSync(cacheDir), cached);
    torch.dispose([again, doctored, fromCache]);
  } finally {
    rmSync(cacheDir, { recursive: true, force: true });
  }
});
