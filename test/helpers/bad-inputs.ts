// Fixtures of the CLI bad-input corpus (test/cli-corpus.test.ts): unusual and broken image files, datasets,
// configs, results and run directories, generated once into a temporary folder.
import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import sharp from 'sharp';

const solid = (r: number, g: number, b: number, size = 16) =>
  sharp({ create: { width: size, height: size, channels: 3, background: { r, g, b } } });

/** A PNG whose header declares width×height (valid CRC) over a small image's data: a decompression bomb. */
export function pngDeclaring(png: Buffer, width: number, height: number): Buffer {
  const out = Buffer.from(png);
  out.writeUInt32BE(width, 16);
  out.writeUInt32BE(height, 20);
  out.writeUInt32BE(crc32(out.subarray(12, 29)), 29);
  return out;
}

/** Image files that decode (each unusual in one way), by file name. */
export async function unusualImages(): Promise<Record<string, Buffer>> {
  const a = await solid(128, 64, 32).png().toBuffer();
  const b = await solid(32, 64, 128).png().toBuffer();
  return {
    '16bit.png': await sharp(a).toColourspace('rgb16').png().toBuffer(),
    'cmyk.jpg': await sharp(a).toColourspace('cmyk').jpeg().toBuffer(),
    'grey-alpha.png': await sharp(Buffer.alloc(16 * 16 * 2, 128), { raw: { width: 16, height: 16, channels: 2 } })
      .toColourspace('b-w')
      .png()
      .toBuffer(),
    'animated.gif': await sharp([a, b], { join: { animated: true } })
      .gif()
      .toBuffer(),
    'vector.svg': Buffer.from(
      '<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16"><circle cx="8" cy="8" r="6" fill="#a52"/></svg>',
    ),
    'exif-rotated.jpg': await sharp(await solid(90, 90, 90, 24).extract({ left: 0, top: 0, width: 24, height: 16 }).png().toBuffer())
      .jpeg()
      .withMetadata({ orientation: 6 })
      .toBuffer(),
    'spaced name.png': a,
    'ünïcødé.png': b,
    "quote'd;semi.png": a,
  };
}

/** Image files that must be refused, by file name, with the words the refusal must contain. */
export async function brokenImages(): Promise<Record<string, { bytes: Buffer; says: RegExp }>> {
  const png = await solid(10, 200, 30).png().toBuffer();
  const jpeg = await solid(10, 200, 30, 64).jpeg().toBuffer();
  return {
    'zero-byte.png': { bytes: Buffer.alloc(0), says: /empty|cannot decode/ },
    'truncated.jpg': { bytes: jpeg.subarray(0, Math.floor(jpeg.length / 2)), says: /cannot decode image/ },
    'wrong-magic.png': { bytes: Buffer.from('this is a shopping list, not a picture\n'), says: /not an image/ },
    'huge-header.png': { bytes: pngDeclaring(png, 30_000, 30_000), says: /image too large/ },
    'random-bytes.jpg': {
      bytes: Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 97 + 13) & 255)),
      says: /not an image|cannot decode/,
    },
    'html.png': { bytes: Buffer.from('<!DOCTYPE html><html><body>404</body></html>'), says: /not an image|cannot decode/ },
  };
}

/** A folder of identity folders with `attributes.csv` (the five SPEC attributes), `perIdentity` images each. */
export async function writeDataset(dir: string, identities: number, perIdentity: number): Promise<void> {
  const rows = ['identity,Male,Big_Nose,Chubby,Narrow_Eyes,Bald'];
  for (let id = 0; id < identities; id++) {
    mkdirSync(join(dir, `id${id}`), { recursive: true });
    rows.push([`id${id}`, ...Array.from({ length: 5 }, (_, k) => ((id >> k) & 1 ? 1 : 0))].join(','));
    for (let k = 0; k < perIdentity; k++)
      writeFileSync(
        join(dir, `id${id}`, `${k}.png`),
        await solid((id * 53 + k * 7) % 256, (id * 31) % 256, (k * 40) % 256)
          .png()
          .toBuffer(),
      );
  }
  writeFileSync(join(dir, 'attributes.csv'), `${rows.join('\n')}\n`);
}

/** A folder whose only sub-folder links back to it. */
export function writeLoop(dir: string): void {
  mkdirSync(join(dir, 'a'), { recursive: true });
  symlinkSync('..', join(dir, 'a', 'loop'));
}

/** sha256 of every file under `root` (symlinks as their target text, never followed). */
export function snapshot(root: string, prefix = ''): Map<string, string> {
  const out = new Map<string, string>();
  for (const name of readdirSync(join(root, prefix))) {
    const rel = join(prefix, name);
    const stat = lstatSync(join(root, rel));
    if (stat.isSymbolicLink()) out.set(rel, 'link');
    else if (stat.isDirectory()) for (const [k, v] of snapshot(root, rel)) out.set(k, v);
    else
      out.set(
        rel,
        createHash('sha256')
          .update(readFileSync(join(root, rel)))
          .digest('hex'),
      );
  }
  return out;
}
