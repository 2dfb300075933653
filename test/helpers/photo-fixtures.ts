// Photos for the pipeline and CLI tests: real faces from ../shared/data (absent: tests skip with a message) and
// every awkward or broken input a user hands over, generated with sharp.
import { existsSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deflateSync } from 'node:zlib';
import sharp from 'sharp';

const here = dirname(fileURLToPath(import.meta.url));
export const DATA = join(here, '..', '..', '..', '..', 'shared', 'data');
export const LFW = join(DATA, 'lfw');
export const YALE = join(DATA, 'yale');

/** An LFW photo path (person folder, 1-based image number). */
export const lfw = (person: string, n: number) => join(LFW, person, `${person}_${String(n).padStart(4, '0')}.jpg`);

export const hasLfw = () => existsSync(join(LFW, 'Abdullah_Gul'));

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

function pngChunk(type: string, data: Uint8Array): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])));
  return Buffer.concat([head, data, crc]);
}

/** A small valid-looking PNG whose header declares width×height (a decompression bomb's shape). */
export function hugePng(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 0, 0, 0, 0], 8); // 8-bit greyscale
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', deflateSync(Buffer.alloc(1 + width))), // one row only
    pngChunk('IEND', new Uint8Array(0)),
  ]);
}

/** Awkward but valid encodings of `photo`, written into `dir`: name → path. */
export async function awkwardCopies(photo: string, dir: string): Promise<Record<'cmyk' | 'greyAlpha' | 'rgb16' | 'exifRotated', string>> {
  const paths = {
    cmyk: join(dir, 'cmyk.jpg'),
    greyAlpha: join(dir, 'grey-alpha.png'),
    rgb16: join(dir, 'rgb16.png'),
    exifRotated: join(dir, 'exif-rotated.jpg'),
  };
  await sharp(photo).toColourspace('cmyk').jpeg({ quality: 95 }).toFile(paths.cmyk);
  await sharp(photo).greyscale().ensureAlpha(0.8).png().toFile(paths.greyAlpha);
  await sharp(photo).toColourspace('rgb16').png().toFile(paths.rgb16);
  // Pixels stored turned 90° anticlockwise, with EXIF orientation 6 ("rotate 90° clockwise to display").
  await sharp(await sharp(photo).rotate(270).toBuffer())
    .withMetadata({ orientation: 6 })
    .jpeg({ quality: 95 })
    .toFile(paths.exifRotated);
  return paths;
}

/** Broken inputs written into `dir`: name → path (each must fail with a clear message naming the file). */
export async function brokenFiles(dir: string, photo?: string): Promise<Record<string, string>> {
  const files: Record<string, string> = {
    empty: join(dir, 'empty.jpg'),
    text: join(dir, 'notes.jpg'),
    truncated: join(dir, 'truncated.jpg'),
    huge: join(dir, 'huge.png'),
  };
  writeFileSync(files.empty, '');
  writeFileSync(files.text, 'this is not a photo\n');
  const jpeg = photo
    ? await sharp(photo).jpeg().toBuffer()
    : await sharp({ create: { width: 64, height: 64, channels: 3, background: '#808080' } })
        .jpeg()
        .toBuffer();
  writeFileSync(files.truncated, jpeg.subarray(0, Math.floor(jpeg.length / 3)));
  writeFileSync(files.huge, hugePng(60000, 60000));
  return files;
}

/** A photo without a face: a smooth colour gradient. */
export async function noFacePhoto(path: string): Promise<void> {
  const width = 200;
  const height = 150;
  const data = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) data.set([Math.round((255 * x) / width), Math.round((255 * y) / height), 128], (y * width + x) * 3);
  await sharp(data, { raw: { width, height, channels: 3 } })
    .png()
    .toFile(path);
}

/** Two faces on one canvas: `big`'s central 150 px at (20, 40) and `small`'s shrunk to 90 px at (260, 60). */
export async function twoFacePhoto(
  big: string,
  small: string,
  path: string,
): Promise<{ bigAt: [number, number]; smallAt: [number, number] }> {
  const centre = (p: string, size: number) =>
    sharp(p).extract({ left: 50, top: 50, width: 150, height: 150 }).resize(size, size).toBuffer();
  await sharp({ create: { width: 400, height: 230, channels: 3, background: '#c8c8c8' } })
    .composite([
      { input: await centre(big, 150), left: 20, top: 40 },
      { input: await centre(small, 90), left: 260, top: 60 },
    ])
    .jpeg({ quality: 92 })
    .toFile(path);
  return { bigAt: [95, 115], smallAt: [305, 105] };
}
