// A study's results as numbers (summary.json) and as an HTML report: per variant the mean over seeds with its
// interval (seed-interval.ts), the paired difference to the reference variant, one verdict per paper claim,
// per-seed values, and ROC curves pooled over seeds.
import type { ReportSection } from '../eval/report.js';
import { SortedScores } from '../eval/roc.js';
import type { EmbeddingKind } from '../models/catface.js';
import type { PlannedRun } from './plan.js';
import { type SeedInterval, seedPairInterval, type Verdict, verdictOf } from './seed-interval.js';
import type { Study } from './studies.js';
import { PROTOCOLS, type ProtocolName } from './test-protocols.js';
import { decodeBits, decodeScores, type StoredScore, type UnitResult } from './unit.js';

type Interval = Pick<SeedInterval, 'value' | 'low' | 'high' | 'perSeed'>;

export interface StudySummary {
  study: string;
  embedding: EmbeddingKind;
  reference: string;
  seeds: number[];
  pairs: number;
  variants: {
    id: string;
    doc: string;
    /** Seeds with a finished run. */
    seeds: number[];
    accuracy: Partial<Record<ProtocolName, Interval>>;
    auc: Partial<Record<ProtocolName, number[]>>;
    /** Seeds whose model gave non-finite embeddings (training diverged): their pairs count as rejected. */
    nonFiniteSeeds: number[];
    /** This variant − the reference, paired over the seeds both have. */
    difference: Partial<Record<ProtocolName, Interval>>;
  }[];
  claims: {
    text: string;
    source: string;
    protocol: ProtocolName;
    better: string;
    worse: string;
    difference: Interval | null;
    verdict: Verdict | 'not run' | 'one seed: no verdict';
  }[];
}

const round = (x: number) => Math.round(x * 1e6) / 1e6;
const rounded = (i: SeedInterval): Interval => ({
  value: round(i.value),
  low: round(i.low),
  high: round(i.high),
  perSeed: i.perSeed.map(round),
});

/** The study's numbers from the finished runs (`results` by unit id; unfinished runs are absent). */
export function summarizeStudy(study: Study, seeds: number[], runs: PlannedRun[], results: Map<string, UnitResult>): StudySummary {
  const kind = study.embedding;
  const scoreOf = (variant: string, seed: number, protocol: ProtocolName): StoredScore | null => {
    const run = runs.find((r) => r.variant === variant && r.seed === seed);
    const result = run && results.get(run.unit);
    return result?.embeddings[kind]?.find((s) => s.protocol === protocol) ?? null;
  };
  const anyResult = [...results.values()][0];
  const strata = anyResult ? decodeBits(anyResult.same) : new Uint8Array(0);
  const seedsOf = (variant: string) => seeds.filter((s) => PROTOCOLS.every((p) => scoreOf(variant, s, p)));
  const difference = (a: string, b: string, protocol: ProtocolName): Interval | null => {
    const both = seedsOf(a).filter((s) => seedsOf(b).includes(s));
    if (both.length === 0) return null;
    const values = both.map((s) => {
      const ca = decodeBits((scoreOf(a, s, protocol) as StoredScore).correct);
      const cb = decodeBits((scoreOf(b, s, protocol) as StoredScore).correct);
      return Float64Array.from(ca, (v, i) => v - cb[i]);
    });
    return rounded(seedPairInterval(values, strata, [-1, 1]));
  };
  const variants = study.variants.map((v) => {
    const done = seedsOf(v.id);
    const accuracy: StudySummary['variants'][number]['accuracy'] = {};
    const aucs: StudySummary['variants'][number]['auc'] = {};
    const diffs: StudySummary['variants'][number]['difference'] = {};
    for (const protocol of PROTOCOLS) {
      if (done.length === 0) continue;
      accuracy[protocol] = rounded(
        seedPairInterval(
          done.map((s) => decodeBits((scoreOf(v.id, s, protocol) as StoredScore).correct)),
          strata,
          [0, 1],
        ),
      );
      aucs[protocol] = done.map((s) => round((scoreOf(v.id, s, protocol) as StoredScore).auc));
      if (v.id !== study.reference) {
        const d = difference(v.id, study.reference, protocol);
        if (d) diffs[protocol] = d;
      }
    }
    const nonFiniteSeeds = done.filter((s) => PROTOCOLS.some((p) => (scoreOf(v.id, s, p) as StoredScore).nonFinite > 0));
    return { id: v.id, doc: v.doc, seeds: done, nonFiniteSeeds, accuracy, auc: aucs, difference: diffs };
  });
  const claims = study.claims.map((c) => {
    const d = difference(c.better, c.worse, c.protocol);
    // one seed is no verdict: the seed alone can decide it (the demo's single-seed gains flipped sign with the seed)
    const verdict = !d ? ('not run' as const) : d.perSeed.length < 2 ? ('one seed: no verdict' as const) : verdictOf(d);
    return { ...c, difference: d, verdict };
  });
  return { study: study.name, embedding: kind, reference: study.reference, seeds, pairs: strata.length, variants, claims };
}

