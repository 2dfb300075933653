// `catface degrade <image>`: one face across strengths of every degradation — a labelled contact sheet
// (rows: effects, columns: strengths) and/or the single degraded images.
import { basename, extname, join } from 'node:path';
import { parseArgs } from 'node:util';
import sharp, { type OverlayOptions } from 'sharp';
import { bytesToUnit, unitToBytes } from '../common/image-convention.js';
import { DEFAULT_MAX_PIXELS, decodeError } from '../data/decode.js';
import { readInputFile } from '../data/files.js';
import { Degrader } from '../degrade/degrader.js';
import { withTorchSeed } from '../degrade/rng.js';
import { Turbulence } from '../degrade/turbulence.js';
import { applyStage, type StageSpec } from '../degrade/unconstrained.js';
import { writeFileDurably } from '../io/durable.js';
import { claimFolder, recordFolder } from '../io/owned-folder.js';
import { assertSeparate } from '../io/separate-paths.js';
import * as torch from '../torch/index.js';
import { type Command, UsageError } from './command.js';
import { intFlag, RANGES } from './flags.js';

/** One sheet row: a name and, per column, a caption and how to make that cell from the batch of originals. */
interface Row {
  name: string;
  captions: string[];
  make(images: torch.Tensor, seed: number): Promise<torch.Tensor>;
}

const stageRow = (name: string, captions: string[], specs: StageSpec[]): Row => ({
  name,
  captions,
  make: (images, seed) => applyStage(images, specs, seed),
});

const gaussian = (sigma: number): StageSpec => ({
  stage: 'blur',
  blur: { kind: 'isotropic', sigmaX: sigma, sigmaY: sigma, angle: 0, length: 0 },
});

function rows(): Row[] {
  const strengths = [0.25, 0.5, 1, 1.5, 2, 3];
  const sigmas = [0.5, 1, 2, 3, 5, 8];
  const lengths = [3, 5, 7, 9, 12, 15];
  const factors = [1.5, 2, 3, 4, 6, 8];
  const noise = [2, 5, 8, 12, 16, 20];
  const peaks = [3000, 1000, 500, 250, 150, 100];
  const qualities = [95, 80, 65, 50, 40, 30];
  const gammas = [0.6, 0.8, 1.2, 1.4, 1.6, 1.8];
  const lights = [0.8, 0.6, 0.45, 0.35, 0.25, 0.15];
  const tagged = <T>(values: T[], label: (v: T) => string) => values.map(label);
  return [
    {
      name: 'turbulence',
      captions: tagged(strengths, (s) => `D/r0 ${s}`),
      make: async (images, seed) => {
        const turbulence = new Turbulence();
        try {
          return withTorchSeed(seed, () => turbulence.apply(images, strengths));
        } finally {
          turbulence.dispose();
        }
      },
    },
    stageRow(
      'gaussian blur',
      tagged(sigmas, (s) => `σ ${s}`),
      sigmas.map(gaussian),
    ),
    stageRow(
      'anisotropic blur',
      tagged(sigmas, (s) => `σ ${s}×${(s / 4).toFixed(1)}`),
      sigmas.map((s) => ({ stage: 'blur', blur: { kind: 'anisotropic', sigmaX: s, sigmaY: s / 4, angle: Math.PI / 6, length: 0 } })),
    ),
    stageRow(
      'motion blur',
      tagged(lengths, (l) => `${l} px`),
      lengths.map((l) => ({ stage: 'blur', blur: { kind: 'motion', sigmaX: 1, sigmaY: 1, angle: Math.PI / 8, length: l } })),
    ),
    stageRow(
      'down-sampling',
      tagged(factors, (k) => `×1/${k}`),
      factors.map((factor) => ({ stage: 'resize', resize: { factor, down: 'area', up: 'bicubic' } })),
    ),
    stageRow(
      'gaussian noise',
      tagged(noise, (s) => `σ ${s}/255`),
      noise.map((s) => ({ stage: 'noise', noise: { kind: 'gaussian', sigma: s / 255, peak: 1, gray: false } })),
    ),
    stageRow(
      'poisson noise',
      tagged(peaks, (p) => `peak ${p}`),
      peaks.map((peak) => ({ stage: 'noise', noise: { kind: 'poisson', sigma: 0, peak, gray: false } })),
    ),
    stageRow(
      'JPEG',
      tagged(qualities, (q) => `quality ${q}`),
      qualities.map((quality) => ({ stage: 'jpeg', quality })),
    ),
    stageRow(
      'gamma',
      tagged(gammas, (g) => `γ ${g}`),
      gammas.map((gamma) => ({ stage: 'illumination', illumination: { gamma, contrast: 1, brightness: 1 } })),
    ),
    stageRow(
      'low light',
      tagged(lights, (b) => `×${b}`),
      lights.map((brightness) => ({ stage: 'illumination', illumination: { gamma: 1, contrast: 0.8, brightness } })),
    ),
    {
      name: 'mixed (training)',
      captions: Array.from({ length: 6 }, (_, i) => `sample ${i + 1}`),
      make: async (images, seed) => {
        const degrader = new Degrader({ seed });
        try {
          const out = await degrader.degrade(images);
          out.hq.dispose();
          return out.lq;
        } finally {
          degrader.dispose();
        }
      },
    },
  ];
}

/** The image as [1, 3, size, size] in [0, 1] (centre-cropped square, greyscale replicated to RGB). */
async function loadImage(path: string, size: number): Promise<torch.Tensor> {
  const bytes = readInputFile(path);
  let data: Buffer;
  try {
    data = await sharp(bytes, { limitInputPixels: DEFAULT_MAX_PIXELS })
      .rotate()
      .resize(size, size, { fit: 'cover' })
      .removeAlpha()
      .toColourspace('srgb')
      .raw()
      .toBuffer();
  } catch (error) {
    throw decodeError(path, error);
  }
  return bytesToUnit(data, [1, size, size, 3]);
}

