// `catface attributes <photos>`: the soft-biometric attribute probabilities of the faces in photos.
import { BadInputReport } from '../data/errors.js';
import { type Command, UsageError } from './command.js';
import {
  ALL_FACES_FLAG,
  collectPhotos,
  failureReason,
  formatBox,
  JSON_FLAG,
  openRecognizer,
  parsePhotoArgs,
  RECOGNIZER_USAGE,
  reportFailures,
  table,
} from './photos.js';

export const attributesCommand: Command = {
  name: 'attributes',
  summary: 'attribute probabilities (male, …) of the faces in photos or folders',
  usage: [
    'catface attributes <photos or folders…> [--all-faces] [--json] [--model DIR]',
    '',
    'Prints a table (photo, face box, detection score, quality, one column per attribute of the model), or with',
    '--json one JSON object per photo and line: {"file", "faces": [{box, score, quality, attributes}]} or',
    '{"file", "error"}. Failed photos are listed at the end; the exit code is 1 when any failed.',
    '',
    '  --all-faces           every face of each photo (default: the largest)',
    '  --json                JSON lines instead of the table',
    ...RECOGNIZER_USAGE,
  ].join('\n'),
  async run(argv) {
    const { values, positionals } = parsePhotoArgs(argv, { ...ALL_FACES_FLAG, ...JSON_FLAG });
    if (positionals.length === 0) throw new UsageError('expected photos or folders');
    const ignored = new BadInputReport();
    const photos = collectPhotos(positionals, ignored);
    const failures: { file: string; reason: string }[] = [];
    const recognizer = await openRecognizer(values);
    const names = recognizer.spec.attributes;
    const rows: string[][] = [];
    try {
      for (const photo of photos) {
        try {
          const { faces } = await recognizer.analyze(photo.path, { allFaces: values['all-faces'] });
          if (faces.length === 0) throw new Error('no face found');
          if (values.json) {
            const out = faces.map(({ box, score, quality, attributes }) => ({ box, score, quality, attributes }));
            console.log(JSON.stringify({ file: photo.file, faces: out }));
          }
          for (const f of faces)
            rows.push([
              photo.file,
              formatBox(f.box),
              f.score.toFixed(2),
              f.quality.toFixed(2),
              ...names.map((n) => f.attributes[n].toFixed(2)),
            ]);
        } catch (error) {
          failures.push({ file: photo.path, reason: failureReason(error) });
          if (values.json) console.log(JSON.stringify({ file: photo.file, error: failureReason(error) }));
        }
      }
    } finally {
      await recognizer.close();
    }
    if (!values.json && rows.length > 0) console.log(table(['photo', 'face box', 'score', 'quality', ...names], rows));
    return reportFailures(failures, ignored);
  },
};
