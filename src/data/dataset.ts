// The common shape every reader returns: labelled samples whose image bytes can be fetched by any thread.
import type { BadInputReport } from './errors.js';
import { readInputFile } from './files.js';
import { readRecordPayload } from './readers/recordio.js';

/** Where a sample's encoded image lives: a file of its own, or a record inside a RecordIO `.rec` file. */
export type ImageLocator = { kind: 'file'; path: string } | { kind: 'record'; path: string; offset: number };

export interface FaceSample {
  image: ImageLocator;
  /** Class index into `FaceDataset.classes`. */
  label: number;
  /** One 0/1 value per `FaceDataset.attributeNames` entry (absent when the dataset has no attributes). */
  attributes?: number[];
}

export interface FaceDataset {
  samples: FaceSample[];
  /** Class names (identity folder names, CelebA identity ids, …) indexed by label. */
  classes: string[];
  attributeNames: string[];
  /** Inputs skipped under `onError: 'skip'`. */
  report: BadInputReport;
}

/** A short name for a locator in error messages and reports. */
export function describeLocator(image: ImageLocator): string {
  return image.kind === 'file' ? image.path : `${image.path}@${image.offset}`;
}

/** Reads the encoded image bytes a locator points at (any thread; no shared state). */
export function readImageBytes(image: ImageLocator): Buffer {
  if (image.kind === 'file') {
    return readInputFile(image.path);
  }
  return readRecordPayload(image.path, image.offset);
}
