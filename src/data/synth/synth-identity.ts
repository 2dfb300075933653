// Synthetic identities — the embedded default dataset: seeded facesjs cartoon faces rasterised by sharp, one
// face per identity with per-image changes of expression, glasses, pose and lighting, and the five SPEC §2
// attributes derived from the face parameters. Deterministic for a seed: facesjs draws from Math.random, which
// is replaced by a seeded stream while it runs, and every identity/image has its own seed, so the output does
// not depend on the number of worker threads.

import type { FaceConfig } from 'facesjs';
import { faceToSvgString, generate } from 'facesjs';
import sharp from 'sharp';
import { mixSeed, Prng, withSeededMathRandom } from '../../common/prng.js';
import { DEFAULT_ATTRIBUTES } from '../readers/attributes.js';

/** facesjs eye shapes whose outline is at most 0.42 as high as wide (path bounding boxes, facesjs 5.0.3). */
const NARROW_EYES = new Set([
  'eye6',
  'eye7',
  'eye9',
  'eye16',
  'eye17',
  'eye18',
  'eye19',
  'female5',
  'female6',
  'female8',
  'female9',
  'female13',
]);
const WIDE_EYES = {
  male: ['eye1', 'eye2', 'eye3', 'eye4', 'eye5', 'eye8', 'eye10', 'eye11', 'eye12', 'eye13', 'eye14', 'eye15'],
  female: ['female1', 'female2', 'female3', 'female4', 'female7', 'female10', 'female14', 'female15', 'female16'],
};
const GLASSES = ['glasses1-primary', 'glasses1-secondary', 'glasses2-black', 'glasses2-primary', 'glasses2-secondary'];
const MOUTHS = [
  'angry',
  'closed',
  'mouth',
  'mouth2',
  'mouth3',
  'mouth4',
  'mouth5',
  'mouth6',
  'mouth7',
  'mouth8',
  'side',
  'smile-closed',
  'smile',
  'smile2',
  'smile3',
  'smile4',
  'straight',
];
const BIG_NOSES = new Set(['honker', 'pinocchio']);

/** Attribute thresholds on the face parameters. */
const BIG_NOSE_SIZE = 0.95;
const CHUBBY_FATNESS = 0.6;

// The face's eye centres sit at (140, 310) and (260, 310) in facesjs's 400×600 frame; this window puts them
// where SPEC §8's 112×112 template has them (x 38.3/73.5, y 51.6), so the crops come out roughly aligned.
const TEMPLATE_SCALE = 35.24 / 120;
const WINDOW = 112 / TEMPLATE_SCALE;
const WINDOW_X = 200 - 55.91 / TEMPLATE_SCALE;
const WINDOW_Y = 310 - 51.6 / TEMPLATE_SCALE;

export interface SynthConfig {
  /** Number of identities (default 200). */
  identities?: number;
  /** Images per identity (default 20). */
  imagesPerIdentity?: number;
  /** Output size in pixels (default 112). */
  size?: number;
  seed?: number;
  /** Largest in-plane rotation in degrees (default 8). */
  maxRotation?: number;
}

export interface SynthIdentity {
  name: string;
  face: FaceConfig;
  gender: 'male' | 'female';
  /** 0/1 per DEFAULT_ATTRIBUTES entry. */
  attributes: number[];
}

/** The five attributes (Male, Big_Nose, Chubby, Narrow_Eyes, Bald) of a face. */
export function faceAttributes(face: FaceConfig, gender: 'male' | 'female'): number[] {
  const values: Record<(typeof DEFAULT_ATTRIBUTES)[number], boolean> = {
    Male: gender === 'male',
    Big_Nose: face.nose.size >= BIG_NOSE_SIZE || BIG_NOSES.has(face.nose.id),
    Chubby: face.fatness >= CHUBBY_FATNESS,
    Narrow_Eyes: NARROW_EYES.has(face.eye.id),
    Bald: face.hair.id === 'bald',
  };
  return DEFAULT_ATTRIBUTES.map((name) => (values[name] ? 1 : 0));
}

