// writeReport: one HTML page whose every <img> is an existing, non-empty PNG written beside it, with the
// metrics table formatted with confidence intervals; bad tables are refused by name.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { Prng } from '../src/common/prng.js';
import { rocSpec } from '../src/eval/charts.js';
import { formatCell, writeReport } from '../src/eval/report.js';
import { SortedScores } from '../src/eval/roc.js';

function scores(seed: number, shift: number): { genuine: number[]; impostor: number[]; all: number[]; labels: number[] } {
  const prng = new Prng(seed);
  const genuine = Array.from({ length: 3000 }, () => shift + 0.25 * (prng.uniform() + prng.uniform() + prng.uniform() - 1.5));
  const impostor = Array.from({ length: 3000 }, () => 0.25 * (prng.uniform() + prng.uniform() + prng.uniform() - 1.5));
  return { genuine, impostor, all: [...genuine, ...impostor], labels: [...genuine.map(() => 1), ...impostor.map(() => 0)] };
}

test('report: HTML references existing non-empty PNGs for ROC, histogram and CMC', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'catface-report-'));
  try {
    const baseline = scores(1, 0.45);
    const catface = scores(2, 0.6);
    const rocOf = (s: ReturnType<typeof scores>) => new SortedScores(s.all, s.labels).roc();
    const written = await writeReport(dir, {
      title: 'Baseline vs CATFace <test>',
      subtitle: 'synthetic scores',
      sections: [
        { kind: 'text', title: 'About', text: 'First paragraph.\n\nSecond & last.' },
        {
          kind: 'table',
          title: 'Verification',
          columns: ['model', 'accuracy', 'TAR@FAR=1e-3'],
          rows: [
            ['baseline', { value: 0.9123, low: 0.9, high: 0.92 }, { value: null }],
            ['CATFace', { value: 0.9311, low: 0.92, high: 0.94 }, { value: 0.8, low: 0.75, high: 0.85 }],
          ],
        },
        {
          kind: 'roc',
          title: 'ROC',
          curves: [
            { label: 'baseline', ...rocOf(baseline) },
            { label: 'CATFace', ...rocOf(catface) },
          ],
        },
        { kind: 'histogram', title: 'CATFace scores', genuine: catface.genuine, impostor: catface.impostor, xLabel: 'cosine' },
        {
          kind: 'cmc',
          title: 'CMC',
          curves: [
            { label: 'baseline', cmc: [0.6, 0.7, 0.75, 0.8, 0.82] },
            { label: 'CATFace', cmc: [0.7, 0.78, 0.83, 0.86, 0.88] },
          ],
        },
      ],
    });
    const html = readFileSync(written.html, 'utf8');
    assert.match(html, /<title>Baseline vs CATFace &lt;test&gt;<\/title>/);
    assert.match(html, /<td>91\.23 \[90\.00, 92\.00\]<\/td>/);
    assert.match(html, /<td>—<\/td>/);
    assert.match(html, /Second &amp; last\./);
    assert.doesNotMatch(html, /<script|https?:\/\//);
    const sources = [...html.matchAll(/<img src="([^"]+)"/g)].map((m) => m[1]);
    assert.equal(sources.length, 3);
    assert.deepEqual(
      sources.map((s) => join(dir, s)),
      written.figures,
    );
    for (const figure of written.figures) {
      assert.ok(existsSync(figure) && statSync(figure).size > 5000, `${figure} missing or tiny`);
      const meta = await sharp(figure).metadata();
      assert.equal(meta.format, 'png');
      assert.ok((meta.width ?? 0) > 800 && (meta.height ?? 0) > 500, `${figure}: ${meta.width}×${meta.height}`);
      // Not a blank canvas: the plot draws in colour.
      const stats = await sharp(figure).stats();
      assert.ok(stats.channels[0].stdev > 10, `${figure} looks blank`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('report: cell formatting and a ragged table is refused by name', async () => {
  assert.equal(formatCell({ value: 0.5 }), '50.00');
  assert.equal(formatCell({ value: 12.3456, digits: 1 }), '12.3');
  assert.equal(formatCell({ value: 0.01, percent: false, digits: 3, low: 0.005, high: 0.02 }), '0.010 [0.005, 0.020]');
  assert.equal(formatCell(null), '—');
  const dir = mkdtempSync(join(tmpdir(), 'catface-report-'));
  try {
    await assert.rejects(
      writeReport(dir, { title: 't', sections: [{ kind: 'table', title: 'Bad', columns: ['a', 'b'], rows: [['x']] }] }),
      /table 'Bad' row 0 has 1 cells for 2 columns/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('ROC thinning keeps the highest TAR at each plotted FAR (ties at one FAR used to plot the lowest)', () => {
  // many genuine pairs share each impostor score, so each FAR holds a run of rising TARs
  const fpr: number[] = [0];
  const tpr: number[] = [0];
  for (let k = 1; k <= 2000; k++)
    for (let j = 1; j <= 5; j++) {
      fpr.push(k / 2000);
      tpr.push(Math.min(1, (k - 1 + j / 5) / 2000) ** 0.2);
    }
  const spec = rocSpec('roc', [{ label: 'm', fpr, tpr }]) as unknown as { data: { values: { far: number; tar: number }[] } };
  const points = spec.data.values;
  assert.ok(points.length > 50 && points.length < 500, `${points.length} points`);
  const best = new Map<number, number>();
  for (const [i, f] of fpr.entries()) best.set(f, Math.max(best.get(f) ?? 0, tpr[i]));
  for (const p of points) assert.equal(p.tar, best.get(p.far), `TAR at FAR ${p.far}`);
  assert.equal(points[0].far, 1 / 2000);
  assert.equal(points[points.length - 1].far, 1);
});