const cell = (i: Interval | null | undefined) => (i ? { value: i.value, low: i.low, high: i.high, percent: true } : null);
const points = (i: Interval | null | undefined) => (i ? i.perSeed.map((v) => (100 * v).toFixed(2)).join(', ') : '—');

/** ROC curves of every variant on one protocol, each pooled over its seeds' scores. */
function pooledCurves(study: Study, runs: PlannedRun[], results: Map<string, UnitResult>, protocol: ProtocolName) {
  return study.variants.flatMap((v) => {
    const scores: number[] = [];
    const labels: boolean[] = [];
    for (const run of runs.filter((r) => r.variant === v.id)) {
      const result = results.get(run.unit);
      const stored = result?.embeddings[study.embedding]?.find((s) => s.protocol === protocol);
      if (!result || !stored) continue;
      scores.push(...decodeScores(stored.scores));
      labels.push(...[...decodeBits(result.same)].map((b) => b === 1));
    }
    if (scores.length === 0) return [];
    const roc = new SortedScores(scores, labels).roc();
    return [{ label: v.id, fpr: roc.fpr, tpr: roc.tpr }];
  });
}

/** The report's sections; `context` says what ran (data, scale, CI method) in the study's own words. */
export function studySections(
  study: Study,
  summary: StudySummary,
  runs: PlannedRun[],
  results: Map<string, UnitResult>,
  context: string,
): ReportSection[] {
  const embedding = study.embedding === 'fused' ? 'the fused embedding' : "the FR branch's embedding";
  return [
    { kind: 'text', title: 'What ran', text: `${study.doc}.\n\n${context}` },
    {
      kind: 'table',
      title: "Verdicts on the paper's claims",
      columns: ['claim', 'source', 'protocol', 'difference (mean over seeds)', 'per seed', 'verdict'],
      rows: summary.claims.map((c) => [c.text, c.source, c.protocol, cell(c.difference), points(c.difference), c.verdict]),
      note: `Difference of 10-fold accuracy (${embedding}), percentage points, 95% interval over seeds and pairs. "holds": the interval lies above 0; "reversed": below 0; otherwise "not resolved at this scale"; a claim with one seed gets no verdict.${summary.claims.length === 0 ? ' This study tests no claim of the paper: its grid is descriptive.' : ''}`,
    },
    {
      kind: 'table',
      title: `Accuracy per variant (mean over seeds, 95% interval) — ${embedding}`,
      columns: ['variant', 'override', 'seeds', ...PROTOCOLS, 'diverged (NaN embeddings)'],
      rows: summary.variants.map((v) => [
        v.id + (v.id === study.reference ? ' (reference)' : ''),
        v.doc,
        v.seeds.length,
        ...PROTOCOLS.map((p) => cell(v.accuracy[p])),
        v.nonFiniteSeeds.length > 0 ? `seed ${v.nonFiniteSeeds.join(', ')}` : 'none',
      ]),
      note: 'A run whose model gives non-finite embeddings (its training diverged) is kept: its pairs with a NaN score count as rejected.',
    },
    {
      kind: 'table',
      title: `Difference to the reference '${study.reference}' (paired: same pairs, same seeds)`,
      columns: ['variant', ...PROTOCOLS.flatMap((p) => [p, 'per seed'])],
      rows: summary.variants
        .filter((v) => v.id !== study.reference)
        .map((v) => [v.id, ...PROTOCOLS.flatMap((p) => [cell(v.difference[p]), points(v.difference[p])])]),
      note: 'Percentage points of 10-fold accuracy; a positive difference means the variant beats the reference.',
    },
    {
      kind: 'table',
      title: 'Per seed: 10-fold accuracy and AUC',
      columns: ['variant', 'seed', ...PROTOCOLS.map((p) => `${p} accuracy`), ...PROTOCOLS.map((p) => `${p} AUC`)],
      rows: summary.variants.flatMap((v) =>
        v.seeds.map((s, k) => [
          v.id,
          s,
          ...PROTOCOLS.map((p) => ({ value: (v.accuracy[p] as Interval).perSeed[k], percent: true })),
          ...PROTOCOLS.map((p) => ({ value: (v.auc[p] as number[])[k], percent: false, digits: 4 })),
        ]),
      ),
    },
    ...PROTOCOLS.map(
      (p): ReportSection => ({
        kind: 'roc',
        title: `ROC, ${p} (pooled over seeds)`,
        curves: pooledCurves(study, runs, results, p),
      }),
    ),
  ];
}
