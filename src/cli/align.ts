// `catface align`: detect faces and align a folder tree to the 5-point template, into a cache.
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { alignFolder } from '../data/align/align-folder.js';
import { detectorChoice } from '../serve/face-detectors.js';
import { type Command, UsageError } from './command.js';
import { intFlag, numberFlag, RANGES } from './flags.js';
import { parseDetector } from './photos.js';

export const align: Command = {
  name: 'align',
  summary: 'detect and align faces of a folder tree to the 5-point template (cached, resumable)',
  usage: [
    'catface align <in> <out> [--size 112] [--template arcface|dlib] [--workers 2] [--min-score 0.3]',
    '              [--detector onnx|libtorch|human] [--force]',
    '',
    'Ranges: --size 16–1024, --workers 0–64, --min-score 0–1.',
    '',
    'Detects the most confident face in every image under <in> (BlazeFace + FaceMesh, offline; --detector as in the',
    'photo commands: onnx (default: onnxruntime), libtorch, or human (the same networks in Human on tfjs-wasm)),',
    'aligns it by a similarity transform to the ArcFace template scaled to --size, and writes',
    '<out>/<same relative path>.png, <out>/manifest.json (source, box, landmarks, score) and <out>/report.txt',
    '(images with no face and files that failed). A re-run skips what is done and retries failures.',
    "--template dlib aligns to dlib's face chip (mean face shape, padding 0.25): the input of the dlib ResNet-34",
    "(face-api.js's recognition net); use it with --size 150.",
    '<in>/attributes.csv is copied, so <out> reads as an image folder.',
    '<out> must not be, contain or lie inside <in>. Two images that would share an output name (x.jpg and',
    'x.png → x.png) are refused before anything is written. <out> must be new, empty or an earlier align',
    'output (--force writes beside other files, never deleting them); crops of images no longer in <in> are removed.',
  ].join('\n'),
  async run(argv) {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        size: { type: 'string', default: '112' },
        template: { type: 'string', default: 'arcface' },
        workers: { type: 'string', default: '2' },
        'min-score': { type: 'string', default: '0.3' },
        detector: { type: 'string', default: 'onnx' },
        force: { type: 'boolean', default: false },
      },
    });
    if (positionals.length !== 2) throw new UsageError('expected <in> and <out>');
    const size = intFlag(values.size, 'size', RANGES.size);
    const workers = intFlag(values.workers, 'workers', RANGES.workers);
    const minScore = numberFlag(values['min-score'], 'min-score', { min: 0, max: 1 });
    const detector = parseDetector(values.detector);
    const template = values.template;
    if (template !== 'arcface' && template !== 'dlib') throw new UsageError(`--template must be arcface or dlib, got '${template}'`);
    const [input, output] = positionals;
    const summary = await alignFolder(input, output, {
      size,
      template,
      workers,
      minScore,
      detector: detectorChoice(detector),
      force: values.force,
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
