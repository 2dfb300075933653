// Validation during training on a pair set (SPEC §8): every image embedded together with its horizontal flip
// (src/eval's flip fusion), cosine score per pair, the 10-fold accuracy with thresholds
// chosen on the other folds, and the ROC's AUC. Stage 1 scores the FR-branch embedding, stage 2 the fused
// one. The pair images are decoded once, when the validator is made.
import { dirname } from 'node:path';
import { decodeImage } from '../data/decode.js';
import { readPairList } from '../data/readers/pairs.js';
import { readVerificationBin } from '../data/readers/verification-bin.js';
import { catfaceEmbedder } from '../eval/catface-embedder.js';
import { embedAll } from '../eval/embedding.js';
import { pairScores } from '../eval/pair-scores.js';
import { auc, SortedScores } from '../eval/roc.js';
import { tenFold } from '../eval/tenfold.js';
import type { CATFace } from '../models/catface.js';

export interface PairValidator {
  /** Scores the model (already in eval mode) and returns {accuracy, std, auc}: the FR embedding in stage 1, the fused one in stage 2. */
  run(model: CATFace, stage: 1 | 2): Promise<Record<string, number>>;
  /** The cosine threshold of the last run (mean of the folds' thresholds), for the exported model. */
  readonly threshold: number | null;
  dispose(): void;
}

export async function makePairValidator(path: string, imageSize: number, folds: number): Promise<PairValidator> {
  let encoded: { bytes: Uint8Array; source: string }[];
  let same: boolean[];
  const left: number[] = [];
  const right: number[] = [];
  if (path.endsWith('.bin')) {
    const set = readVerificationBin(path);
    encoded = set.images.map((bytes, i) => ({ bytes, source: `${path} image ${i}` }));
    same = set.issame;
    set.issame.forEach((_, i) => {
      left.push(2 * i);
      right.push(2 * i + 1);
    });
  } else {
    const { pairs } = readPairList(path, dirname(path));
    const index = new Map<string, number>();
    const at = (file: string) => {
      if (!index.has(file)) index.set(file, index.size);
      return index.get(file) as number;
    };
    for (const p of pairs) {
      left.push(at(p.a));
      right.push(at(p.b));
    }
    same = pairs.map((p) => p.same);
    const { readFile } = await import('node:fs/promises');
    encoded = await Promise.all([...index.keys()].map(async (file) => ({ bytes: await readFile(file), source: file })));
  }
  if (same.length < folds) throw new Error(`${path}: ${same.length} pairs cannot be split into ${folds} validation folds`);
  const pixels = await Promise.all(
    encoded.map((e) => decodeImage(e.bytes, e.source, { height: imageSize, width: imageSize, fit: 'fill' })),
  );
  const leftIdx = Int32Array.from(left);
  const rightIdx = Int32Array.from(right);
  let threshold: number | null = null;
  return {
    get threshold() {
      return threshold;
    },
    async run(model, stage) {
      const embedder = catfaceEmbedder(model, stage === 2 ? 'fused' : 'fr', 'validation');
      const features = await embedAll(embedder, pixels.length, async (i) => pixels[i], { fusion: 'sum' });
      const scores = pairScores(features, leftIdx, rightIdx);
      features.dispose();
      const result = tenFold(scores, same, { folds });
      threshold = result.folds.reduce((sum, f) => sum + f.threshold, 0) / result.folds.length;
      return { accuracy: result.accuracy, std: result.std, auc: auc(new SortedScores(scores, same).roc()) };
    },
    dispose() {},
  };
}
