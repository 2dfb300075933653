// Report figures as Vega-Lite specifications, rendered in Node without a canvas: Vega-Lite → Vega →
// `View.toSVG()` → PNG through sharp (librsvg). Data is reduced here (ROC thinned on the log-FAR axis,
// histograms binned) so the specs stay small whatever the number of pairs.
import sharp from 'sharp';
import * as vega from 'vega';
import * as vegaLite from 'vega-lite';
import { writeFileDurably } from '../io/durable.js';

export interface CurveInput {
  label: string;
  fpr: ArrayLike<number>;
  tpr: ArrayLike<number>;
}

export interface CmcInput {
  label: string;
  /** cmc[r−1] = identification rate within rank r. */
  cmc: ArrayLike<number>;
}

export interface HistogramInput {
  genuine: ArrayLike<number>;
  impostor: ArrayLike<number>;
  /** Axis title of the score (default 'score'). */
  xLabel?: string;
  /** Number of bins over the joint range (default 60). */
  bins?: number;
}

type Spec = vegaLite.TopLevelSpec;

const WIDTH = 520;
const HEIGHT = 340;

/**
 * ROC points with FAR > 0, thinned to about `keep` points evenly spaced in log10(FAR). Each kept point is the
 * last of its bin, so at every plotted FAR the curve shows the highest TAR reached there — as the table's
 * TAR@FAR does — never a lower one from the same FAR's ties.
 */
function thinRoc(curve: CurveInput, keep = 400): { far: number; tar: number; model: string }[] {
  const points: { far: number; tar: number; model: string }[] = [];
  const n = curve.fpr.length;
  let first = 0;
  while (first < n && !(curve.fpr[first] > 0)) first++;
  if (first >= n) return points;
  const origin = Math.log10(curve.fpr[first]);
  const step = Math.max(1e-12, -origin) / keep;
  const bin = (i: number) => (i < n ? Math.floor((Math.log10(curve.fpr[i]) - origin) / step) : Number.POSITIVE_INFINITY);
  for (let i = first; i < n; i++) {
    if (i + 1 < n && curve.fpr[i + 1] === curve.fpr[i]) continue; // a higher TAR at this FAR follows
    if (points.length === 0 || bin(i + 1) !== bin(i)) points.push({ far: curve.fpr[i], tar: curve.tpr[i], model: curve.label });
  }
  return points;
}

/** Several ROC curves on one plot, TAR against FAR on a log axis. */
export function rocSpec(title: string, curves: readonly CurveInput[]): Spec {
  return {
    title,
    width: WIDTH,
    height: HEIGHT,
    data: { values: curves.flatMap((c) => thinRoc(c)) },
    mark: { type: 'line', interpolate: 'step-after', strokeWidth: 2 },
    encoding: {
      x: { field: 'far', type: 'quantitative', scale: { type: 'log' }, title: 'false accept rate (log)' },
      y: { field: 'tar', type: 'quantitative', scale: { zero: false }, title: 'true accept rate' },
      color: { field: 'model', type: 'nominal', title: null, sort: null },
    },
  };
}

/** Genuine and impostor score distributions (densities over shared bins), overlaid. */
export function histogramSpec(title: string, input: HistogramInput): Spec {
  const bins = input.bins ?? 60;
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (const set of [input.genuine, input.impostor]) {
    for (let i = 0; i < set.length; i++) {
      lo = Math.min(lo, set[i]);
      hi = Math.max(hi, set[i]);
    }
  }
  if (!(hi > lo)) hi = lo + 1;
  const width = (hi - lo) / bins;
  const values: { x: number; x2: number; density: number; pairs: string }[] = [];
  for (const [name, set] of [
    ['genuine', input.genuine],
    ['impostor', input.impostor],
  ] as const) {
    const counts = new Float64Array(bins);
    for (let i = 0; i < set.length; i++) counts[Math.min(bins - 1, Math.floor((set[i] - lo) / width))]++;
    counts.forEach((c, b) => {
      values.push({
        x: lo + b * width,
        x2: lo + (b + 1) * width,
        density: set.length ? c / set.length / width : 0,
        pairs: `${name} (${set.length})`,
      });
    });
  }
  return {
    title,
    width: WIDTH,
    height: HEIGHT,
    data: { values },
    mark: { type: 'rect', opacity: 0.55 },
    encoding: {
      x: { field: 'x', type: 'quantitative', title: input.xLabel ?? 'score' },
      x2: { field: 'x2' },
      y: { field: 'density', type: 'quantitative', title: 'density', stack: null },
      y2: { datum: 0 },
      color: { field: 'pairs', type: 'nominal', title: null, scale: { range: ['#2a9d4b', '#d1495b'] } },
    },
  };
}

/** Cumulative match characteristic curves: identification rate against rank. */
export function cmcSpec(title: string, curves: readonly CmcInput[]): Spec {
  const values = curves.flatMap((c) => Array.from(c.cmc, (rate, i) => ({ rank: i + 1, rate, model: c.label })));
  return {
    title,
    width: WIDTH,
    height: HEIGHT,
    data: { values },
    mark: { type: 'line', point: true, strokeWidth: 2 },
    encoding: {
      x: { field: 'rank', type: 'quantitative', title: 'rank', axis: { tickMinStep: 1 } },
      y: { field: 'rate', type: 'quantitative', scale: { zero: false }, title: 'identification rate' },
      color: { field: 'model', type: 'nominal', title: null, sort: null },
    },
  };
}

/** Renders a Vega-Lite spec to a PNG file (2× scale for sharp text), written atomically. */
export async function renderPng(spec: Spec, path: string): Promise<void> {
  const compiled = vegaLite.compile({ background: 'white', config: { font: 'DejaVu Sans' }, ...spec } as Spec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    const svg = await view.toSVG(2);
    writeFileDurably(path, await sharp(Buffer.from(svg)).png().toBuffer());
  } finally {
    view.finalize();
  }
}
