/**
 * PNG and GIF encoding and PNG/JPEG decoding: the only image code that touches imagescript, which it
 * imports lazily. imagescript loads a native addon, so these functions need
 * `--allow-ffi --allow-env --allow-read`.
 *
 * @module
 */

import type { RgbaImage } from "./grid.ts";

/** A decoded image: `rgba` holds `width·height·4` bytes, straight (not premultiplied) alpha. */
export interface DecodedImage {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** RGBA bytes, row-major. */
  rgba: Uint8Array;
}

// deno-lint-ignore no-explicit-any
let imagescript: Promise<any> | null = null;
// deno-lint-ignore no-explicit-any
function loadImagescript(): Promise<any> {
  imagescript ??= import("imagescript");
  return imagescript;
}

/**
 * Encodes an RGBA (or RGB, detected by length) picture as PNG. Deterministic: the same pixels give
 * the same bytes (creation time fixed at 0, compression level fixed), so hashes are stable.
 * Needs `--allow-ffi --allow-env --allow-read` (imagescript).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodePng } from "./codec.ts";
 * const px = Uint8Array.of(255, 0, 0, 255);
 * const a = await encodePng(px, 1, 1), b = await encodePng(px, 1, 1);
 * assert.equal(a.join(), b.join());
 * assert.equal(a[1], 0x50);
 * ```
 */
export async function encodePng(pixels: Uint8Array, width: number, height: number): Promise<Uint8Array> {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`encodePng: bad size ${width}x${height}`);
  }
  let rgba = pixels;
  if (pixels.length === width * height * 3) {
    rgba = new Uint8Array(width * height * 4);
    for (let i = 0; i < width * height; i++) {
      rgba.set(pixels.subarray(i * 3, i * 3 + 3), i * 4);
      rgba[i * 4 + 3] = 255;
    }
  } else if (pixels.length !== width * height * 4) {
    throw new RangeError(`encodePng: ${pixels.length} bytes is neither RGB nor RGBA for ${width}x${height}`);
  }
  const { Image } = await loadImagescript();
  const img = new Image(width, height);
  img.bitmap.set(rgba);
  return await img.encode(6, { creationTime: 0, software: "emoji-diffusion" });
}

/**
 * Decodes PNG or JPEG (or TIFF) bytes to straight-alpha RGBA. Throws an Error for anything else or
 * for corrupt data. Needs `--allow-ffi --allow-env --allow-read` (imagescript).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeImage, encodePng } from "./codec.ts";
 * const png = await encodePng(Uint8Array.of(1, 2, 3, 255), 1, 1);
 * const img = await decodeImage(png);
 * assert.equal(img.width, 1);
 * assert.equal(img.rgba.join(), "1,2,3,255");
 * ```
 */
export async function decodeImage(bytes: Uint8Array): Promise<DecodedImage> {
  const { Image } = await loadImagescript();
  const img = await Image.decode(bytes);
  if (!img || !(img.width > 0) || !(img.height > 0)) throw new Error("decoded image is empty");
  const rgba = new Uint8Array(img.bitmap.buffer, img.bitmap.byteOffset, img.bitmap.byteLength);
  return { width: img.width, height: img.height, rgba: rgba.slice() };
}

/**
 * Encodes RGBA frames as a looping GIF: every frame shown `delayMs`, the last one held `holdMs`.
 * Needs `--allow-ffi --allow-env --allow-read` (imagescript).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeGif } from "./codec.ts";
 * const red = { width: 1, height: 1, rgba: Uint8Array.of(255, 0, 0, 255) };
 * const gif = await encodeGif([red, red], 50, 500);
 * assert.equal(new TextDecoder().decode(gif.subarray(0, 6)), "GIF89a");
 * ```
 */
export async function encodeGif(frames: RgbaImage[], delayMs = 80, holdMs = 2000): Promise<Uint8Array> {
  if (frames.length === 0) throw new RangeError("encodeGif: no frames");
  const { Frame, GIF } = await loadImagescript();
  const { width, height } = frames[0];
  const out = frames.map((f, i) => {
    if (f.width !== width || f.height !== height) {
      throw new RangeError(`encodeGif: frame ${i} is not ${width}x${height}`);
    }
    const frame = new Frame(width, height, i === frames.length - 1 ? holdMs : delayMs);
    frame.bitmap.set(f.rgba);
    return frame;
  });
  return await new GIF(out, -1).encode(95);
}
