// An image folder: one sub-folder per identity holding that identity's images, and an optional
// `attributes.csv` at the root with one row per identity (ORL, Yale, `catface synth` and `catface align` output).
import { existsSync, readdirSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import type { FaceDataset, FaceSample } from '../dataset.js';
import { BadInputReport, DataError, handleBadInput, type OnError } from '../errors.js';
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

/** Lists the image files of a folder in natural order, reporting files that are not images. */
export function listImages(dir: string, report: BadInputReport): string[] {
  const images: string[] = [];
  for (const name of readdirSync(dir).sort(byNaturalName)) {
    if (name.startsWith('.')) continue;
    const path = join(dir, name);
    if (!statSync(path).isFile()) continue;
    const ext = extname(name).toLowerCase();
    if (IMAGE_EXTENSIONS.has(ext)) images.push(path);
    else if (!KNOWN_NON_IMAGES.has(ext)) report.add(new DataError(path, `not an image extension ('${ext || 'none'}'); ignored`));
  }
  return images;
}

/** The image files of a folder tree (this folder's first, then each sub-folder's, in natural order). */
export function listImageTree(root: string, report: BadInputReport): string[] {
  const files = listImages(root, report);
  for (const name of readdirSync(root).sort(byNaturalName)) {
    const path = join(root, name);
    if (!name.startsWith('.') && statSync(path).isDirectory()) files.push(...listImageTree(path, report));
  }
  return files;
}

/** Reads an image folder as a FaceDataset (labels in natural order of the identity folder names). */
export function readImageFolder(root: string, options: ImageFolderOptions = {}): FaceDataset {
  const onError = options.onError ?? 'throw';
  const report = new BadInputReport();
  if (!existsSync(root) || !statSync(root).isDirectory()) throw new DataError(root, 'not a directory');
  const identities = readdirSync(root)
    .filter((name) => !name.startsWith('.') && statSync(join(root, name)).isDirectory())
    .sort(byNaturalName);
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
  return { samples, classes, attributeNames: table?.names ?? [], report };
}