/** Identity `index` of the set generated from `seed` (the same face whatever the other identities). */
export function synthIdentity(seed: number, index: number): SynthIdentity {
  const prng = new Prng(mixSeed(seed, index));
  const gender = prng.uniform() < 0.5 ? 'male' : 'female';
  const face = withSeededMathRandom(prng, () => generate(undefined, { gender }));
  // Spread the attribute-bearing parameters so each attribute has both values often enough to learn.
  face.fatness = Math.round(prng.uniform(0, 1) * 100) / 100;
  face.nose.size = Math.round(prng.uniform(0.5, 1.3) * 100) / 100;
  face.eye.id =
    prng.uniform() < 0.35
      ? prng.pick([...NARROW_EYES].filter((e) => e.startsWith(gender === 'male' ? 'eye' : 'female')))
      : prng.pick(WIDE_EYES[gender]);
  if (gender === 'male' && prng.uniform() < 0.3) {
    face.hair.id = 'bald';
    face.hairBg.id = 'none';
  } else if (face.hair.id === 'bald') face.hair.id = gender === 'male' ? 'short' : 'female1';
  face.accessories.id = 'none'; // hats would hide baldness
  face.glasses.id = prng.uniform() < 0.15 ? prng.pick(GLASSES) : 'none';
  return { name: `id${String(index).padStart(5, '0')}`, face, gender, attributes: faceAttributes(face, gender) };
}

/** The SVG of image `k` of an identity: varied expression, glasses, pose and lighting, template-framed. */
export function synthImageSvg(identity: SynthIdentity, seed: number, identityIndex: number, k: number, config: SynthConfig = {}): string {
  const size = config.size ?? 112;
  const maxRotation = config.maxRotation ?? 8;
  const prng = new Prng(mixSeed(seed, identityIndex, k + 1));
  const face: FaceConfig = structuredClone(identity.face);
  if (k > 0) {
    face.mouth = { id: prng.pick(MOUTHS), flip: prng.uniform() < 0.5 };
    face.eyebrow.angle += Math.round(prng.uniform(-8, 8));
    face.eye.angle += Math.round(prng.uniform(-4, 4));
    if (prng.uniform() < 0.2) face.glasses.id = face.glasses.id === 'none' ? prng.pick(GLASSES) : 'none';
  }
  const inner = faceToSvgString(face)
    .replace(/^<svg[^>]*>/, '')
    .replace(/<\/svg>\s*$/, '');
  const jitter = k > 0 ? 1 : 0;
  const angle = jitter * prng.uniform(-maxRotation, maxRotation);
  const scale = 1 + jitter * prng.uniform(-0.06, 0.06);
  const dx = jitter * prng.uniform(-0.04, 0.04) * WINDOW;
  const dy = jitter * prng.uniform(-0.04, 0.04) * WINDOW;
  const grey = Math.round(prng.uniform(150, 245));
  const lightAngle = prng.uniform(0, 360);
  const shadow = (jitter * prng.uniform(0, 0.45)).toFixed(3);
  const exposure = jitter * prng.uniform(-0.15, 0.15);
  const [cx, cy] = [200, 360];
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}" viewBox="${WINDOW_X} ${WINDOW_Y} ${WINDOW} ${WINDOW}">`,
    `<defs><linearGradient id="light" gradientTransform="rotate(${lightAngle.toFixed(1)} 0.5 0.5)"><stop offset="0" stop-color="#000" stop-opacity="${shadow}"/><stop offset="1" stop-color="#000" stop-opacity="0"/></linearGradient></defs>`,
    `<rect x="${WINDOW_X}" y="${WINDOW_Y}" width="${WINDOW}" height="${WINDOW}" fill="rgb(${grey},${grey},${grey})"/>`,
    `<g transform="translate(${dx.toFixed(2)} ${dy.toFixed(2)}) rotate(${angle.toFixed(2)} ${cx} ${cy}) translate(${cx} ${cy}) scale(${scale.toFixed(4)}) translate(${-cx} ${-cy})">${inner}</g>`,
    `<rect x="${WINDOW_X}" y="${WINDOW_Y}" width="${WINDOW}" height="${WINDOW}" fill="url(#light)"/>`,
    `<rect x="${WINDOW_X}" y="${WINDOW_Y}" width="${WINDOW}" height="${WINDOW}" fill="${exposure > 0 ? '#fff' : '#000'}" fill-opacity="${Math.abs(exposure).toFixed(3)}"/>`,
    '</svg>',
  ].join('');
}

/** Rasterises an image SVG to PNG bytes (size×size RGB). */
export async function rasterise(svg: string): Promise<Buffer> {
  return sharp(Buffer.from(svg)).removeAlpha().png({ compressionLevel: 6 }).toBuffer();
}