/** HWC uint8 bytes of image `i` of a [B, 3, H, W] batch. */
function rgbBytes(images: torch.Tensor, i: number): Buffer {
  const bytes = torch.tidy(() => unitToBytes(images.narrow(0, i, 1)));
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

const LABEL_WIDTH = 130;
const CAPTION_HEIGHT = 16;
const GAP = 4;

async function contactSheet(size: number, original: Buffer, table: { row: Row; cells: Buffer[] }[]): Promise<Buffer> {
  const columns = 7;
  const cellW = size + GAP;
  const cellH = size + CAPTION_HEIGHT + GAP;
  const width = LABEL_WIDTH + columns * cellW + GAP;
  const height = table.length * cellH + GAP;
  const tiles: OverlayOptions[] = [];
  const texts: string[] = [];
  table.forEach(({ row, cells }, r) => {
    const top = GAP + r * cellH;
    texts.push(`<text x="8" y="${top + size / 2 + 5}" font-size="14" font-weight="bold">${escapeXml(row.name)}</text>`);
    [original, ...cells].forEach((cell, c) => {
      const left = LABEL_WIDTH + c * cellW;
      tiles.push({ input: cell, raw: { width: size, height: size, channels: 3 }, top, left });
      const caption = c === 0 ? 'original' : row.captions[c - 1];
      texts.push(`<text x="${left + size / 2}" y="${top + size + 12}" font-size="11" text-anchor="middle">${escapeXml(caption)}</text>`);
    });
  });
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><g font-family="sans-serif" fill="#222">${texts.join('')}</g></svg>`;
  tiles.push({ input: Buffer.from(svg), top: 0, left: 0 });
  return sharp({ create: { width, height, channels: 3, background: '#ffffff' } })
    .composite(tiles)
    .png()
    .toBuffer();
}

export const degradeCommand: Command = {
  name: 'degrade',
  summary: 'show a face across strengths of every degradation (contact sheet / single images)',
  usage: [
    'catface degrade <image> [--out sheet.png] [--save DIR] [--size 112] [--seed 0] [--force]',
    '',
    'Degrades one face with atmospheric turbulence (D/r0 0.25–3), Gaussian / anisotropic / motion blur,',
    'down-sampling, Gaussian and Poisson noise, JPEG, gamma and low light at six strengths each, plus six',
    'samples of the mixed training Degrader (50% turbulence, 50% unconstrained).',
    '  --out FILE   contact sheet PNG: one labelled row per effect, columns = original + strengths',
    '  --save DIR   also writes every cell as DIR/<effect>_<column>.png',
    '  --size N     square side the face is cropped and resized to (16–1024, default 112)',
    '  --force      let --save write into a folder holding files catface did not make (deleting none)',
    '  --seed N     seed of the random parts (turbulence fields, noise, mixed samples; 0–2^53, default 0)',
  ].join('\n'),
  async run(argv) {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        out: { type: 'string' },
        save: { type: 'string' },
        size: { type: 'string', default: '112' },
        seed: { type: 'string', default: '0' },
        force: { type: 'boolean', default: false },
      },
    });
    if (positionals.length !== 1) throw new UsageError('give exactly one image: catface degrade <image> --out sheet.png');
    if (!values.out && !values.save) throw new UsageError('nothing to write: give --out FILE and/or --save DIR');
    const size = intFlag(values.size, 'size', RANGES.size);
    const seed = intFlag(values.seed, 'seed', RANGES.seed);
    if (values.out && extname(values.out).toLowerCase() !== '.png')
      throw new UsageError(`--out must name a .png file, got '${values.out}'`);

    const input = [{ role: 'the image', path: positionals[0] }];
    assertSeparate(
      [...(values.out ? [{ role: '--out', path: values.out }] : []), ...(values.save ? [{ role: '--save', path: values.save }] : [])],
      input,
    );
    const saveFolder = values.save ? claimFolder(values.save, 'degrade', values.force) : undefined;
    const image = await loadImage(positionals[0], size);
    const originals = torch.tidy(() => image.expand(6, 3, size, size).contiguous());
    const table: { row: Row; cells: Buffer[] }[] = [];
    for (const row of rows()) {
      const out = await row.make(originals, seed);
      table.push({ row, cells: Array.from({ length: 6 }, (_, i) => rgbBytes(out, i)) });
      out.dispose();
    }
    const original = rgbBytes(image, 0);
    torch.dispose([image, originals]);
    if (saveFolder) {
      const saved: string[] = [];
      const stem = basename(positionals[0], extname(positionals[0]));
      for (const { row, cells } of table) {
        for (const [i, cell] of cells.entries()) {
          const name = `${stem}_${row.name.replace(/[^a-z0-9]+/gi, '-')}_${row.captions[i].replace(/[^a-z0-9.]+/gi, '-')}.png`;
          saved.push(name);
          writeFileDurably(
            join(saveFolder.dir, name),
            await sharp(cell, { raw: { width: size, height: size, channels: 3 } })
              .png()
              .toBuffer(),
          );
        }
      }
      recordFolder(saveFolder, saved);
      console.log(`wrote ${table.length * 6} images to ${saveFolder.dir}`);
    }
    if (values.out) {
      writeFileDurably(values.out, await contactSheet(size, original, table));
      console.log(`wrote contact sheet ${values.out} (${table.length} effects × 6 strengths, ${size} px)`);
    }
    return 0;
  },
};
