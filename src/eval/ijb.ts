// Readers for the IJB-B/C 1:1 metadata in insightface's layout (`<set>/meta/`):
//   `*_face_tid_mid.txt`        one line per image: "image_name template_id media_id"
//   `*_template_pair_label.txt` one line per template pair: "template_id_1 template_id_2 label(0/1)"
// IJB-C's pair file has 15.6 M lines, so both are parsed from bytes without splitting into strings.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DataError } from '../data/errors.js';

export interface IjbImages {
  imageNames: string[];
  templateIds: Int32Array;
  mediaIds: Int32Array;
}

export interface IjbPairs {
  left: Int32Array;
  right: Int32Array;
  labels: Uint8Array;
}

export interface IjbMetaFiles {
  faceTidMid: string;
  templatePairLabel: string;
}

/** Splits a text file into whitespace-separated fields per non-empty line, calling `row` with byte offsets. */
function forEachRow(
  path: string,
  expectedFields: number,
  row: (bytes: Buffer, starts: number[], ends: number[], line: number) => void,
): void {
  if (!existsSync(path)) throw new DataError(path, 'file not found');
  const bytes = readFileSync(path);
  const starts: number[] = [];
  const ends: number[] = [];
  let line = 1;
  let i = 0;
  while (i < bytes.length) {
    starts.length = 0;
    ends.length = 0;
    while (i < bytes.length && bytes[i] !== 10) {
      while (i < bytes.length && (bytes[i] === 32 || bytes[i] === 9 || bytes[i] === 13)) i++;
      if (i >= bytes.length || bytes[i] === 10) break;
      starts.push(i);
      while (i < bytes.length && bytes[i] !== 32 && bytes[i] !== 9 && bytes[i] !== 13 && bytes[i] !== 10) i++;
      ends.push(i);
    }
    if (starts.length > 0) {
      if (starts.length !== expectedFields) {
        throw new DataError(path, `expected ${expectedFields} fields, found ${starts.length}`, line);
      }
      row(bytes, starts, ends, line);
    }
    i++;
    line++;
  }
}

function parseInteger(bytes: Buffer, start: number, end: number, path: string, line: number, field: string): number {
  let value = 0;
  let sign = 1;
  let i = start;
  if (bytes[i] === 45) {
    sign = -1;
    i++;
  }
  if (i === end) throw new DataError(path, `${field} is not an integer`, line);
  for (; i < end; i++) {
    const digit = bytes[i] - 48;
    if (digit < 0 || digit > 9) {
      throw new DataError(path, `${field} '${bytes.toString('utf8', start, end)}' is not an integer`, line);
    }
    value = value * 10 + digit;
  }
  if (value > 0x7fffffff) throw new DataError(path, `${field} ${value} does not fit in 32 bits`, line);
  return sign * value;
}

/** Reads `*_face_tid_mid.txt`. */
export function readFaceTidMid(path: string): IjbImages {
  const imageNames: string[] = [];
  const templateIds: number[] = [];
  const mediaIds: number[] = [];
  forEachRow(path, 3, (bytes, starts, ends, line) => {
    imageNames.push(bytes.toString('utf8', starts[0], ends[0]));
    templateIds.push(parseInteger(bytes, starts[1], ends[1], path, line, 'template id'));
    mediaIds.push(parseInteger(bytes, starts[2], ends[2], path, line, 'media id'));
  });
  if (imageNames.length === 0) throw new DataError(path, 'no image lines');
  return { imageNames, templateIds: Int32Array.from(templateIds), mediaIds: Int32Array.from(mediaIds) };
}

/** Reads `*_template_pair_label.txt`. */
export function readTemplatePairs(path: string): IjbPairs {
  let capacity = 1 << 16;
  let left = new Int32Array(capacity);
  let right = new Int32Array(capacity);
  let labels = new Uint8Array(capacity);
  let count = 0;
  forEachRow(path, 3, (bytes, starts, ends, line) => {
    if (count === capacity) {
      capacity *= 2;
      const grow = <T extends Int32Array | Uint8Array>(a: T, make: (n: number) => T): T => {
        const b = make(capacity);
        b.set(a);
        return b;
      };
      left = grow(left, (n) => new Int32Array(n));
      right = grow(right, (n) => new Int32Array(n));
      labels = grow(labels, (n) => new Uint8Array(n));
    }
    left[count] = parseInteger(bytes, starts[0], ends[0], path, line, 'template id 1');
    right[count] = parseInteger(bytes, starts[1], ends[1], path, line, 'template id 2');
    const label = parseInteger(bytes, starts[2], ends[2], path, line, 'label');
    if (label !== 0 && label !== 1) throw new DataError(path, `label must be 0 or 1, got ${label}`, line);
    labels[count++] = label;
  });
  if (count === 0) throw new DataError(path, 'no pair lines');
  return { left: left.slice(0, count), right: right.slice(0, count), labels: labels.slice(0, count) };
}

/** Finds the two metadata files in `dir` or `dir/meta` (e.g. `IJBC/meta/ijbc_face_tid_mid.txt`). */
export function findIjbMeta(dir: string): IjbMetaFiles {
  for (const candidate of [join(dir, 'meta'), dir]) {
    if (!existsSync(candidate)) continue;
    const names = readdirSync(candidate);
    const faceTidMid = names.find((n) => n.endsWith('_face_tid_mid.txt'));
    const templatePairLabel = names.find((n) => n.endsWith('_template_pair_label.txt'));
    if (faceTidMid && templatePairLabel) {
      return { faceTidMid: join(candidate, faceTidMid), templatePairLabel: join(candidate, templatePairLabel) };
    }
  }
  throw new DataError(dir, 'no *_face_tid_mid.txt and *_template_pair_label.txt here or in meta/');
}
