// insightface/MXNet RecordIO (`.rec` + `.idx`): the packed format of MS1MV2, Glint360K and friends.
// A record is [magic u32][lrecord u32: cflag<<29 | length][data][pad to 4]. Data that contains the magic
// word at a 4-byte-aligned position is split into parts (cflag 1 start, 2 middle, 3 end) and the magic is
// re-inserted between them on reading. Each image record's data is an IRHeader {flag u32, label f32, id u64,
// id2 u64} — followed by `flag` float32 labels when flag > 0 — then the encoded image. insightface's packs
// start with header record 0 whose labels are [first identity record, end of identity records]; images are
// records 1…N and identity records N+1… hold each identity's [start, end) image range.
import { closeSync, existsSync, fstatSync, fsyncSync, openSync, writeSync } from 'node:fs';
import { commitFile, tempPathBeside, writeFileDurably } from '../../io/durable.js';
import type { FaceDataset, FaceSample } from '../dataset.js';
import { BadInputReport, DataError, handleBadInput, type OnError } from '../errors.js';
import { readRange, readTextLines } from '../files.js';

const MAGIC = 0xced7230a;
const IR_HEADER_BYTES = 24;
const LENGTH_MASK = (1 << 29) - 1;

export interface IRHeader {
  flag: number;
  /** The scalar label (flag = 0) or the `flag` labels that follow the header. */
  label: number[];
  id: bigint;
  id2: bigint;
}

/** Reads the whole (possibly multi-part) record starting at `offset` of an open `.rec` file. */
function readRecordAt(fd: number, path: string, offset: number): Buffer {
  const parts: Buffer[] = [];
  let position = offset;
  for (;;) {
    const head = readRange(fd, path, position, 8);
    const magic = head.readUInt32LE(0);
    if (magic !== MAGIC) {
      throw new DataError(
        path,
        `no RecordIO magic at offset ${position} (found 0x${magic.toString(16)}); wrong offset in the .idx or not a .rec file`,
      );
    }
    const lrecord = head.readUInt32LE(4);
    const cflag = lrecord >>> 29;
    const length = lrecord & LENGTH_MASK;
    parts.push(readRange(fd, path, position + 8, length));
    position += 8 + ((length + 3) & ~3);
    if (cflag === 0 || cflag === 3) break;
    const magicBytes = Buffer.alloc(4);
    magicBytes.writeUInt32LE(MAGIC);
    parts.push(magicBytes);
  }
  return parts.length === 1 ? parts[0] : Buffer.concat(parts);
}

/**
 * The (first) label of the image record at `offset`, reading only its header: opening a pack must not read
 * every image. The record's length is still checked against the file's size.
 */
function readLabelAt(fd: number, path: string, offset: number, fileSize: number, where: string): number {
  const head = readRange(fd, path, offset, 8);
  const magic = head.readUInt32LE(0);
  if (magic !== MAGIC)
    throw new DataError(
      path,
      `no RecordIO magic at offset ${offset} (found 0x${magic.toString(16)}); wrong offset in the .idx or not a .rec file`,
    );
  const cflag = head.readUInt32LE(4) >>> 29;
  const length = head.readUInt32LE(4) & LENGTH_MASK;
  if (offset + 8 + length > fileSize)
    throw new DataError(path, `truncated: ${where} needs ${length} bytes at offset ${offset + 8}, the file has ${fileSize}`);
  // a header split by an embedded magic word (a short first part) is read whole
  if (cflag !== 0 && length < IR_HEADER_BYTES + 4) return unpackRecord(readRecordAt(fd, path, offset), where).header.label[0];
  if (length < IR_HEADER_BYTES) throw new DataError(where, `record of ${length} bytes is shorter than its 24-byte header`);
  const first = readRange(fd, path, offset + 8, Math.min(length, IR_HEADER_BYTES + 4));
  const flag = first.readUInt32LE(0);
  if (flag === 0) return first.readFloatLE(4);
  if (length < IR_HEADER_BYTES + 4 * flag) throw new DataError(where, `header says ${flag} labels but the record has ${length} bytes`);
  return first.readFloatLE(IR_HEADER_BYTES);
}

