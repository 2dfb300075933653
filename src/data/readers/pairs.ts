// Verification pair lists: LFW's `pairs.txt` (header "folds<TAB>pairs", then per fold `pairs` matched lines
// "name n1 n2" and `pairs` mismatched lines "name1 n1 name2 n2") and plain lists "pathA pathB same(1/0)".
import { existsSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { writeFileDurably } from '../../io/durable.js';
import { BadInputReport, DataError, handleBadInput, type OnError } from '../errors.js';
import { readTextLines } from '../files.js';

export interface FacePair {
  a: string;
  b: string;
  same: boolean;
  /** 0-based fold (LFW pairs.txt); plain lists have fold 0. */
  fold: number;
}

export interface PairList {
  pairs: FacePair[];
  folds: number;
  report: BadInputReport;
}

export interface PairReadOptions {
  /** Check that every image exists (default true). */
  checkFiles?: boolean;
  onError?: OnError;
}

/** LFW's file naming: `<root>/<name>/<name>_<0001>.jpg`. */
export function lfwImagePath(root: string, name: string, number: number, extension = 'jpg'): string {
  return join(root, name, `${name}_${String(number).padStart(4, '0')}.${extension}`);
}

function positiveInt(text: string): number | undefined {
  const n = Number(text);
  return Number.isInteger(n) && n > 0 ? n : undefined;
}

function checkPairFiles(pair: FacePair, file: string, line: number, options: PairReadOptions): void {
  if (options.checkFiles === false) return;
  for (const image of [pair.a, pair.b]) {
    if (!existsSync(image)) throw new DataError(file, `image ${image} not found`, line);
  }
}

/** Reads LFW `pairs.txt` (3-column matched and 4-column mismatched lines) with images under `root`. */
export function readLfwPairs(file: string, root: string, options: PairReadOptions = {}): PairList {
  const onError = options.onError ?? 'throw';
  const report = new BadInputReport();
  const lines = readTextLines(file);
  if (lines.length === 0) throw new DataError(file, 'empty pairs file');
  const header = lines[0].text.split(/\s+/);
  let folds = 1;
  let perFold: number | undefined;
  let body = lines;
  if (header.length <= 2 && header.every((h) => positiveInt(h) !== undefined)) {
    body = lines.slice(1);
    if (header.length === 2) {
      folds = positiveInt(header[0]) as number;
      perFold = positiveInt(header[1]) as number;
    } else perFold = positiveInt(header[0]) as number; // pairsDevTrain/Test style: N matched then N mismatched
    if (body.length !== folds * 2 * (perFold as number)) {
      throw new DataError(
        file,
        `header says ${folds} folds × ${perFold} pairs × 2 = ${folds * 2 * (perFold as number)} lines, file has ${body.length}`,
        lines[0].line,
      );
    }
  }
  const pairs: FacePair[] = [];
  body.forEach(({ line, text }, i) => {
    const f = text.split(/\s+/);
    const fold = perFold ? Math.floor(i / (2 * perFold)) : 0;
    try {
      let pair: FacePair;
      if (f.length === 3 && positiveInt(f[1]) && positiveInt(f[2])) {
        pair = { a: lfwImagePath(root, f[0], Number(f[1])), b: lfwImagePath(root, f[0], Number(f[2])), same: true, fold };
      } else if (f.length === 4 && positiveInt(f[1]) && positiveInt(f[3])) {
        pair = { a: lfwImagePath(root, f[0], Number(f[1])), b: lfwImagePath(root, f[2], Number(f[3])), same: false, fold };
      } else {
        throw new DataError(file, `expected "name n1 n2" or "name1 n1 name2 n2", got "${text}"`, line);
      }
      checkPairFiles(pair, file, line, options);
      pairs.push(pair);
    } catch (error) {
      handleBadInput(error as DataError, onError, report);
    }
  });
  return { pairs, folds, report };
}

/** Reads a plain pair list: "pathA pathB same" per line (same is 1/0 or true/false; paths relative to root). */
export function readPairList(file: string, root: string, options: PairReadOptions = {}): PairList {
  const onError = options.onError ?? 'throw';
  const report = new BadInputReport();
  const pairs: FacePair[] = [];
  const resolve = (p: string) => (isAbsolute(p) ? p : join(root, p));
  for (const { line, text } of readTextLines(file)) {
    try {
      const f = text.split(/[\s,]+/);
      const flag = f[2]?.toLowerCase();
      if (f.length !== 3 || !['0', '1', 'true', 'false'].includes(flag)) {
        throw new DataError(file, `expected "pathA pathB same(1/0)", got "${text}"`, line);
      }
      const pair = { a: resolve(f[0]), b: resolve(f[1]), same: flag === '1' || flag === 'true', fold: 0 };
      checkPairFiles(pair, file, line, options);
      pairs.push(pair);
    } catch (error) {
      handleBadInput(error as DataError, onError, report);
    }
  }
  return { pairs, folds: 1, report };
}

/** Writes a plain pair list; paths are written as given. */
export function writePairList(file: string, pairs: Pick<FacePair, 'a' | 'b' | 'same'>[]): void {
  for (const p of pairs) {
    if (/\s/.test(p.a) || /\s/.test(p.b)) throw new RangeError(`writePairList: path with whitespace: "${p.a}" / "${p.b}"`);
  }
  writeFileDurably(file, pairs.map((p) => `${p.a} ${p.b} ${p.same ? 1 : 0}\n`).join(''));
}

export interface LfwPairEntry {
  same: boolean;
  nameA: string;
  numberA: number;
  nameB: string;
  numberB: number;
}

/** Writes LFW `pairs.txt`: `entries` are fold-major, each fold `perFold` matched then `perFold` mismatched. */
export function writeLfwPairs(file: string, folds: number, perFold: number, entries: LfwPairEntry[]): void {
  if (entries.length !== folds * 2 * perFold)
    throw new RangeError(`writeLfwPairs: ${entries.length} entries for ${folds} × ${perFold} × 2`);
  const lines = entries.map((e) =>
    e.same ? `${e.nameA}\t${e.numberA}\t${e.numberB}` : `${e.nameA}\t${e.numberA}\t${e.nameB}\t${e.numberB}`,
  );
  writeFileDurably(file, `${folds}\t${perFold}\n${lines.join('\n')}\n`);
}
