// `catface report`: one HTML page with PNG figures from saved evaluation results (`catface eval … --out`):
// a metrics table with confidence intervals, ROC curves of every model per dataset on one log-FAR plot,
// genuine/impostor histograms and CMC curves.
import { parseArgs } from 'node:util';
import { writeReport } from '../eval/report.js';
import { loadRecord, reportFromRecords } from '../eval/results.js';
import { assertSeparate } from '../io/separate-paths.js';
import { type Command, UsageError } from './command.js';

export const reportCommand: Command = {
  name: 'report',
  summary: 'write an HTML report (ROC, score histograms, CMC, metrics with CIs) from saved eval results',
  usage: [
    'catface report --out DIR [--title TEXT] [--force] RESULT.json [RESULT.json …]',
    '',
    'RESULT files come from `catface eval verify|identify|ijb … --out RESULT.json`. Results on the same dataset',
    'share one ROC / CMC plot, so a baseline and CATFace (or the face-api.js peer) compare at a glance.',
    'Writes DIR/index.html (self-contained: inline CSS, no scripts) and DIR/fig-*.png. DIR must be new, empty or an',
    'earlier report (whose figures are replaced); --force writes beside other files, deleting none. DIR must not',
    'contain a RESULT file.',
  ].join('\n'),
  async run(argv) {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        out: { type: 'string' },
        title: { type: 'string', default: 'catface evaluation' },
        force: { type: 'boolean', default: false },
      },
    });
    if (!values.out) throw new UsageError('--out DIR is required');
    if (positionals.length === 0) throw new UsageError('give at least one RESULT.json');
    assertSeparate(
      [{ role: '--out', path: values.out }],
      positionals.map((path) => ({ role: 'result', path })),
    );
    const records = positionals.map(loadRecord);
    const written = await writeReport(
      values.out,
      reportFromRecords(values.title as string, records, `${records.length} result(s)`),
      values.force,
    );
    console.log(`report: ${written.html} (${written.figures.length} figures)`);
    return 0;
  },
};
