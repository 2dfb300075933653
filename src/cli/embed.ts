// `catface embed <photos or folders> --out FILE.jsonl`: one JSON line per photo (its faces, or an error),
// resumable: each line is appended whole as soon as the photo is done, a rerun keeps the finished lines,
// drops a line torn by a kill and the failed photos' lines (retrying those), and does the rest.
// `--format safetensors` writes a matrix (one row per face) + index, built from the same JSONL journal.
import { closeSync, existsSync, openSync, readFileSync, writeSync } from 'node:fs';
import { BadInputReport, DataError } from '../data/errors.js';
import { writeFileDurably } from '../io/durable.js';
import { assertSeparate } from '../io/separate-paths.js';
import { saveSafetensors } from '../nn/safetensors.js';
import type { FaceLocation } from '../serve/face-recognizer.js';
import * as torch from '../torch/index.js';
import { ProgressBar } from '../train/progress.js';
import { type Command, UsageError } from './command.js';
import {
  ALL_FACES_FLAG,
  collectPhotos,
  faceJson,
  failureReason,
  openRecognizer,
  parsePhotoArgs,
  RECOGNIZER_USAGE,
  reportFailures,
} from './photos.js';

type FaceRecord = ReturnType<typeof faceJson>;
/** One line of the output. */
export type EmbedRecord = { file: string; faces: FaceRecord[] } | { file: string; error: string };

/**
 * The finished records of an earlier run's JSONL. Lines torn by a kill and failed photos are dropped (and the
 * file rewritten without them, atomically), so the caller appends the rest.
 */
export function resumeJournal(path: string): Map<string, EmbedRecord> {
  const done = new Map<string, EmbedRecord>();
  if (!existsSync(path)) return done;
  const lines = readFileSync(path, 'utf8').split('\n');
  let dropped = 0;
  for (const line of lines) {
    if (line.trim() === '') continue;
    let record: EmbedRecord;
    try {
      record = JSON.parse(line) as EmbedRecord;
    } catch {
      dropped++; // a line torn by a kill
      continue;
    }
    if (typeof record?.file !== 'string' || !('faces' in record) || !Array.isArray(record.faces)) {
      dropped++; // a failed photo: retried
      continue;
    }
    done.set(record.file, record);
  }
  const complete = lines.at(-1) === '';
  if (dropped > 0 || !complete) writeFileDurably(path, [...done.values()].map((r) => `${JSON.stringify(r)}\n`).join(''));
  return done;
}

/** The faces (box, landmarks, score) per file of an earlier `catface embed` output. */
export function readFacesFile(path: string): Map<string, FaceLocation[]> {
  if (!existsSync(path)) throw new DataError(path, 'file not found');
  const faces = new Map<string, FaceLocation[]>();
  const lines = readFileSync(path, 'utf8').split('\n');
  for (const [i, text] of lines.entries()) {
    if (text.trim() === '') continue;
    let record: { file?: unknown; faces?: unknown; error?: unknown };
    try {
      record = JSON.parse(text);
    } catch (error) {
      throw new DataError(path, `not JSON (${(error as Error).message}); expected the output of catface embed`, i + 1);
    }
    if (typeof record.file !== 'string') throw new DataError(path, "no 'file' field; expected the output of catface embed", i + 1);
    if (record.error !== undefined) continue;
    if (!Array.isArray(record.faces)) throw new DataError(path, "no 'faces' array", i + 1);
    faces.set(
      record.file,
      record.faces.map((f: FaceLocation) => ({ box: f.box, landmarks: f.landmarks, score: f.score })),
    );
  }
  return faces;
}

/** Writes the faces of `records` as one safetensors file: a row per face, the index in the metadata. */
export function writeEmbeddingMatrix(path: string, records: EmbedRecord[], attributeNames: string[]): number {
  const rows: { file: string; face: number; record: FaceRecord }[] = [];
  for (const r of records) if ('faces' in r) for (const [face, record] of r.faces.entries()) rows.push({ file: r.file, face, record });
  const n = rows.length;
  const dim = n > 0 ? rows[0].record.embedding.length : 0;
  const column = (width: number, values: (r: FaceRecord) => number[]) => {
    const out = new Float32Array(n * width);
    for (const [i, row] of rows.entries()) out.set(values(row.record), i * width);
    return out;
  };
  const k = attributeNames.length;
  const tensors = new Map([
    [
      'embedding',
      torch.fromTypedArray(
        column(dim, (r) => r.embedding),
        [n, dim],
      ),
    ],
    [
      'quality',
      torch.fromTypedArray(
        column(1, (r) => [r.quality]),
        [n],
      ),
    ],
    [
      'score',
      torch.fromTypedArray(
        column(1, (r) => [r.score]),
        [n],
      ),
    ],
    [
      'box',
      torch.fromTypedArray(
        column(4, (r) => r.box),
        [n, 4],
      ),
    ],
    [
      'landmarks',
      torch.fromTypedArray(
        column(10, (r) => r.landmarks.flat()),
        [n, 5, 2],
      ),
    ],
    [
      'attributes',
      torch.fromTypedArray(
        column(k, (r) => attributeNames.map((a) => r.attributes[a])),
        [n, k],
      ),
    ],
  ]);
  try {
    saveSafetensors(path, tensors, {
      format: 'catface-embeddings',
      attributes: JSON.stringify(attributeNames),
      index: JSON.stringify(rows.map((r) => [r.file, r.face])),
    });
  } finally {
    torch.dispose([...tensors.values()]);
  }
  return n;
}

