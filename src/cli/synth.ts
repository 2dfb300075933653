// `catface synth`: generates the embedded synthetic-identity dataset (image folder + attributes.csv).
import { parseArgs } from 'node:util';
import { generateSynthDataset } from '../data/synth/synth-dataset.js';
import { type Command, UsageError } from './command.js';
import { intFlag, RANGES } from './flags.js';

export const synth: Command = {
  name: 'synth',
  summary: 'generate synthetic identities with attributes (the default demo dataset)',
  usage: [
    'catface synth --out DIR [--identities 200] [--images 20] [--seed 1] [--size 112] [--workers 0] [--force]',
    '',
    'Renders seeded facesjs faces: one face per identity, each image with its own expression, glasses, pose',
    'and lighting. Writes DIR/<identity>/<k>.png, DIR/attributes.csv (Male, Big_Nose, Chubby, Narrow_Eyes,',
    'Bald derived from the face parameters) and DIR/identities.json. The same seed gives the same files.',
    '--workers N renders on N worker threads (default 0: this thread builds SVGs while sharp rasterises on',
    "libuv's pool, as fast on 2 cores and without the workers' start-up cost).",
    'DIR must be new, empty or an earlier synth output, whose files of a larger run are removed; --force writes',
    'beside files catface did not make (deleting none of them).',
    'Ranges: --identities 1–100000, --images 1–1000, --seed 0–2^53, --size 16–1024, --workers 0–64.',
  ].join('\n'),
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: {
        out: { type: 'string' },
        identities: { type: 'string', default: '200' },
        images: { type: 'string', default: '20' },
        seed: { type: 'string', default: '1' },
        size: { type: 'string', default: '112' },
        workers: { type: 'string', default: '0' },
        force: { type: 'boolean', default: false },
      },
    });
    if (!values.out) throw new UsageError('--out DIR is required');
    const seed = intFlag(values.seed, 'seed', RANGES.seed);
    const size = intFlag(values.size, 'size', RANGES.size);
    const identities = intFlag(values.identities, 'identities', RANGES.identities);
    const imagesPerIdentity = intFlag(values.images, 'images', RANGES.images);
    const workers = intFlag(values.workers, 'workers', RANGES.workers);
    const result = await generateSynthDataset(values.out, { identities, imagesPerIdentity, seed, size }, workers, (done) => {
      if (process.stderr.isTTY) process.stderr.write(`\r${done}/${identities} identities`);
    });
    if (process.stderr.isTTY) process.stderr.write('\n');
    const counts = [0, 0, 0, 0, 0];
    for (const id of result.identities)
      id.attributes.forEach((v, i) => {
        counts[i] += v;
      });
    console.log(
      `wrote ${result.images} images of ${identities} identities to ${values.out} in ${result.seconds.toFixed(1)} s (${(result.images / result.seconds).toFixed(0)} images/s)`,
    );
    console.log(
      `positives: Male ${counts[0]}, Big_Nose ${counts[1]}, Chubby ${counts[2]}, Narrow_Eyes ${counts[3]}, Bald ${counts[4]} of ${identities}`,
    );
    return 0;
  },
};
