// `catface lfw prepare`: the training folder of catface's default model from LFW and an aligned cache of it
// (`catface align <lfw> <chips> --template dlib --size 150`): identity folders of the trainable people only
// (symbolic links into the cache) with their `attributes.csv`, the pair list of the held-out training people
// (the model's own checks during training), and split.json naming every person's side.
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { splitLfw, VALIDATION_FOLDS } from '../data/lfw-split.js';
import { writePairList } from '../data/readers/pairs.js';
import { writeFileDurably } from '../io/durable.js';
import { type Command, UsageError } from './command.js';

/** The 0-based pairs.txt fold whose people are held out of training for our own checks (never validation). */
export const HOLDOUT_FOLD = 7;

const identityOf = (path: string) => basename(dirname(path));

export const lfwCommand: Command = {
  name: 'lfw',
  summary: 'prepare LFW for training the default model (identity split, training folder of aligned chips)',
  usage: [
    'catface lfw prepare --lfw DIR --chips DIR --out DIR',
    '',
    '  --lfw DIR    LFW deep-funneled with pairs.txt and attributes.csv (e.g. ../shared/data/lfw)',
    '  --chips DIR  its aligned cache: catface align <lfw> <chips> --template dlib --size 150',
    '  --out DIR    writes train/ (trainable people: links to their chips, attributes.csv), holdout-pairs.txt',
    '               (fold 8 pairs: training people kept out of training for checks) and split.json',
    '',
    'Folds 9–10 of pairs.txt name the validation people: never trained on, never tuned on.',
  ].join('\n'),
  async run(argv) {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { lfw: { type: 'string' }, chips: { type: 'string' }, out: { type: 'string' } },
    });
    if (positionals[0] !== 'prepare') throw new UsageError("expected 'catface lfw prepare'");
    if (!values.lfw || !values.chips || !values.out) throw new UsageError('--lfw, --chips and --out are required');
    const chips = resolve(values.chips);
    if (!existsSync(join(chips, 'manifest.json'))) throw new UsageError(`${chips}: no manifest.json (run catface align first)`);
    const split = splitLfw(values.lfw);
    const holdoutPairs = split.trainPairs.filter((p) => p.fold === HOLDOUT_FOLD);
    const holdout = new Set(holdoutPairs.flatMap((p) => [identityOf(p.a), identityOf(p.b)]));
    const out = resolve(values.out);
    const trainDir = join(out, 'train');
    rmSync(trainDir, { recursive: true, force: true });
    mkdirSync(trainDir, { recursive: true });
    const trained = [...split.train.keys()].filter((name) => !holdout.has(name) && existsSync(join(chips, name)));
    for (const name of trained) symlinkSync(join(chips, name), join(trainDir, name), 'dir');
    const rows = readFileSync(join(values.lfw, 'attributes.csv'), 'utf8').trim().split('\n');
    const kept = new Set(trained);
    writeFileDurably(
      join(trainDir, 'attributes.csv'),
      `${[rows[0], ...rows.slice(1).filter((r) => kept.has(r.split(',')[0]))].join('\n')}\n`,
    );
    const chip = (photo: string) => join(chips, relative(split.root, photo)).replace(/\.jpg$/, '.png');
    const usable = holdoutPairs.filter((p) => existsSync(chip(p.a)) && existsSync(chip(p.b)));
    writePairList(
      join(out, 'holdout-pairs.txt'),
      usable.map((p) => ({ a: chip(p.a), b: chip(p.b), same: p.same })),
    );
    const photos = (names: Iterable<string>, from: Map<string, string[]>) => [...names].reduce((n, k) => n + (from.get(k)?.length ?? 0), 0);
    const summary = {
      validationFolds: VALIDATION_FOLDS.map((f) => f + 1),
      holdoutFold: HOLDOUT_FOLD + 1,
      validation: { people: split.validation.size, photos: photos(split.validation.keys(), split.validation) },
      trainable: { people: split.train.size, photos: photos(split.train.keys(), split.train) },
      holdout: { people: holdout.size, photos: photos(holdout, split.train), pairs: usable.length },
      trained: { people: trained.length, photos: photos(trained, split.train) },
      validationPeople: [...split.validation.keys()],
      holdoutPeople: [...holdout],
    };
    writeFileDurably(join(out, 'split.json'), `${JSON.stringify(summary, null, 1)}\n`);
    console.log(
      `validation ${summary.validation.people} people / ${summary.validation.photos} photos; trainable ${summary.trainable.people} / ${summary.trainable.photos}; ` +
        `held out for checks ${summary.holdout.people} / ${summary.holdout.photos} (${usable.length} pairs); training folder ${trainDir}: ${trained.length} people`,
    );
    return 0;
  },
};
