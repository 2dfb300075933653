// `catface verify a.jpg b.jpg`: are the (largest) faces of two photos the same person?
import type { Command } from './command.js';
import { UsageError } from './command.js';
import { faceJson, formatBox, JSON_FLAG, openRecognizer, parsePhotoArgs, RECOGNIZER_USAGE, table } from './photos.js';

export const verifyCommand: Command = {
  name: 'verify',
  summary: 'same person or not: the largest face of two photos, at the model’s threshold',
  usage: [
    'catface verify <a.jpg> <b.jpg> [--threshold T] [--json] [--model DIR]',
    '',
    'Detects the largest face of each photo, aligns it, embeds it and prints the cosine similarity and the',
    'verdict at the model’s shipped threshold (or --threshold), with both faces (box, detection score,',
    'quality, attributes). Exit code 0 whatever the verdict; 1 when a photo cannot be read or has no face.',
    '',
    '  --threshold T         cosine-similarity threshold instead of the model’s',
    '  --json                one JSON object: similarity, same, threshold, faces',
    ...RECOGNIZER_USAGE,
  ].join('\n'),
  async run(argv) {
    const { values, positionals } = parsePhotoArgs(argv, { ...JSON_FLAG, threshold: { type: 'string' } });
    if (positionals.length !== 2) throw new UsageError('expected two photos');
    const threshold = values.threshold === undefined ? undefined : Number(values.threshold);
    if (threshold !== undefined && !(threshold >= -1 && threshold <= 1))
      throw new UsageError(`--threshold must be in [-1, 1], got '${values.threshold}'`);
    const recognizer = await openRecognizer(values);
    try {
      const result = await recognizer.verify(positionals[0], positionals[1], { threshold });
      if (values.json) {
        console.log(
          JSON.stringify({
            similarity: result.similarity,
            same: result.same,
            threshold: result.threshold,
            faces: result.faces.map((f, i) => ({ file: positionals[i], ...faceJson(f) })),
          }),
        );
        return 0;
      }
      const verdict =
        result.same === null ? 'no threshold shipped with this model (pass --threshold)' : result.same ? 'SAME person' : 'DIFFERENT people';
      // 4 decimals, as the threshold is calibrated: with 3, a pair at 0.9174 would print 0.917 against 'threshold 0.917'
      const at = result.threshold === null ? '' : ` (threshold ${result.threshold.toFixed(4)})`;
      console.log(`similarity ${result.similarity.toFixed(4)}: ${verdict}${at}`);
      const names = recognizer.spec.attributes;
      console.log(
        table(
          ['photo', 'face box', 'score', 'quality', ...names],
          result.faces.map((f, i) => [
            positionals[i],
            formatBox(f.box),
            f.score.toFixed(2),
            f.quality.toFixed(2),
            ...names.map((n) => f.attributes[n].toFixed(2)),
          ]),
        ),
      );
      return 0;
    } finally {
      await recognizer.close();
    }
  },
};