/** Splits a record's data into its IRHeader and payload. */
export function unpackRecord(data: Buffer, where = 'record'): { header: IRHeader; payload: Buffer } {
  if (data.length < IR_HEADER_BYTES) throw new DataError(where, `record of ${data.length} bytes is shorter than its 24-byte header`);
  const flag = data.readUInt32LE(0);
  const id = data.readBigUInt64LE(8);
  const id2 = data.readBigUInt64LE(16);
  if (flag === 0) return { header: { flag, label: [data.readFloatLE(4)], id, id2 }, payload: data.subarray(IR_HEADER_BYTES) };
  const end = IR_HEADER_BYTES + 4 * flag;
  if (data.length < end) throw new DataError(where, `header says ${flag} labels but the record has ${data.length} bytes`);
  const label: number[] = [];
  for (let i = 0; i < flag; i++) label.push(data.readFloatLE(IR_HEADER_BYTES + 4 * i));
  return { header: { flag, label, id, id2 }, payload: data.subarray(end) };
}

/** Builds a record's data from labels (one label → flag 0 form) and a payload. */
export function packRecord(label: number | number[], payload: Uint8Array, id = 0n): Buffer {
  const labels = typeof label === 'number' ? [label] : label;
  const multi = typeof label !== 'number';
  const head = Buffer.alloc(IR_HEADER_BYTES + (multi ? 4 * labels.length : 0));
  head.writeUInt32LE(multi ? labels.length : 0, 0);
  head.writeFloatLE(multi ? 0 : labels[0], 4);
  head.writeBigUInt64LE(id, 8);
  head.writeBigUInt64LE(0n, 16);
  if (multi)
    labels.forEach((v, i) => {
      head.writeFloatLE(v, IR_HEADER_BYTES + 4 * i);
    });
  return Buffer.concat([head, payload]);
}

/** The encoded image of the record at `offset` of a `.rec` file (used by loaders in any thread). */
export function readRecordPayload(path: string, offset: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    return unpackRecord(readRecordAt(fd, path, offset), `${path}@${offset}`).payload;
  } finally {
    closeSync(fd);
  }
}

/** Parses an `.idx` file: one `key<TAB>offset` line per record. */
export function readRecordIndex(idxPath: string): Map<number, number> {
  const index = new Map<number, number>();
  for (const { line, text } of readTextLines(idxPath)) {
    const fields = text.split(/\s+/);
    const key = Number(fields[0]);
    const offset = Number(fields[1]);
    if (fields.length !== 2 || !Number.isInteger(key) || !Number.isInteger(offset) || offset < 0) {
      throw new DataError(idxPath, `expected "key<TAB>offset", got "${text}"`, line);
    }
    index.set(key, offset);
  }
  return index;
}

export interface RecordIOOptions {
  /** Defaults to the `.rec` path with `.idx`. */
  idxPath?: string;
  onError?: OnError;
}

/** Reads an insightface `.rec/.idx` pack as a FaceDataset (labels from each image record's header). */
export function readRecordIO(recPath: string, options: RecordIOOptions = {}): FaceDataset {
  const idxPath = options.idxPath ?? recPath.replace(/\.rec$/, '.idx');
  const onError = options.onError ?? 'throw';
  const report = new BadInputReport();
  if (!existsSync(recPath)) throw new DataError(recPath, 'file not found');
  const index = readRecordIndex(idxPath);
  const fd = openSync(recPath, 'r');
  try {
    const fileSize = fstatSync(fd).size;
    let imageKeys = [...index.keys()].sort((a, b) => a - b);
    const first = index.get(0);
    if (first !== undefined) {
      const { header } = unpackRecord(readRecordAt(fd, recPath, first), `${recPath} record 0`);
      if (header.flag > 0) {
        const end = Math.round(header.label[0]);
        imageKeys = imageKeys.filter((k) => k >= 1 && k < end);
        for (let k = 1; k < end; k++) {
          if (!index.has(k))
            handleBadInput(new DataError(idxPath, `header record says images 1..${end - 1} but key ${k} is missing`), onError, report);
        }
      }
    }
    const raw: { offset: number; label: number }[] = [];
    for (const key of imageKeys) {
      const offset = index.get(key) as number;
      try {
        const label = readLabelAt(fd, recPath, offset, fileSize, `${recPath} record ${key}`);
        if (!Number.isFinite(label) || label < 0 || Math.round(label) !== label) {
          throw new DataError(recPath, `record ${key} has label ${label}, expected a non-negative integer`);
        }
        raw.push({ offset, label });
      } catch (error) {
        handleBadInput(error instanceof DataError ? error : new DataError(recPath, String(error)), onError, report);
      }
    }
    const classIds = [...new Set(raw.map((r) => r.label))].sort((a, b) => a - b);
    const labelOf = new Map(classIds.map((id, i) => [id, i]));
    const samples: FaceSample[] = raw.map((r) => ({
      image: { kind: 'record', path: recPath, offset: r.offset },
      label: labelOf.get(r.label) as number,
    }));
    return { samples, classes: classIds.map(String), attributeNames: [], report };
  } finally {
    closeSync(fd);
  }
}

