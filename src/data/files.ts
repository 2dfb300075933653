// Small file helpers shared by the readers: line-numbered text reading and ranged reads.
import { readFileSync, readSync } from 'node:fs';
import { DataError, describeFsError } from './errors.js';

/** The bytes of an input file; not found, permission denied and is-a-directory each said, naming the path. */
export function readInputFile(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new DataError(path, describeFsError(error));
  }
}

export interface TextLine {
  /** 1-based line number in the file. */
  line: number;
  text: string;
}

/** The non-empty lines of a text file with their 1-based numbers; a clear error when it is missing. */
export function readTextLines(path: string): TextLine[] {
  const lines: TextLine[] = [];
  readInputFile(path)
    .toString('utf8')
    .split(/\r?\n/)
    .forEach((text, i) => {
      const trimmed = text.trim();
      if (trimmed !== '') lines.push({ line: i + 1, text: trimmed });
    });
  return lines;
}

/** Reads `length` bytes at `offset` of an open file (a clear error if the file is shorter). */
export function readRange(fd: number, path: string, offset: number, length: number): Buffer {
  const out = Buffer.alloc(length);
  const got = readSync(fd, out, 0, length, offset);
  if (got !== length) throw new DataError(path, `truncated: wanted ${length} bytes at offset ${offset}, got ${got}`);
  return out;
}
