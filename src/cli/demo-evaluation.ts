// The evaluation behind `catface demo`: a trained model directory against held-out synthetic identities, the
// baseline (the FR branch's embedding alone) against CATFace (the fused embedding), on clean images, on
// degraded images, and clean gallery vs degraded probe; plus the SB branch's attribute accuracy. Produces the
// sections of the HTML report (src/eval/report.ts) and a short text summary.

import { loadTestSet, PROTOCOLS, scoreProtocols } from '../ablate/test-protocols.js';
import { pixelsToNormalized } from '../common/image-convention.js';
import { attributeMetrics } from '../eval/attributes.js';
import { pairedBootstrap, weightedMean } from '../eval/bootstrap.js';
import type { ReportSection } from '../eval/report.js';
import { type EmbeddingKind, FaceModel } from '../serve/face-model.js';

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
  /** Per protocol and embedding ('<protocol>/fr', '<protocol>/fused'): each pair's 0/1 correctness. */
  correct: Map<string, Uint8Array>;
  /** 1 for a genuine pair, 0 for an impostor (the bootstrap's strata). */
  same: Uint8Array;
  images: number;
  identities: number;
  pairs: number;
}

/** Evaluates `modelDir` on the identities of `testDir` (an image folder with attributes.csv). */
export async function evaluateDemo(modelDir: string, testDir: string, seed: number): Promise<DemoEvaluation> {
  const model = FaceModel.load(modelDir);
  try {
    const size = model.imageSize;
    const names = model.spec.attributes;
    const test = await loadTestSet(testDir, size, seed, names);
    const { n, pairs } = test;
    const models: { label: string; kind: EmbeddingKind }[] = [
      { label: 'baseline (FR)', kind: 'fr' },
      { label: 'CATFace', kind: 'fused' },
    ];
    const rows: VerificationRow[] = [];
    const correct = new Map<string, Uint8Array>();
    const curves = new Map<string, { label: string; fpr: Float64Array; tpr: Float64Array }[]>();
    const histograms = new Map<string, { genuine: number[]; impostor: number[] }>();
    for (const { label, kind } of models) {
      for (const p of await scoreProtocols(model, kind, test)) {
        rows.push({
          protocol: p.protocol,
          model: label,
          accuracy: p.accuracy,
          std: p.std,
          auc: p.auc,
          tarAt1e2: p.tarAt1e2,
          tarAt1e3: p.tarAt1e3,
        });
        correct.set(`${p.protocol}/${kind}`, p.correct);
        const list = curves.get(p.protocol) ?? [];
        list.push({ label, fpr: p.roc.fpr, tpr: p.roc.tpr });
        curves.set(p.protocol, list);
        if (kind === 'fused' && p.protocol.startsWith('clean gallery')) {
          histograms.set(label, {
            genuine: [...p.scores].filter((_, i) => pairs.same[i]),
            impostor: [...p.scores].filter((_, i) => !pairs.same[i]),
          });
        }
      }
    }
    const gains = PROTOCOLS.map((protocol) => {
      const d = pairedBootstrap(
        pairs.same.length,
        weightedMean(correct.get(`${protocol}/fused`) as Uint8Array),
        weightedMean(correct.get(`${protocol}/fr`) as Uint8Array),
        { seed, strata: pairs.same.map((s) => (s ? 1 : 0)) },
      );
      return { protocol, value: d.value, low: d.low, high: d.high, pNotBetter: d.pNotBetter };
    });
    const attributeTruth = test.samples.flatMap((s) => s.attributes ?? []);
    const attributes: DemoEvaluation['attributes'] = [];
    for (const [condition, crops] of [
      ['clean', test.crops.slice(0, n)],
      ['degraded', test.crops.slice(n)],
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
        note: `${test.identities} identities never seen in training, ${n} images; ${pairs.same.length} pairs (all genuine pairs and as many random impostor pairs); flip-fused embeddings, cosine score.`,
      },
      {
        kind: 'table',
        title: 'CATFace − baseline for this model alone, 10-fold accuracy (paired bootstrap over pairs, 95%)',
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
    return {
      sections,
      rows,
      gains,
      attributes,
      correct,
      same: Uint8Array.from(pairs.same, (v) => (v ? 1 : 0)),
      images: n,
      identities: test.identities,
      pairs: pairs.same.length,
    };
  } finally {
    model.dispose();
  }
}
