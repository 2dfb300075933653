// `catface align`: detect faces and align a folder tree to the 5-point template, into a cache.
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { alignFolder } from '../data/align/align-folder.js';
import { type Command, UsageError } from './command.js';

export const align: Command = {
  name: 'align',
  summary: 'detect and align faces of a folder tree to the 5-point template (cached, resumable)',
  usage: [
    'catface align <in> <out> [--size 112] [--workers 2] [--min-score 0.3]',
    '',
    'Detects the most confident face in every image under <in> (Human blazeface + face mesh on tfjs wasm,',
    'offline), aligns it by a similarity transform to the ArcFace template scaled to --size, and writes',
    '<out>/<same relative path>.png, <out>/manifest.json (source, box, landmarks, score) and <out>/report.txt',
    '(images with no face and files that failed). A re-run skips what is done and retries failures.',
    '<in>/attributes.csv is copied, so <out> reads as an image folder.',
  ].join('\n'),
  async run(argv) {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        size: { type: 'string', default: '112' },
        workers: { type: 'string', default: '2' },
        'min-score': { type: 'string', default: '0.3' },
      },
    });
    if (positionals.length !== 2) throw new UsageError('expected <in> and <out>');
    const size = Number(values.size);
    if (!Number.isInteger(size) || size < 16) throw new UsageError(`--size must be an integer ≥ 16, got '${values.size}'`);
    const workers = Number(values.workers);
    if (!Number.isInteger(workers) || workers < 0) throw new UsageError(`--workers must be 0 or more, got '${values.workers}'`);
    const minScore = Number(values['min-score']);
    if (!(minScore >= 0 && minScore <= 1)) throw new UsageError(`--min-score must be in [0, 1], got '${values['min-score']}'`);
    const [input, output] = positionals;
    const summary = await alignFolder(input, output, {
      size,
      workers,
      minScore,
      onProgress: (done, total) => {
        if (process.stderr.isTTY) process.stderr.write(`\r${done}/${total}`);
      },
    });
    if (process.stderr.isTTY) process.stderr.write('\n');
    const { manifest } = summary;
    const rate = summary.processed > 0 ? ` (${(summary.processed / summary.seconds).toFixed(1)} images/s)` : '';
    console.log(
      `processed ${summary.processed} image(s), ${summary.aligned} aligned, skipped ${summary.skipped} already done, in ${summary.seconds.toFixed(1)} s${rate}`,
    );
    console.log(
      `cache: ${manifest.entries.length} aligned, ${manifest.noFace.length} without a face, ${manifest.failed.length} failed — see ${join(output, 'report.txt')}`,
    );
    if (summary.report.size > 0) console.log(`ignored ${summary.report.size} non-image file(s):\n${summary.report}`);
    return manifest.failed.length > 0 ? 1 : 0;
  },
};
