// Evaluation results as JSON records (what `catface eval … --out` saves and `catface report` reads), and the
// report page built from several of them: one metrics table, one ROC plot per dataset with every model on
// it, a genuine/impostor histogram per result, one CMC plot per dataset.

import { DataError } from '../data/errors.js';
import { readInputFile } from '../data/files.js';
import { writeFileDurably } from '../io/durable.js';
import type { PairedDifference } from './bootstrap.js';
import type { Cell, Report, ReportSection } from './report.js';
import { farLabel, SortedScores } from './roc.js';
import { compareVerification, type IdentificationSummary, type MetricWithInterval, type VerificationSummary } from './summary.js';

export const RESULT_FORMAT = 'catface-eval-result';

export interface VerificationRecord {
  format: typeof RESULT_FORMAT;
  kind: 'verification';
  /** The model or peer, e.g. 'faceapi' or a model directory's name. */
  model: string;
  /** The pair set, e.g. 'lfw.bin'. */
  dataset: string;
  summary: Omit<VerificationSummary, 'roc'>;
  /** Per-pair scores and labels, for ROC curves and histograms. */
  scores: number[];
  labels: number[];
}

export interface IdentificationRecord {
  format: typeof RESULT_FORMAT;
  kind: 'identification';
  model: string;
  dataset: string;
  /** The protocol in words, e.g. 'leave-one-out' or 'first image per identity as gallery'. */
  protocol: string;
  summary: Omit<IdentificationSummary, 'cmc'> & { cmc: number[] };
}

export type EvalRecord = VerificationRecord | IdentificationRecord;

export function verificationRecord(
  model: string,
  dataset: string,
  summary: VerificationSummary,
  scores: ArrayLike<number>,
  labels: ArrayLike<number>,
): VerificationRecord {
  const { roc: _roc, ...rest } = summary;
  return {
    format: RESULT_FORMAT,
    kind: 'verification',
    model,
    dataset,
    summary: rest,
    scores: Array.from(scores),
    labels: Array.from(labels),
  };
}

export function identificationRecord(
  model: string,
  dataset: string,
  protocol: string,
  summary: IdentificationSummary,
): IdentificationRecord {
  return { format: RESULT_FORMAT, kind: 'identification', model, dataset, protocol, summary: { ...summary, cmc: Array.from(summary.cmc) } };
}

/** Writes a record as JSON (atomically). */
export function saveRecord(path: string, record: EvalRecord): void {
  writeFileDurably(path, `${JSON.stringify(record)}\n`);
}

/** Reads a record, with a clear error for a file that is not one. */
export function loadRecord(path: string): EvalRecord {
  const text = readInputFile(path).toString('utf8');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new DataError(path, `not a JSON result file (${(err as Error).message})`);
  }
  const record = value as Partial<EvalRecord>;
  if (record?.format !== RESULT_FORMAT) throw new DataError(path, `not a catface eval result (format must be '${RESULT_FORMAT}')`);
  if (record.kind !== 'verification' && record.kind !== 'identification')
    throw new DataError(path, `unknown result kind '${String(record.kind)}'`);
  if (typeof record.model !== 'string' || typeof record.dataset !== 'string' || typeof record.summary !== 'object') {
    throw new DataError(path, 'result lacks model, dataset or summary');
  }
  if (record.kind === 'verification') {
    const v = record as VerificationRecord;
    if (!Array.isArray(v.scores) || !Array.isArray(v.labels) || v.scores.length !== v.labels.length) {
      throw new DataError(path, 'verification result needs scores and labels of equal length');
    }
  }
  return record as EvalRecord;
}

const metric = (m: MetricWithInterval | undefined): Cell => (m ? { value: m.value, low: m.low, high: m.high } : null);

function groupByDataset<T extends EvalRecord>(records: T[]): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const r of records) groups.set(r.dataset, [...(groups.get(r.dataset) ?? []), r]);
  return groups;
}

