// CelebA in its published file formats: `identity_CelebA.txt` ("000001.jpg 2880"), `list_attr_celeba.txt`
// (line 1: image count, line 2: the 40 attribute names, then "000001.jpg -1 1 …"), `list_eval_partition.txt`
// ("000001.jpg 0", 0 train / 1 val / 2 test); images in `img_align_celeba/` (or `img_celeba/`). Files are
// looked for in the root and in the official `Anno/`, `Eval/`, `Img/` sub-folders.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileDurably } from '../../io/durable.js';
import type { FaceDataset, FaceSample } from '../dataset.js';
import { BadInputReport, DataError, handleBadInput, type OnError } from '../errors.js';
import { readTextLines } from '../files.js';
import { DEFAULT_ATTRIBUTES, parseAttributeValue, selectAttributeColumns } from './attributes.js';

export type CelebAPartition = 'train' | 'val' | 'test' | 'all';
const PARTITION_CODES: Record<string, CelebAPartition> = { '0': 'train', '1': 'val', '2': 'test' };

export interface CelebAOptions {
  /** Attribute column names (default SPEC §2's five). */
  attributes?: readonly string[];
  /** 'img_align_celeba' (default) or 'img_celeba'. */
  imageFolder?: string;
  partition?: CelebAPartition;
  /** Check every listed image exists (default true). */
  checkFiles?: boolean;
  onError?: OnError;
}

function findFile(root: string, name: string, subfolders: string[]): string {
  for (const dir of ['', ...subfolders]) {
    const path = join(root, dir, name);
    if (existsSync(path)) return path;
  }
  throw new DataError(join(root, name), `CelebA file not found (also looked in ${subfolders.map((s) => `${s}/`).join(', ')})`);
}

/** Reads "<image> <value>" lines into a map, with clear errors for malformed or repeated lines. */
function readKeyValueFile(path: string): Map<string, { value: string; line: number }> {
  const out = new Map<string, { value: string; line: number }>();
  for (const { line, text } of readTextLines(path)) {
    const fields = text.split(/\s+/);
    if (fields.length !== 2) throw new DataError(path, `expected "<image> <value>", got "${text}"`, line);
    if (out.has(fields[0])) throw new DataError(path, `image '${fields[0]}' listed twice`, line);
    out.set(fields[0], { value: fields[1], line });
  }
  return out;
}

/** Reads CelebA as a FaceDataset with identity labels and the chosen attribute columns. */
export function readCelebA(root: string, options: CelebAOptions = {}): FaceDataset {
  const onError = options.onError ?? 'throw';
  const report = new BadInputReport();
  const identityPath = findFile(root, 'identity_CelebA.txt', ['Anno']);
  const attrPath = findFile(root, 'list_attr_celeba.txt', ['Anno']);
  const partition = options.partition ?? 'all';
  const partitionPath = partition === 'all' ? undefined : findFile(root, 'list_eval_partition.txt', ['Eval']);
  const folder = options.imageFolder ?? 'img_align_celeba';
  const imageDir = [join(root, folder), join(root, 'Img', folder), join(root, folder, folder)].find((d) => existsSync(d));
  if (!imageDir && options.checkFiles !== false) throw new DataError(join(root, folder), 'CelebA image folder not found');

  const identities = readKeyValueFile(identityPath);
  const attrLines = readTextLines(attrPath);
  if (attrLines.length < 2) throw new DataError(attrPath, 'expected a count line and a header line');
  const declared = Number(attrLines[0].text);
  if (!Number.isInteger(declared))
    throw new DataError(attrPath, `first line must be the image count, got "${attrLines[0].text}"`, attrLines[0].line);
  const available = attrLines[1].text.split(/\s+/);
  const names = [...(options.attributes ?? DEFAULT_ATTRIBUTES)];
  const columns = selectAttributeColumns(available, names, attrPath);
  const rows = attrLines.slice(2);
  if (rows.length !== declared)
    throw new DataError(attrPath, `first line declares ${declared} images but ${rows.length} rows follow`, attrLines[0].line);
  const partitions = partitionPath ? readKeyValueFile(partitionPath) : undefined;

  const kept: { file: string; identity: string; attributes: number[] }[] = [];
  for (const { line, text } of rows) {
    try {
      const fields = text.split(/\s+/);
      if (fields.length !== available.length + 1) {
        throw new DataError(attrPath, `expected ${available.length} attribute values, got ${fields.length - 1}`, line);
      }
      const file = fields[0];
      const identity = identities.get(file);
      if (!identity) throw new DataError(identityPath, `no identity for image '${file}' (listed in ${attrPath}:${line})`);
      if (!/^\d+$/.test(identity.value)) throw new DataError(identityPath, `identity '${identity.value}' is not an integer`, identity.line);
      if (partitions) {
        const code = partitions.get(file);
        if (!code) throw new DataError(partitionPath as string, `no partition for image '${file}'`);
        const which = PARTITION_CODES[code.value];
        if (!which) throw new DataError(partitionPath as string, `partition '${code.value}' is not 0, 1 or 2`, code.line);
        if (which !== partition) continue;
      }
      if (options.checkFiles !== false && !existsSync(join(imageDir as string, file))) {
        throw new DataError(attrPath, `image '${file}' not found in ${imageDir}`, line);
      }
      const attributes = columns.map((c) => parseAttributeValue(fields[c + 1], available[c], attrPath, line));
      kept.push({ file, identity: identity.value, attributes });
    } catch (error) {
      handleBadInput(error as DataError, onError, report);
    }
  }
  if (identities.size !== rows.length) {
    handleBadInput(new DataError(identityPath, `${identities.size} rows but ${attrPath} has ${rows.length}`), onError, report);
  }
  const classes = [...new Set(kept.map((k) => k.identity))].sort((a, b) => Number(a) - Number(b));
  const labelOf = new Map(classes.map((c, i) => [c, i]));
  const dir = imageDir ?? join(root, folder);
  const samples: FaceSample[] = kept.map((k) => ({
    image: { kind: 'file', path: join(dir, k.file) },
    label: labelOf.get(k.identity) as number,
    attributes: k.attributes,
  }));
  return { samples, classes, attributeNames: names, report };
}

export interface CelebAEntry {
  file: string;
  identity: number;
  partition: 'train' | 'val' | 'test';
  /** ±1 per attribute name, as in the published file. */
  attributes: number[];
}

/** Writes the three CelebA annotation files in the published format (for fixtures and re-packing). */
export function writeCelebAAnnotations(root: string, attributeNames: string[], entries: CelebAEntry[]): void {
  const codes = { train: 0, val: 1, test: 2 };
  writeFileDurably(join(root, 'identity_CelebA.txt'), entries.map((e) => `${e.file} ${e.identity}\n`).join(''));
  writeFileDurably(join(root, 'list_eval_partition.txt'), entries.map((e) => `${e.file} ${codes[e.partition]}\n`).join(''));
  const body = entries.map((e) => `${e.file} ${e.attributes.map((v) => (v > 0 ? ' 1' : '-1')).join(' ')}\n`).join('');
  writeFileDurably(join(root, 'list_attr_celeba.txt'), `${entries.length}\n${attributeNames.join(' ')} \n${body}`);
}
