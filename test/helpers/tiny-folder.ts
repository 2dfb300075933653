// A tiny training folder for loop tests: learnable identities, 32×32 PNGs and attributes.csv.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';

/** 8 identities × 6 images of 32×32: a per-identity random pattern plus per-image noise (learnable, fast). */
export async function writeTinyFolder(dir: string): Promise<void> {
  let seed = 12345;
  const rand = () => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed / 2 ** 32;
  };
  const rows = ['identity,Male,Big_Nose,Chubby,Narrow_Eyes,Bald'];
  for (let id = 0; id < 8; id++) {
    const name = `id${id}`;
    mkdirSync(join(dir, name), { recursive: true });
    const base = Uint8Array.from({ length: 32 * 32 * 3 }, () => Math.floor(rand() * 256));
    rows.push([name, ...Array.from({ length: 5 }, (_, k) => ((id >> k) & 1 ? 1 : 0))].join(','));
    for (let k = 0; k < 6; k++) {
      const pixels = base.map((v) => Math.max(0, Math.min(255, v + Math.floor((rand() - 0.5) * 60))));
      await sharp(Buffer.from(pixels), { raw: { width: 32, height: 32, channels: 3 } })
        .png()
        .toFile(join(dir, name, `${k}.png`));
    }
  }
  writeFileSync(join(dir, 'attributes.csv'), `${rows.join('\n')}\n`);
}
