// Output folders catface owns. A command that writes a folder records what it wrote in `<dir>/.catface-output.json`
// (the command and every file, relative). It writes into an existing folder only if the folder is empty or that
// record says the same command made it — otherwise it refuses, unless forced, and then it still never deletes a
// file it did not write. When it finishes, files of its previous run that this run did not write are removed,
// so the folder always equals one run's output (no stale identities from a larger earlier run).
import { existsSync, readdirSync, readFileSync, rmdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { writeFileDurably } from './durable.js';

export const OWNER_FILE = '.catface-output.json';

interface OwnerRecord {
  command: string;
  files: string[];
}

/** A folder claimed for one command's output: what its previous run wrote there. */
export interface OwnedFolder {
  dir: string;
  command: string;
  previous: Set<string>;
}

/** Why a folder cannot be written into; the message names the folder and what to do. */
export class FolderNotOwnedError extends Error {}

function readRecord(dir: string): OwnerRecord | null {
  const path = join(dir, OWNER_FILE);
  if (!existsSync(path)) return null;
  try {
    const record = JSON.parse(readFileSync(path, 'utf8')) as OwnerRecord;
    if (typeof record.command === 'string' && Array.isArray(record.files)) return record;
  } catch {
    // an unreadable record proves nothing: the folder is treated as someone else's
  }
  return null;
}

/**
 * Claims `dir` for `command`'s output (creating nothing yet). Refuses a file, a folder another command wrote,
 * or a non-empty folder without a record — unless `force`, which writes beside the files already there.
 */
export function claimFolder(dir: string, command: string, force = false): OwnedFolder {
  if (!existsSync(dir)) return { dir, command, previous: new Set() };
  if (!statSync(dir).isDirectory()) throw new FolderNotOwnedError(`${dir}: exists and is a file, not a folder`);
  const record = readRecord(dir);
  if (record?.command === command) return { dir, command, previous: new Set(record.files) };
  const entries = readdirSync(dir).filter((name) => name !== OWNER_FILE);
  if (entries.length > 0 && !force) {
    const what = record
      ? `holds the output of \`catface ${record.command}\``
      : `holds ${entries.length} file(s) catface did not write (${entries.slice(0, 3).join(', ')}${entries.length > 3 ? ', …' : ''})`;
    throw new FolderNotOwnedError(
      `${dir}: ${what}; choose a new or empty folder, or pass --force to write beside them (nothing there is deleted)`,
    );
  }
  return { dir, command, previous: new Set() };
}

/**
 * Records that `files` (relative to the folder) are this run's output, and deletes the files of the previous run
 * that are not among them (and the folders that leaves empty).
 */
export function recordFolder(folder: OwnedFolder, files: Iterable<string>): void {
  const current = new Set(files);
  for (const stale of folder.previous) {
    if (current.has(stale) || stale.split(/[\\/]/).includes('..')) continue;
    const path = join(folder.dir, stale);
    rmSync(path, { force: true });
    removeEmptyParents(folder.dir, dirname(path));
  }
  const record: OwnerRecord = { command: folder.command, files: [...current].sort() };
  writeFileDurably(join(folder.dir, OWNER_FILE), `${JSON.stringify(record)}\n`);
}

function removeEmptyParents(root: string, dir: string): void {
  for (let d = dir; relative(root, d) !== '' && !relative(root, d).startsWith(`..${sep}`); d = dirname(d)) {
    try {
      if (readdirSync(d).length > 0) return;
      rmdirSync(d);
    } catch {
      return;
    }
  }
}