export const embedCommand: Command = {
  name: 'embed',
  summary: 'embeddings, quality and attributes of every face in photos or folders, as resumable JSONL (or safetensors)',
  usage: [
    'catface embed <photos or folders…> --out FILE.jsonl [--all-faces] [--faces EARLIER.jsonl] [--format safetensors]',
    '',
    'Writes one JSON object per photo and line: {"file": path relative to its folder, "faces": [{box: [x, y, w, h],',
    'landmarks: [[x, y] × 5], score, quality, embedding, attributes}]} or {"file", "error"}. Resumable: a rerun',
    'keeps the photos already in FILE, retries the failed ones and does the rest (a line torn by a kill is',
    'dropped). Photos that fail (unreadable, not an image, too large, no face) are listed at the end; the exit',
    'code is 1 when any failed.',
    '',
    '  --all-faces           every face of each photo (default: the largest)',
    '  --faces FILE.jsonl    take the faces (box, landmarks) of an earlier run instead of detecting, by file',
    '                        name — how degraded copies of photos reuse the clean photos’ faces',
    '  --format F            jsonl (default) or safetensors: FILE holds `embedding` [N, D], `quality`, `score`,',
    '                        `box`, `landmarks`, `attributes` (one row per face) and the index (file, face) in',
    '                        its metadata; the JSONL journal FILE.jsonl beside it makes reruns resumable',
    ...RECOGNIZER_USAGE,
  ].join('\n'),
  async run(argv) {
    const { values, positionals } = parsePhotoArgs(argv, {
      ...ALL_FACES_FLAG,
      out: { type: 'string' },
      faces: { type: 'string' },
      format: { type: 'string', default: 'jsonl' },
    });
    if (positionals.length === 0) throw new UsageError('expected photos or folders');
    if (!values.out) throw new UsageError('--out FILE is required');
    assertSeparate(
      [{ role: '--out', path: values.out }],
      [
        ...positionals.map((path) => ({ role: 'input', path })),
        ...(values.faces ? [{ role: '--faces', path: values.faces as string }] : []),
      ],
    );
    if (values.format !== 'jsonl' && values.format !== 'safetensors')
      throw new UsageError(`--format must be jsonl or safetensors, got '${values.format}'`);
    const journal = values.format === 'jsonl' ? values.out : `${values.out}.jsonl`;
    const givenFaces = values.faces ? readFacesFile(values.faces) : null;
    const ignored = new BadInputReport();
    const photos = collectPhotos(positionals, ignored);
    const done = resumeJournal(journal);
    const todo = photos.filter((p) => !done.has(p.file));
    if (done.size > 0) console.error(`${journal}: ${done.size} photo(s) already done, ${todo.length} to go`);
    const failures: { file: string; reason: string }[] = [];
    const recognizer = await openRecognizer(values);
    const fd = openSync(journal, 'a');
    const progress = new ProgressBar({ total: photos.length, label: 'embed', startStep: photos.length - todo.length });
    try {
      for (const [i, photo] of todo.entries()) {
        let record: EmbedRecord;
        try {
          const faces = givenFaces?.get(photo.file);
          if (givenFaces && !faces) throw new DataError(photo.path, `no faces for '${photo.file}' in ${values.faces}`);
          const result = await recognizer.analyze(photo.path, { allFaces: values['all-faces'], faces });
          if (result.faces.length === 0) throw new DataError(photo.path, 'no face found');
          record = { file: photo.file, faces: result.faces.map(faceJson) };
        } catch (error) {
          record = { file: photo.file, error: failureReason(error) };
          failures.push({ file: photo.path, reason: record.error });
        }
        writeSync(fd, `${JSON.stringify(record)}\n`); // one write per whole line: a kill tears at most the last
        if ('faces' in record) done.set(photo.file, record);
        progress.update(photos.length - todo.length + i + 1, {}, 1);
      }
    } finally {
      progress.finish();
      closeSync(fd);
      await recognizer.close();
    }
    const ok = photos.length - failures.length;
    if (values.format === 'safetensors') {
      const records = photos.flatMap((p) => done.get(p.file) ?? []);
      const rows = writeEmbeddingMatrix(values.out, records, recognizer.spec.attributes);
      console.log(`${values.out}: ${rows} face(s) from ${records.length} photo(s)`);
    } else {
      console.log(`${values.out}: ${ok} of ${photos.length} photo(s) embedded`);
    }
    return reportFailures(failures, ignored);
  },
};
