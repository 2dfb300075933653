// `writeReport(dir, report)`: one self-contained HTML page (inline CSS, no scripts, no network) plus one
// PNG per figure beside it. Sections are typed data — metrics tables with confidence intervals, ROC curves
// of several models on one plot, genuine/impostor histograms, CMC curves, text — so any caller (the CLI,
// `catface demo` comparing the baseline with CATFace) builds a report without touching HTML or charts.
import { mkdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { writeFileDurably } from '../io/durable.js';
import { claimFolder, recordFolder } from '../io/owned-folder.js';
import { type CmcInput, type CurveInput, cmcSpec, type HistogramInput, histogramSpec, renderPng, rocSpec } from './charts.js';

/** A number with an optional confidence interval; shown as "99.12 [98.80, 99.40]". */
export interface MetricCell {
  value: number | null;
  low?: number;
  high?: number;
  /** Multiply by 100 and show as a percentage (default true for values in [0, 1]). */
  percent?: boolean;
  /** Digits after the point (default 2). */
  digits?: number;
}

export type Cell = MetricCell | string | number | null;

export type ReportSection =
  | { kind: 'text'; title?: string; text: string }
  | { kind: 'table'; title: string; columns: string[]; rows: Cell[][]; note?: string }
  | { kind: 'roc'; title: string; curves: CurveInput[]; note?: string }
  | ({ kind: 'histogram'; title: string; note?: string } & HistogramInput)
  | { kind: 'cmc'; title: string; curves: CmcInput[]; note?: string };

export interface Report {
  title: string;
  subtitle?: string;
  sections: ReportSection[];
}

export interface WrittenReport {
  /** Path of index.html. */
  html: string;
  /** Paths of the PNG figures, in section order. */
  figures: string[];
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

function slug(text: string): string {
  return (
    text
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-|-$/g, '')
      .slice(0, 40) || 'figure'
  );
}

function formatNumber(v: number, percent: boolean, digits: number): string {
  return (percent ? v * 100 : v).toFixed(digits);
}

/** The text of one table cell. */
export function formatCell(cell: Cell): string {
  if (cell === null) return '—';
  if (typeof cell === 'string') return cell;
  if (typeof cell === 'number') return Number.isInteger(cell) ? String(cell) : cell.toFixed(4);
  if (cell.value === null || !Number.isFinite(cell.value)) return '—';
  const percent = cell.percent ?? (cell.value >= 0 && cell.value <= 1);
  const digits = cell.digits ?? 2;
  const main = formatNumber(cell.value, percent, digits);
  if (cell.low === undefined || cell.high === undefined || !Number.isFinite(cell.low)) return main;
  return `${main} [${formatNumber(cell.low, percent, digits)}, ${formatNumber(cell.high, percent, digits)}]`;
}

const STYLE = `body{font-family:system-ui,'DejaVu Sans',sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
h1{margin-bottom:.2em}p.subtitle{color:#555;margin-top:0}section{margin:2em 0}
table{border-collapse:collapse;font-variant-numeric:tabular-nums}th,td{border-bottom:1px solid #ddd;padding:.35em .8em;text-align:right}
th:first-child,td:first-child{text-align:left}th{background:#f4f4f4}img{max-width:100%;border:1px solid #eee}
p.note{color:#666;font-size:.9em}footer{color:#888;font-size:.85em;margin-top:3em}`;

/** Writes `dir/index.html` and its PNG figures; returns their paths. */
export async function writeReport(dir: string, report: Report, force = false): Promise<WrittenReport> {
  // writes only into a new, empty or earlier report folder; figures of an earlier report are removed
  const folder = claimFolder(dir, 'report', force);
  mkdirSync(dir, { recursive: true });
  const figures: string[] = [];
  const body: string[] = [];
  for (const [index, section] of report.sections.entries()) {
    const heading = section.title ? `<h2>${escapeHtml(section.title)}</h2>` : '';
    const note = 'note' in section && section.note ? `<p class="note">${escapeHtml(section.note)}</p>` : '';
    if (section.kind === 'text') {
      body.push(
        `<section>${heading}${section.text
          .split(/\n{2,}/)
          .map((p) => `<p>${escapeHtml(p)}</p>`)
          .join('')}</section>`,
      );
      continue;
    }
    if (section.kind === 'table') {
      section.rows.forEach((row, r) => {
        if (row.length !== section.columns.length) {
          throw new RangeError(
            `writeReport: table '${section.title}' row ${r} has ${row.length} cells for ${section.columns.length} columns`,
          );
        }
      });
      const head = `<tr>${section.columns.map((c) => `<th>${escapeHtml(c)}</th>`).join('')}</tr>`;
      const rows = section.rows.map((row) => `<tr>${row.map((c) => `<td>${escapeHtml(formatCell(c))}</td>`).join('')}</tr>`).join('\n');
      body.push(`<section>${heading}<table>${head}\n${rows}</table>${note}</section>`);
      continue;
    }
    const spec =
      section.kind === 'roc'
        ? rocSpec(section.title, section.curves)
        : section.kind === 'cmc'
          ? cmcSpec(section.title, section.curves)
          : histogramSpec(section.title, section);
    const name = `fig-${String(index + 1).padStart(2, '0')}-${slug(section.title)}.png`;
    const path = join(dir, name);
    await renderPng(spec, path);
    figures.push(path);
    body.push(`<section>${heading}<img src="${escapeHtml(name)}" alt="${escapeHtml(section.title)}">${note}</section>`);
  }
  const subtitle = report.subtitle ? `<p class="subtitle">${escapeHtml(report.subtitle)}</p>` : '';
  const html = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(report.title)}</title><style>${STYLE}</style></head>
<body><h1>${escapeHtml(report.title)}</h1>${subtitle}
${body.join('\n')}
<footer>Written by catface on ${new Date().toISOString()}.</footer>
</body></html>
`;
  const htmlPath = join(dir, 'index.html');
  writeFileDurably(htmlPath, html);
  recordFolder(folder, ['index.html', ...figures.map((f) => basename(f))]);
  return { html: htmlPath, figures };
}
