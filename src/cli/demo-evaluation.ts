// The evaluation behind `catface demo`: a trained model directory against held-out synthetic identities, the
// baseline (the FR branch's embedding alone) against CATFace (the fused embedding), on clean images, on
// degraded images, and clean gallery vs degraded probe; plus the SB branch's attribute accuracy. Produces the
// sections of the HTML report (src/eval/report.ts) and a short text summary.

import { pixelsToNormalized, pixelsToUnit, unitToBytes } from '../common/image-convention.js';
import { Prng } from '../common/prng.js';
import { readImageBytes } from '../data/dataset.js';
import { decodeImage } from '../data/decode.js';
import { readImageFolder } from '../data/readers/image-folder.js';
import { Degrader } from '../degrade/degrader.js';
import { attributeMetrics } from '../eval/attributes.js';
import { pairedBootstrap, weightedMean } from '../eval/bootstrap.js';
import { embedAll } from '../eval/embedding.js';
import { pairScores } from '../eval/pair-scores.js';
import type { ReportSection } from '../eval/report.js';
import { auc, SortedScores, tarAtFar } from '../eval/roc.js';
import { tenFold } from '../eval/tenfold.js';
import { type EmbeddingKind, FaceModel } from '../serve/face-model.js';
import type { Tensor } from '../torch/index.js';
import * as torch from '../torch/index.js';

export interface VerificationRow {
  protocol: string;
  model: string;
  accuracy: number;
  std: number;
  auc: number;
  tarAt1e2: number | null;
  tarAt1e3: number | null;
}

export interface DemoEvaluation {
  sections: ReportSection[];
  rows: VerificationRow[];
  /** CATFace − baseline 10-fold accuracy per protocol, with a 95% paired-bootstrap interval. */
  gains: { protocol: string; value: number; low: number; high: number; pNotBetter: number }[];
  attributes: { condition: string; name: string; accuracy: number; balancedAccuracy: number }[];
  images: number;
  identities: number;
  pairs: number;
}

/** All genuine pairs (same identity) and as many seeded random impostor pairs. */
function makePairs(labels: number[], seed: number): { left: Int32Array; right: Int32Array; same: boolean[] } {
  const left: number[] = [];
  const right: number[] = [];
  const same: boolean[] = [];
  for (let i = 0; i < labels.length; i++) {
    for (let j = i + 1; j < labels.length; j++) {
      if (labels[i] !== labels[j]) continue;
      left.push(i);
      right.push(j);
      same.push(true);
    }
  }
  const genuine = left.length;
  const prng = new Prng(seed);
  const seen = new Set<number>();
  while (left.length < 2 * genuine) {
    const i = prng.index(labels.length);
    const j = prng.index(labels.length);
    const key = Math.min(i, j) * labels.length + Math.max(i, j);
    if (labels[i] === labels[j] || seen.has(key)) continue;
    seen.add(key);
    left.push(i);
    right.push(j);
    same.push(false);
  }
  // interleave genuine and impostor pairs so the contiguous 10 folds each hold both
  const order = prng.shuffle([...left.keys()]);
  return { left: Int32Array.from(order, (k) => left[k]), right: Int32Array.from(order, (k) => right[k]), same: order.map((k) => same[k]) };
}

/** HWC uint8 crops → degraded HWC uint8 crops, through the training Degrader with a fixed seed. */
async function degradeCrops(crops: Uint8Array[], size: number, seed: number): Promise<Uint8Array[]> {
  const degrader = new Degrader({ seed });
  const out: Uint8Array[] = [];
  try {
    for (let start = 0; start < crops.length; start += 64) {
      const chunk = crops.slice(start, start + 64);
      const unit = pixelsToUnit(chunk, size);
      const { hq, lq } = await degrader.degrade(unit);
      const bytes = unitToBytes(lq);
      torch.dispose([unit, hq, lq]);
      const stride = size * size * 3;
      for (let i = 0; i < chunk.length; i++) out.push(bytes.slice(i * stride, (i + 1) * stride));
    }
  } finally {
    degrader.dispose();
  }
  return out;
}

