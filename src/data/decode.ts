// Decoding one encoded image into the model's input pixels: sharp decode (with a pixel limit so a
// 20000×20000 header is refused before any allocation), greyscale → 3 channels, resize, HWC uint8.
import sharp, { type Sharp } from 'sharp';
import { DataError } from './errors.js';

export interface DecodeOptions {
  /** Output height and width. */
  height: number;
  width: number;
  /** 'fill' stretches to the size (aligned crops); 'cover' keeps the aspect ratio and centre-crops. */
  fit?: 'fill' | 'cover';
  /** Refuse images with more input pixels than this (default 50 M, about 7000×7000). */
  maxPixels?: number;
}

export const DEFAULT_MAX_PIXELS = 50_000_000;

/** Interleaved pixels with `channels` per pixel (1 = grey, 2 = grey+alpha, 3 = RGB) as RGB. */
export function toRgb(data: Uint8Array, channels: number, pixels: number): Uint8Array {
  if (channels === 3) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const rgb = new Uint8Array(pixels * 3);
  for (let i = 0; i < pixels; i++) rgb.fill(data[i * channels], 3 * i, 3 * i + 3);
  return rgb;
}

/** Decodes `bytes` to height×width×3 uint8 RGB; errors name `source`. */
export async function decodeImage(bytes: Uint8Array, source: string, options: DecodeOptions): Promise<Uint8Array> {
  if (bytes.length === 0) throw new DataError(source, 'empty file (0 bytes)');
  try {
    const { data, info } = await sharp(bytes, { limitInputPixels: options.maxPixels ?? DEFAULT_MAX_PIXELS, failOn: 'error' })
      .rotate() // honour EXIF orientation, as align does: a phone photo is upright
      .removeAlpha()
      .toColourspace('srgb')
      .resize(options.width, options.height, { fit: options.fit ?? 'fill', kernel: 'lanczos3' })
      .raw()
      .toBuffer({ resolveWithObject: true });
    return toRgb(data, info.channels, info.width * info.height);
  } catch (error) {
    throw decodeError(source, error, options.maxPixels ?? DEFAULT_MAX_PIXELS);
  }
}

/** What a failed sharp decode of `source` means: too large, not an image at all, or a damaged image. */
export function decodeError(source: string, error: unknown, maxPixels = DEFAULT_MAX_PIXELS): DataError {
  const message = (error as Error).message;
  if (/pixel limit/i.test(message)) return new DataError(source, `image too large: more than ${maxPixels} pixels (${message})`);
  if (/unsupported image format/i.test(message)) return new DataError(source, 'not an image (no known image format in its bytes)');
  return new DataError(source, `cannot decode image: ${message}`);
}

/** A decoded photo: height×width×3 uint8 RGB. */
export interface RgbImage {
  data: Uint8Array;
  width: number;
  height: number;
}

export interface DecodedPhoto {
  /** Full resolution, upright. */
  full: RgbImage;
  /** The same photo shrunk so its longer side is ≤ `detectionSide` (the full image itself when already smaller). */
  small: RgbImage;
}

/**
 * Decodes a photo as a camera or a user hands it over: EXIF orientation applied, CMYK / greyscale / 16-bit
 * converted to 8-bit sRGB, transparency flattened onto white, and a header declaring more than `maxPixels`
 * refused before any pixel is allocated. Errors name `source`.
 */
export async function decodePhoto(
  bytes: Uint8Array,
  source: string,
  options: { detectionSide?: number; maxPixels?: number } = {},
): Promise<DecodedPhoto> {
  if (bytes.length === 0) throw new DataError(source, 'empty file (0 bytes)');
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  const side = options.detectionSide ?? Number.POSITIVE_INFINITY;
  try {
    const image = sharp(bytes, { limitInputPixels: maxPixels, failOn: 'error' }).rotate().flatten({ background: '#ffffff' });
    const raw = async (input: Sharp): Promise<RgbImage> => {
      const { data, info } = await input.toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
      return { data: toRgb(data, info.channels, info.width * info.height), width: info.width, height: info.height };
    };
    const full = await raw(image.clone());
    const longer = Math.max(full.width, full.height);
    if (longer <= side) return { full, small: full };
    const scale = side / longer;
    const resized = image.resize({
      width: Math.max(1, Math.round(full.width * scale)),
      height: Math.max(1, Math.round(full.height * scale)),
      fit: 'fill',
    });
    return { full, small: await raw(resized) };
  } catch (error) {
    throw decodeError(source, error, maxPixels);
  }
}
