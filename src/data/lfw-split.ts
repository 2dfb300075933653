// The identity split of LFW used to train and validate catface's default model: every person named in the
// validation folds of `pairs.txt` (by default folds 9–10, 1-based) is validation only; everyone else may be
// trained on. Disjoint by identity, so no validation face was ever seen in training.
import { readdirSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { BadInputReport, DataError } from './errors.js';
import { listImages } from './readers/image-folder.js';
import { type FacePair, readLfwPairs } from './readers/pairs.js';

export interface LfwSplit {
  root: string;
  /** Identity names → their photo paths, trainable people. */
  train: Map<string, string[]>;
  /** Identity names → their photo paths, validation people. */
  validation: Map<string, string[]>;
  /** The standard pairs of the validation folds (their people are all in `validation`). */
  validationPairs: FacePair[];
  /** The standard pairs of the other folds (training people only). */
  trainPairs: FacePair[];
}

/** 0-based folds of pairs.txt whose people are held out (folds 9 and 10 of the 10). */
export const VALIDATION_FOLDS: readonly number[] = [8, 9];

const identityOf = (path: string) => basename(dirname(path));

/** Splits `<root>` (LFW layout, `pairs.txt` inside) by identity; `folds` are 0-based pairs.txt folds. */
export function splitLfw(root: string, folds: readonly number[] = VALIDATION_FOLDS): LfwSplit {
  const { pairs } = readLfwPairs(join(root, 'pairs.txt'), root, { checkFiles: false });
  const held = new Set<string>();
  for (const p of pairs) if (folds.includes(p.fold)) for (const image of [p.a, p.b]) held.add(identityOf(image));
  const report = new BadInputReport();
  const train = new Map<string, string[]>();
  const validation = new Map<string, string[]>();
  const people = readdirSync(root)
    .filter((name) => !name.startsWith('.') && statSync(join(root, name)).isDirectory())
    .sort();
  for (const name of people) (held.has(name) ? validation : train).set(name, listImages(join(root, name), report));
  for (const name of held) if (!validation.has(name)) throw new DataError(join(root, 'pairs.txt'), `person '${name}' has no folder`);
  return {
    root,
    train,
    validation,
    validationPairs: pairs.filter((p) => folds.includes(p.fold)),
    trainPairs: pairs.filter((p) => !folds.includes(p.fold)),
  };
}