/** Appends records to a `.rec` file (written to a temp file; `close()` renames it and writes the `.idx`). */
export class RecordIOWriter {
  private readonly fd: number;
  private readonly tmp: string;
  private position = 0;
  private readonly index: string[] = [];

  constructor(
    readonly recPath: string,
    readonly idxPath = recPath.replace(/\.rec$/, '.idx'),
  ) {
    this.tmp = tempPathBeside(recPath);
    this.fd = openSync(this.tmp, 'w');
  }

  /** Writes one record's data under `key`, splitting it where the magic word appears aligned. */
  write(key: number, data: Buffer): void {
    this.index.push(`${key}\t${this.position}\n`);
    let start = 0;
    const alignedEnd = data.length & ~3;
    for (let i = 0; i < alignedEnd; i += 4) {
      if (data.readUInt32LE(i) === MAGIC) {
        this.writePart(start === 0 ? 1 : 2, data.subarray(start, i));
        start = i + 4;
      }
    }
    this.writePart(start === 0 ? 0 : 3, data.subarray(start));
  }

  private writePart(cflag: number, part: Buffer): void {
    const padded = (part.length + 3) & ~3;
    const out = Buffer.alloc(8 + padded);
    out.writeUInt32LE(MAGIC, 0);
    out.writeUInt32LE(((cflag << 29) | part.length) >>> 0, 4);
    part.copy(out, 8);
    writeSync(this.fd, out);
    this.position += out.length;
  }

  close(): void {
    fsyncSync(this.fd);
    closeSync(this.fd);
    writeFileDurably(this.idxPath, this.index.join(''));
    commitFile(this.tmp, this.recPath);
  }
}

export interface PackedImage {
  bytes: Uint8Array;
  /** Integer class id. */
  label: number;
}

/**
 * Packs images into an insightface-style `.rec/.idx`: header record 0, images 1…N (stably grouped by label so
 * each identity is one contiguous range), then one identity record per class holding its [start, end).
 */
export function writeRecordIO(recPath: string, images: PackedImage[], idxPath?: string): void {
  const order = images.map((image, i) => ({ image, i })).sort((a, b) => a.image.label - b.image.label || a.i - b.i);
  const ranges: [number, number][] = [];
  order.forEach(({ image }, k) => {
    const key = k + 1;
    const last = ranges[ranges.length - 1];
    if (last && order[k - 1].image.label === image.label) last[1] = key + 1;
    else ranges.push([key, key + 1]);
  });
  const firstIdentity = images.length + 1;
  const writer = new RecordIOWriter(recPath, idxPath);
  writer.write(0, packRecord([firstIdentity, firstIdentity + ranges.length], new Uint8Array(0)));
  order.forEach(({ image }, k) => {
    writer.write(k + 1, packRecord(image.label, image.bytes, BigInt(k + 1)));
  });
  ranges.forEach((range, j) => {
    writer.write(firstIdentity + j, packRecord(range, new Uint8Array(0), BigInt(firstIdentity + j)));
  });
  writer.close();
}
