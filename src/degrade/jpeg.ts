// JPEG compression round trips through sharp (libvips). Each image is encoded and decoded on libuv's thread
// pool; a batch runs concurrently, so the event loop stays free and cores are shared with libtorch.
import sharp from 'sharp';
import { bytesToUnit, unitToBytes } from '../common/image-convention.js';
import type { Tensor } from '../torch/index.js';

/** Each image [B, C, H, W] in [0, 1] (C = 1 or 3) JPEG-compressed at qualities[b] (1–100) and decoded back. */
export async function jpegRoundTrip(images: Tensor, qualities: readonly number[]): Promise<Tensor> {
  const [b, c, h, w] = images.shape;
  if (qualities.length !== b) throw new RangeError(`jpegRoundTrip: ${qualities.length} qualities for a batch of ${b}`);
  qualities.forEach((q, i) => {
    if (!Number.isInteger(q) || q < 1 || q > 100)
      throw new RangeError(`jpegRoundTrip: qualities[${i}] must be an integer in 1–100, got ${q}`);
  });
  const bytes = unitToBytes(images);
  const frame = h * w * c;
  const decoded = await Promise.all(
    qualities.map(async (quality, i) => {
      const raw = Buffer.from(bytes.buffer, bytes.byteOffset + i * frame, frame);
      const source = sharp(raw, { raw: { width: w, height: h, channels: c as 1 | 3 } });
      // Greyscale stays a one-channel JPEG (libvips would otherwise widen it to sRGB).
      const encoded = await (c === 1 ? source.toColourspace('b-w') : source).jpeg({ quality, chromaSubsampling: '4:2:0' }).toBuffer();
      const decoder = sharp(encoded);
      const { data, info } = await (c === 1 ? decoder.extractChannel(0) : decoder).raw().toBuffer({ resolveWithObject: true });
      if (info.width !== w || info.height !== h || info.channels !== c) {
        throw new Error(`jpegRoundTrip: image ${i} decoded as ${info.width}×${info.height}×${info.channels}, expected ${w}×${h}×${c}`);
      }
      return data;
    }),
  );
  const all = new Uint8Array(b * frame);
  decoded.forEach((data, i) => {
    all.set(data, i * frame);
  });
  return bytesToUnit(all, [b, h, w, c]);
}
