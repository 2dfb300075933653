// insightface `.bin` verification sets (lfw.bin, cfp_fp.bin, agedb_30.bin, …): a pickle of
// (list of encoded images, list of same/different flags); images 2i and 2i+1 form pair i (SPEC §8).
import { writeFileDurably } from '../../io/durable.js';
import { DataError } from '../errors.js';
import { readInputFile } from '../files.js';
import { NdArray, type PickleForm, type PickleValue, PyTuple, readPickle, writePickle } from './pickle.js';

export interface VerificationSet {
  /** Encoded images (JPEG/PNG bytes); 2 per pair. */
  images: Buffer[];
  /** One flag per pair: true when both images show the same person. */
  issame: boolean[];
}

function flagsFrom(value: PickleValue, path: string): boolean[] {
  if (value instanceof NdArray) return value.toNumbers().map((v) => v !== 0);
  if (!Array.isArray(value)) throw new DataError(path, 'second element must be a list or numpy array of same/different flags');
  return value.map((v, i) => {
    if (typeof v === 'boolean') return v;
    if (v === 0 || v === 1) return v === 1;
    throw new DataError(path, `flag ${i} is ${String(v)}, expected a bool`);
  });
}

/** Opcodes a protocol 0/1 pickle of a tuple can start with: MARK, EMPTY_LIST, EMPTY_TUPLE, EMPTY_DICT, GLOBAL. */
const OLD_PROTOCOL_STARTS = new Set([0x28, 0x5d, 0x29, 0x7d, 0x63]);
const STOP = 0x2e;

/**
 * Checks the pickle framing before parsing, so a file that is not a pickle at all (an image, a text file, a
 * .rec) is called that — not reported as whatever opcode its first bytes happen to spell.
 */
function checkPickleFraming(bytes: Uint8Array, path: string): void {
  if (bytes.length === 0) throw new DataError(path, 'empty file (0 bytes); not a .bin verification set');
  const protocol = bytes[0] === 0x80 ? bytes[1] : undefined;
  const framed = protocol !== undefined ? protocol >= 2 && protocol <= 5 : OLD_PROTOCOL_STARTS.has(bytes[0]);
  if (!framed) {
    const head = Buffer.from(bytes.subarray(0, 8)).toString('hex').replace(/(..)/g, '$1 ').trim();
    throw new DataError(path, `not a .bin verification set: it does not start like a Python pickle (first bytes ${head})`);
  }
  if (bytes[bytes.length - 1] !== STOP) throw new DataError(path, `truncated pickle: no STOP opcode at its end (${bytes.length} bytes)`);
}

/** Parses a `.bin` file's bytes (Python 2 `str` and Python 3 `bytes` images; list or numpy flags). */
export function parseVerificationBin(bytes: Uint8Array, path = '.bin'): VerificationSet {
  checkPickleFraming(bytes, path);
  const root = readPickle(bytes, path);
  if (!Array.isArray(root) || root.length !== 2) throw new DataError(path, 'expected a pickled pair (images, issame)');
  const [imagesValue, flagsValue] = root;
  if (!Array.isArray(imagesValue)) throw new DataError(path, 'first element must be a list of encoded images');
  const images = imagesValue.map((v, i) => {
    if (Buffer.isBuffer(v)) return v;
    if (v instanceof NdArray && v.dtype === 'uint8') return v.data;
    throw new DataError(path, `image ${i} is not bytes`);
  });
  const issame = flagsFrom(flagsValue, path);
  if (images.length !== 2 * issame.length) {
    throw new DataError(path, `${images.length} images for ${issame.length} pairs (expected exactly 2 images per pair)`);
  }
  return { images, issame };
}

export function readVerificationBin(path: string): VerificationSet {
  return parseVerificationBin(readInputFile(path), path);
}

/** Writes a `.bin` file readable by insightface (`pickle.load(f, encoding='bytes')`); 'py2' writes `str`. */
export function writeVerificationBin(path: string, set: VerificationSet, form: PickleForm = 'py3'): void {
  if (set.images.length !== 2 * set.issame.length) {
    throw new RangeError(`writeVerificationBin: ${set.images.length} images for ${set.issame.length} pairs`);
  }
  const images = set.images.map((b) => (Buffer.isBuffer(b) ? b : Buffer.from(b)));
  writeFileDurably(path, writePickle(PyTuple.from([images, [...set.issame]]), form));
}
