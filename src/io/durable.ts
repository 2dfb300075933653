// Durable writes: every file catface writes goes through a temp file that is fsync'ed, renamed into place and
// its folder fsync'ed, so a crash or kill -9 at any moment leaves the old file or the new one, never half of
// one. Whole folders (a model, a checkpoint) are swapped the same way; see `replaceDirDurably`.
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** The suffix of the previous copy kept while a folder is swapped (see `replaceDirDurably`). */
const PREVIOUS = '.previous';

function uniqueSuffix(): string {
  return `${process.pid}-${Math.random().toString(36).slice(2, 10)}`;
}

/** fsyncs a folder so a rename inside it survives a power cut. */
export function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Writes `data` to `path` in place (no rename) and fsyncs it; for files inside a temp folder. */
export function writeFileSynced(path: string, data: string | Uint8Array): void {
  const bytes = typeof data === 'string' ? Buffer.from(data) : data;
  const fd = openSync(path, 'w');
  try {
    let written = 0;
    while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** A temp path beside `path` (same folder, created if missing), for a file that `commitFile` renames in. */
export function tempPathBeside(path: string): string {
  mkdirSync(dirname(path), { recursive: true });
  return join(dirname(path), `.${basename(path)}.tmp-${uniqueSuffix()}`);
}

/** Renames the fsync'ed temp file `tmp` onto `path` and fsyncs the folder. */
export function commitFile(tmp: string, path: string): void {
  renameSync(tmp, path);
  fsyncDir(dirname(path));
}

/** Writes `data` to `path` durably: temp file beside it, fsync, rename, fsync the folder. */
export function writeFileDurably(path: string, data: string | Uint8Array): void {
  if (existsSync(path) && statSync(path).isDirectory()) throw new Error(`${path}: is a directory; give a file path to write`);
  const tmp = tempPathBeside(path);
  try {
    writeFileSynced(tmp, data);
    commitFile(tmp, path);
  } catch (error) {
    rmSync(tmp, { force: true });
    throw error;
  }
}

/** A fresh, empty temporary folder beside `dir` (same file system, so it can be renamed onto `dir`). */
export function makeTempDirBeside(dir: string): string {
  mkdirSync(dirname(dir), { recursive: true });
  const tmp = join(dirname(dir), `.${basename(dir)}.tmp-${uniqueSuffix()}`);
  mkdirSync(tmp);
  return tmp;
}

/**
 * Replaces folder `dir` by the complete folder `tmp` (its files already fsync'ed, e.g. by `writeFileSynced`).
 * Two renames cannot be one atomic step, so the old folder is first renamed to `<dir>.previous` and only
 * deleted once the new one is in: a crash between the renames leaves `<dir>.previous`, which
 * `readableDir(dir)` returns, so there is always a complete folder to read.
 */
export function replaceDirDurably(tmp: string, dir: string): void {
  const previous = `${dir}${PREVIOUS}`;
  fsyncDir(tmp);
  if (existsSync(dir)) {
    // a `.previous` left by an earlier crash is older than `dir`, which is complete: drop it
    rmSync(previous, { recursive: true, force: true });
    renameSync(dir, previous);
  }
  renameSync(tmp, dir);
  fsyncDir(dirname(dir));
  rmSync(previous, { recursive: true, force: true });
}

/** `dir`, or the complete previous copy a crash in the middle of `replaceDirDurably` left; null when neither exists. */
export function readableDir(dir: string): string | null {
  if (existsSync(dir)) return dir;
  const previous = `${dir}${PREVIOUS}`;
  return existsSync(previous) ? previous : null;
}

/** Builds a folder with `fill(tmp)` and swaps it in for `dir` durably; a failure in `fill` leaves `dir` as it was. */
export function writeDirDurably(dir: string, fill: (tmp: string) => void): void {
  const tmp = makeTempDirBeside(dir);
  try {
    fill(tmp);
  } catch (error) {
    rmSync(tmp, { recursive: true, force: true });
    throw error;
  }
  replaceDirDurably(tmp, dir);
}
