// An image folder: one sub-folder per identity holding that identity's images, and an optional
// `attributes.csv` at the root with one row per identity (ORL, Yale, `catface synth` and `catface align` output).
import { existsSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import type { FaceDataset, FaceSample } from '../dataset.js';
import { BadInputReport, DataError, describeFsError, handleBadInput, type OnError } from '../errors.js';
import { readAttributesCsv } from './attributes.js';

/** Extensions read as images (sharp decodes by content, so a PNG named .jpg still works). */
export const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.png', '.webp', '.gif', '.tif', '.tiff', '.avif', '.bmp', '.pgm', '.ppm']);

/** Files that legitimately sit beside images and are not reported. */
const KNOWN_NON_IMAGES = new Set(['.csv', '.txt', '.json', '.md']);

export interface ImageFolderOptions {
  /** Attribute columns to read from `attributes.csv` (default: all of them; [] to ignore the file). */
  attributes?: readonly string[];
  onError?: OnError;
}

const byNaturalName = (a: string, b: string) => a.localeCompare(b, 'en', { numeric: true });

/** What a folder entry is, following symlinks; an entry that cannot be stat'ed (a dangling link, no permission) is reported. */
export function entryKind(path: string, report: BadInputReport): 'file' | 'dir' | 'other' | null {
  try {
    const stat = statSync(path);
    return stat.isFile() ? 'file' : stat.isDirectory() ? 'dir' : 'other';
  } catch (error) {
    report.add(new DataError(path, `${describeFsError(error)}; skipped`));
    return null;
  }
}

/** The names in a folder in natural order (hidden ones left out); an unreadable folder is reported and reads as empty. */
export function readFolder(dir: string, report: BadInputReport): string[] {
  try {
    return readdirSync(dir)
      .filter((name) => !name.startsWith('.'))
      .sort(byNaturalName);
  } catch (error) {
    report.add(new DataError(dir, `${describeFsError(error)}; skipped`));
    return [];
  }
}

/** Lists the image files of a folder in natural order, reporting files that are not images. */
export function listImages(dir: string, report: BadInputReport): string[] {
  const images: string[] = [];
  for (const name of readFolder(dir, report)) {
    const path = join(dir, name);
    if (entryKind(path, report) !== 'file') continue;
    const ext = extname(name).toLowerCase();
    if (IMAGE_EXTENSIONS.has(ext)) images.push(path);
    else if (!KNOWN_NON_IMAGES.has(ext)) report.add(new DataError(path, `not an image extension ('${ext || 'none'}'); ignored`));
  }
  return images;
}

/** Throws a DataError naming `path` unless it is a readable folder (not found, a file, no permission: each said). */
export function requireFolder(path: string): void {
  let isFolder: boolean;
  try {
    isFolder = statSync(path).isDirectory();
    if (isFolder) readdirSync(path);
  } catch (error) {
    throw new DataError(path, describeFsError(error).replace('file not found', 'folder not found'));
  }
  if (!isFolder) throw new DataError(path, 'is a file, expected a folder');
}

/**
 * The image files of a folder tree (this folder's first, then each sub-folder's, in natural order). A folder
 * reached twice through symlinks (a loop) is reported once and not re-entered; unreadable entries are reported.
 */
export function listImageTree(root: string, report: BadInputReport, visited = new Set<string>()): string[] {
  const real = realpathSync(root);
  if (visited.has(real)) {
    report.add(new DataError(root, 'symlink loop (this folder was already listed); skipped'));
    return [];
  }
  visited.add(real);
  const files = listImages(root, report); // reports what cannot be read, so the walk below stays quiet
  const quiet = new BadInputReport();
  for (const name of readFolder(root, quiet)) {
    const path = join(root, name);
    if (entryKind(path, quiet) === 'dir') files.push(...listImageTree(path, report, visited));
  }
  return files;
}

/** Reads an image folder as a FaceDataset (labels in natural order of the identity folder names). */
export function readImageFolder(root: string, options: ImageFolderOptions = {}): FaceDataset {
  const onError = options.onError ?? 'throw';
  const report = new BadInputReport();
  requireFolder(root);
  const identities = readFolder(root, report).filter((name) => entryKind(join(root, name), report) === 'dir');
  if (identities.length === 0) throw new DataError(root, 'no identity folders');
  const csvPath = join(root, 'attributes.csv');
  const wantAttributes = options.attributes === undefined ? existsSync(csvPath) : options.attributes.length > 0;
  const table = wantAttributes ? readAttributesCsv(csvPath, options.attributes) : undefined;
  if (table) {
    const folders = new Set(identities);
    for (const name of table.rows.keys()) {
      if (!folders.has(name)) handleBadInput(new DataError(csvPath, `identity '${name}' has no folder in ${root}`), onError, report);
    }
  }
  const classes: string[] = [];
  const samples: FaceSample[] = [];
  for (const identity of identities) {
    const attributes = table?.rows.get(identity);
    if (table && !attributes) {
      handleBadInput(new DataError(csvPath, `no row for identity folder '${identity}'`), onError, report);
      continue;
    }
    const images = listImages(join(root, identity), report);
    if (images.length === 0) {
      report.add(new DataError(join(root, identity), 'identity folder has no images; skipped'));
      continue;
    }
    const label = classes.length;
    classes.push(identity);
    for (const path of images) samples.push({ image: { kind: 'file', path }, label, ...(attributes ? { attributes } : {}) });
  }
  if (samples.length === 0) throw new DataError(root, `no images in its ${identities.length} identity folder(s)`);
  return { samples, classes, attributeNames: table?.names ?? [], report };
}