/** Evaluates `modelDir` on the identities of `testDir` (an image folder with attributes.csv). */
export async function evaluateDemo(modelDir: string, testDir: string, seed: number): Promise<DemoEvaluation> {
  const model = FaceModel.load(modelDir);
  try {
    const size = model.imageSize;
    const names = model.spec.attributes;
    const dataset = readImageFolder(testDir, { attributes: names });
    const labels = dataset.samples.map((s) => s.label);
    const clean = await Promise.all(
      dataset.samples.map((s) =>
        decodeImage(readImageBytes(s.image), s.image.kind === 'file' ? s.image.path : testDir, { height: size, width: size }),
      ),
    );
    const degraded = await degradeCrops(clean, size, seed);
    const n = clean.length;
    const pairs = makePairs(labels, seed);
    const protocols = [
      { name: 'clean vs clean', left: pairs.left, right: pairs.right },
      { name: 'degraded vs degraded', left: pairs.left.map((i) => i + n), right: pairs.right.map((i) => i + n) },
      { name: 'clean gallery vs degraded probe', left: pairs.left, right: pairs.right.map((i) => i + n) },
    ];
    const models: { label: string; kind: EmbeddingKind }[] = [
      { label: 'baseline (FR)', kind: 'fr' },
      { label: 'CATFace', kind: 'fused' },
    ];
    const all = [...clean, ...degraded];
    const rows: VerificationRow[] = [];
    const correct = new Map<string, Uint8Array>();
    const curves = new Map<string, { label: string; fpr: Float64Array; tpr: Float64Array }[]>();
    const histograms = new Map<string, { genuine: number[]; impostor: number[] }>();
    for (const { label, kind } of models) {
      const features: Tensor = await embedAll(model.embedder(kind), all.length, async (i) => all[i], { fusion: 'sum' });
      try {
        for (const protocol of protocols) {
          const scores = pairScores(features, protocol.left, protocol.right);
          const folds = tenFold(scores, pairs.same);
          const roc = new SortedScores(scores, pairs.same).roc();
          const [t2, t3] = tarAtFar(roc, [1e-2, 1e-3]);
          rows.push({
            protocol: protocol.name,
            model: label,
            accuracy: folds.accuracy,
            std: folds.std,
            auc: auc(roc),
            tarAt1e2: t2.tar,
            tarAt1e3: t3.tar,
          });
          correct.set(`${protocol.name}/${kind}`, folds.correct);
          const list = curves.get(protocol.name) ?? [];
          list.push({ label, fpr: roc.fpr, tpr: roc.tpr });
          curves.set(protocol.name, list);
          if (kind === 'fused' && protocol.name.startsWith('clean gallery')) {
            histograms.set(label, {
              genuine: [...scores].filter((_, i) => pairs.same[i]),
              impostor: [...scores].filter((_, i) => !pairs.same[i]),
            });
          }
        }
      } finally {
        features.dispose();
      }
    }
    const gains = protocols.map((p) => {
      const d = pairedBootstrap(
        pairs.same.length,
        weightedMean(correct.get(`${p.name}/fused`) as Uint8Array),
        weightedMean(correct.get(`${p.name}/fr`) as Uint8Array),
        { seed, strata: pairs.same.map((s) => (s ? 1 : 0)) },
      );
      return { protocol: p.name, value: d.value, low: d.low, high: d.high, pNotBetter: d.pNotBetter };
    });
    const attributeTruth = dataset.samples.flatMap((s) => s.attributes ?? []);
    const attributes: DemoEvaluation['attributes'] = [];
    for (const [condition, crops] of [
      ['clean', clean],
      ['degraded', degraded],
    ] as const) {
      const probabilities: number[] = [];
      for (let start = 0; start < n; start += 64) {
        const input = pixelsToNormalized(crops.slice(start, start + 64), size);
        for (const r of await model.attributes(input)) probabilities.push(...names.map((a) => r[a]));
        input.dispose();
      }
      for (const m of attributeMetrics(probabilities, attributeTruth, names, 0.5)) {
        attributes.push({ condition, name: m.name, accuracy: m.accuracy, balancedAccuracy: m.balancedAccuracy });
      }
    }
    const sections: ReportSection[] = [
      {
        kind: 'table',
        title: 'Verification on unseen identities: baseline vs CATFace',
        columns: ['protocol', 'model', '10-fold accuracy', '± std', 'AUC', 'TAR@FAR=1e-2', 'TAR@FAR=1e-3'],
        rows: rows.map((r) => [
          r.protocol,
          r.model,
          { value: r.accuracy },
          { value: r.std },
          { value: r.auc },
          { value: r.tarAt1e2 },
          { value: r.tarAt1e3 },
        ]),
        note: `${dataset.classes.length} identities never seen in training, ${n} images; ${pairs.same.length} pairs (all genuine pairs and as many random impostor pairs); flip-fused embeddings, cosine score.`,
      },
      {
        kind: 'table',
        title: 'CATFace − baseline, 10-fold accuracy (paired bootstrap, 95%)',
        columns: ['protocol', 'difference', 'P(CATFace not better)'],
        rows: gains.map((g) => [g.protocol, { value: g.value, low: g.low, high: g.high, percent: true }, g.pNotBetter.toFixed(3)]),
      },
      ...[...curves.entries()].map(([protocol, list]): ReportSection => ({ kind: 'roc', title: `ROC, ${protocol}`, curves: list })),
      ...[...histograms.entries()].map(
        ([label, h]): ReportSection => ({
          kind: 'histogram',
          title: `Scores of ${label}, clean gallery vs degraded probe`,
          genuine: h.genuine,
          impostor: h.impostor,
          xLabel: 'cosine similarity',
        }),
      ),
      {
        kind: 'table',
        title: 'Soft-biometric attributes (SB branch)',
        columns: ['condition', 'attribute', 'accuracy', 'balanced accuracy'],
        rows: attributes.map((a) => [a.condition, a.name, { value: a.accuracy }, { value: a.balancedAccuracy }]),
      },
    ];
    return { sections, rows, gains, attributes, images: n, identities: dataset.classes.length, pairs: pairs.same.length };
  } finally {
    model.dispose();
  }
}