/** A report page from saved results (the sections `writeReport` draws). */
export function reportFromRecords(title: string, records: readonly EvalRecord[], subtitle?: string): Report {
  const sections: ReportSection[] = [];
  const verification = records.filter((r): r is VerificationRecord => r.kind === 'verification');
  const identification = records.filter((r): r is IdentificationRecord => r.kind === 'identification');
  if (verification.length > 0) {
    // FARs no result could measure would only add empty columns.
    const fars = [...new Set(verification.flatMap((r) => r.summary.tarAtFar.filter((t) => t.value !== null).map((t) => t.far)))].sort(
      (a, b) => b - a,
    );
    sections.push({
      kind: 'table',
      title: 'Verification (%, 95% bootstrap CI)',
      columns: ['dataset', 'model', 'pairs', '10-fold accuracy', 'AUC', 'EER', ...fars.map((f) => `TAR@FAR=${farLabel(f)}`)],
      rows: verification.map((r) => [
        r.dataset,
        r.model,
        r.summary.pairs,
        metric(r.summary.accuracy),
        metric(r.summary.auc),
        metric(r.summary.eer),
        ...fars.map((f) => metric(r.summary.tarAtFar.find((t) => t.far === f))),
      ]),
      note: 'TAR@FAR shows — where the impostor pairs are too few to measure that FAR.',
    });
    for (const [dataset, group] of groupByDataset(verification)) {
      sections.push({
        kind: 'roc',
        title: `ROC — ${dataset}`,
        curves: group.map((r) => {
          const roc = new SortedScores(r.scores, r.labels).roc();
          return { label: r.model, fpr: roc.fpr, tpr: roc.tpr };
        }),
      });
      const comparisons = pairedComparisons(group);
      if (comparisons.length > 0) {
        sections.push({
          kind: 'table',
          title: `Paired comparison — ${dataset} (difference in points, 95% paired bootstrap CI)`,
          columns: ['model', 'vs', 'Δ 10-fold accuracy', 'Δ AUC', 'P(not better)'],
          rows: comparisons,
          note: 'Both models resampled on the same pairs; P(not better) is the share of resamples where the first model did not beat the second on accuracy.',
        });
      }
      for (const r of group) {
        sections.push({
          kind: 'histogram',
          title: `Scores — ${r.model} on ${dataset}`,
          genuine: r.scores.filter((_, i) => r.labels[i] === 1),
          impostor: r.scores.filter((_, i) => r.labels[i] !== 1),
          xLabel: 'score',
        });
      }
    }
  }
  if (identification.length > 0) {
    const ranks = [...new Set(identification.flatMap((r) => r.summary.ranks.map((k) => k.rank)))].sort((a, b) => a - b);
    const fars = [...new Set(identification.flatMap((r) => r.summary.dirAtFar.map((d) => d.far)))].sort((a, b) => b - a);
    sections.push({
      kind: 'table',
      title: 'Identification (%, 95% bootstrap CI)',
      columns: ['dataset', 'protocol', 'model', 'probes', ...ranks.map((k) => `rank-${k}`), ...fars.map((f) => `DIR@FAR=${farLabel(f)}`)],
      rows: identification.map((r) => [
        r.dataset,
        r.protocol,
        r.model,
        r.summary.probes,
        ...ranks.map((k) => metric(r.summary.ranks.find((x) => x.rank === k))),
        ...fars.map((f) => metric({ value: r.summary.dirAtFar.find((d) => d.far === f)?.dir ?? null })),
      ]),
    });
    for (const [dataset, group] of groupByDataset(identification)) {
      sections.push({ kind: 'cmc', title: `CMC — ${dataset}`, curves: group.map((r) => ({ label: r.model, cmc: r.summary.cmc })) });
    }
  }
  return { title, subtitle, sections };
}

/** Each model against the group's first one, on the same pairs (skipped where the pair labels differ). */
function pairedComparisons(group: VerificationRecord[]): Cell[][] {
  const [base, ...others] = group;
  const rows: Cell[][] = [];
  for (const other of others) {
    const same = other.labels.length === base.labels.length && other.labels.every((l, i) => l === base.labels[i]);
    if (!same) continue;
    const diff = compareVerification(other, base, { bootstrap: { resamples: 1000 } });
    const points = (d: PairedDifference): Cell => ({ value: d.value * 100, low: d.low * 100, high: d.high * 100, percent: false });
    rows.push([
      other.model,
      base.model,
      points(diff.accuracy),
      points(diff.auc),
      { value: diff.accuracy.pNotBetter, percent: false, digits: 3 },
    ]);
  }
  return rows;
}
