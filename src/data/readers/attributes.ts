// Soft-biometric attribute tables: choosing attributes by column name, and the `attributes.csv` of an image
// folder (`identity,<attr1>,<attr2>,…` with 1/0 — or CelebA-style 1/−1 — per identity).

import { writeFileDurably } from '../../io/durable.js';
import { DataError } from '../errors.js';
import { readTextLines } from '../files.js';

/** SPEC §2's default attributes (CelebA column names). */
export const DEFAULT_ATTRIBUTES = ['Male', 'Big_Nose', 'Chubby', 'Narrow_Eyes', 'Bald'] as const;

/** Column indices of `requested` in `available`; unknown names → an error listing the valid ones. */
export function selectAttributeColumns(available: string[], requested: readonly string[], file: string): number[] {
  return requested.map((name) => {
    const at = available.indexOf(name);
    if (at < 0) throw new DataError(file, `unknown attribute '${name}'; valid names: ${available.join(', ')}`);
    return at;
  });
}

/** Parses one attribute value: 1 → 1; 0 or −1 → 0; anything else is an error naming file and line. */
export function parseAttributeValue(text: string, column: string, file: string, line: number): number {
  if (text === '1') return 1;
  if (text === '0' || text === '-1') return 0;
  throw new DataError(file, `attribute '${column}' has value '${text}', expected 1, 0 or -1`, line);
}

export interface AttributeTable {
  names: string[];
  /** Identity name → one 0/1 value per name. */
  rows: Map<string, number[]>;
}

/** Reads an `attributes.csv` (header `identity,<names…>`), keeping the `requested` columns (default all). */
export function readAttributesCsv(file: string, requested?: readonly string[]): AttributeTable {
  const lines = readTextLines(file);
  if (lines.length === 0) throw new DataError(file, 'empty attributes file');
  const header = lines[0].text.split(',').map((s) => s.trim());
  if (header[0] !== 'identity') throw new DataError(file, `first column must be 'identity', got '${header[0]}'`, lines[0].line);
  const available = header.slice(1);
  const names = requested ? [...requested] : available;
  const columns = selectAttributeColumns(available, names, file);
  const rows = new Map<string, number[]>();
  for (const { line, text } of lines.slice(1)) {
    const fields = text.split(',').map((s) => s.trim());
    if (fields.length !== header.length) throw new DataError(file, `expected ${header.length} columns, got ${fields.length}`, line);
    if (rows.has(fields[0])) throw new DataError(file, `identity '${fields[0]}' listed twice`, line);
    rows.set(
      fields[0],
      columns.map((c) => parseAttributeValue(fields[c + 1], available[c], file, line)),
    );
  }
  return { names, rows };
}

/**
 * Writes an `attributes.csv` (0/1 values). The format has no quoting, so an identity name the reader would
 * split or trim (a comma, a line break, surrounding spaces) is refused by name rather than written wrong.
 */
export function writeAttributesCsv(file: string, table: AttributeTable): void {
  for (const name of table.names) if (/[,\s]/.test(name)) throw new DataError(file, `attribute name '${name}' has a comma or space`);
  const lines = [['identity', ...table.names].join(',')];
  for (const [identity, values] of table.rows) {
    if (identity === '' || /[,\r\n]/.test(identity) || identity.trim() !== identity)
      throw new DataError(
        file,
        `identity ${JSON.stringify(identity)} cannot be written: names must not be empty, hold a comma or line break, or start/end with a space`,
      );
    if (values.length !== table.names.length)
      throw new RangeError(`writeAttributesCsv: identity '${identity}' has ${values.length} values`);
    lines.push([identity, ...values.map((v) => (v ? 1 : 0))].join(','));
  }
  writeFileDurably(file, `${lines.join('\n')}\n`);
}
