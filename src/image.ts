/**
 * Backend-free pixel helpers on plain typed arrays: alpha compositing, area-averaging resize,
 * float ↔ uint8 conversion, image grids, and deterministic PNG encoding / PNG+JPEG decoding.
 *
 * Conventions: images are row-major, channels last (HWC, or NHWC for a batch). Float images used by
 * the model are in [−1, 1] (`v = u8 / 127.5 − 1`, the notebook's ToTensor + Normalize(0.5, 0.5));
 * {@linkcode floatToRgb8} is its exact inverse, with clipping.
 *
 * Only {@linkcode encodePng} and {@linkcode decodeImage} touch imagescript, which they import lazily,
 * so the rest of this module needs no permissions (imagescript loads a native addon: it needs
 * `--allow-ffi --allow-env --allow-read`).
 *
 * @module
 */

/** An opaque colour as `[r, g, b]`, each 0…255. */
export type Rgb = [number, number, number];

/** A decoded image: `rgba` holds `width·height·4` bytes, straight (not premultiplied) alpha. */
export interface DecodedImage {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** RGBA bytes, row-major. */
  rgba: Uint8Array;
}

/**
 * Parses a background colour: `black`, `white`, or `#rrggbb` (case-insensitive).
 * Throws a RangeError naming the value and the accepted forms.
 *
 * @example
 * ```ts
 * import { parseColor } from "./image.ts";
 * console.assert(parseColor("#ff8000").join() === "255,128,0");
 * console.assert(parseColor("white").join() === "255,255,255");
 * ```
 */
export function parseColor(value: string): Rgb {
  const v = value.trim().toLowerCase();
  if (v === "black") return [0, 0, 0];
  if (v === "white") return [255, 255, 255];
  const m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/.exec(v);
  if (m) return [parseInt(m[1], 16), parseInt(m[2], 16), parseInt(m[3], 16)];
  throw new RangeError(`colour "${value}" is unknown: choose one of black, white, #rrggbb`);
}

/**
 * Formats a colour as `#rrggbb`.
 *
 * @example
 * ```ts
 * import { colorToHex } from "./image.ts";
 * console.assert(colorToHex([255, 128, 0]) === "#ff8000");
 * ```
 */
export function colorToHex(c: Rgb): string {
  return "#" + c.map((x) => Math.round(x).toString(16).padStart(2, "0")).join("");
}

/**
 * Composites straight-alpha RGBA pixels over an opaque background colour:
 * `out = α·fg + (1 − α)·bg` with `α = a/255`, per channel. Returns unrounded RGB floats in [0, 255]
 * (`pixels·3` values) so that a following resize loses no precision; round once at the end.
 *
 * @param rgba RGBA bytes (any length divisible by 4)
 * @param bg the background colour
 *
 * @example Half-transparent red over white
 * ```ts
 * import { compositeOver } from "./image.ts";
 * const out = compositeOver(Uint8Array.of(255, 0, 0, 51), [255, 255, 255]);
 * console.assert(out.join() === "255,204,204");
 * ```
 */
export function compositeOver(rgba: ArrayLike<number>, bg: Rgb): Float32Array {
  if (rgba.length % 4 !== 0) throw new RangeError(`RGBA data length ${rgba.length} is not a multiple of 4`);
  const n = rgba.length / 4;
  const out = new Float32Array(n * 3);
  for (let i = 0; i < n; i++) {
    const a = rgba[i * 4 + 3] / 255;
    for (let c = 0; c < 3; c++) out[i * 3 + c] = a * rgba[i * 4 + c] + (1 - a) * bg[c];
  }
  return out;
}

/** For each destination index, the source indices it covers and their weights (summing to 1). */
function areaWeights(
  srcLen: number,
  dstLen: number,
): { idx: Int32Array; w: Float64Array; start: Int32Array } {
  const scale = srcLen / dstLen;
  const idx: number[] = [];
  const w: number[] = [];
  const start = new Int32Array(dstLen + 1);
  for (let d = 0; d < dstLen; d++) {
    start[d] = idx.length;
    const lo = d * scale, hi = (d + 1) * scale;
    for (let s = Math.floor(lo); s < Math.min(Math.ceil(hi), srcLen); s++) {
      const overlap = Math.min(hi, s + 1) - Math.max(lo, s);
      if (overlap > 1e-12) {
        idx.push(s);
        w.push(overlap / scale);
      }
    }
  }
  start[dstLen] = idx.length;
  return { idx: Int32Array.from(idx), w: Float64Array.from(w), start };
}

/**
 * Resizes an HWC image by area averaging: each output pixel is the mean of the source over its exact
 * footprint (a box filter whose weights are the overlap lengths), so non-integer ratios such as
 * 3 → 2 are handled exactly. Separable: rows, then columns. Works for upscaling too (then each output
 * pixel takes the source pixel(s) it lies over).
 *
 * @param src source pixels, `srcH·srcW·channels` values
 * @param srcW source width
 * @param srcH source height
 * @param channels values per pixel
 * @param dstW output width
 * @param dstH output height
 * @returns a new Float32Array of `dstH·dstW·channels` values (unrounded)
 *
 * @example 4×4 → 2×2 takes the mean of each 2×2 block
 * ```ts
 * import { areaResize } from "./image.ts";
 * const src = Float32Array.from({ length: 16 }, (_, i) => i);
 * const out = areaResize(src, 4, 4, 1, 2, 2);
 * console.assert(out.join() === "2.5,4.5,10.5,12.5");
 * ```
 */
export function areaResize(
  src: ArrayLike<number>,
  srcW: number,
  srcH: number,
  channels: number,
  dstW: number,
  dstH: number,
): Float32Array {
  for (const [k, v] of Object.entries({ srcW, srcH, channels, dstW, dstH })) {
    if (!Number.isInteger(v) || v < 1) {
      throw new RangeError(`areaResize: ${k} must be a positive integer, got ${v}`);
    }
  }
  if (src.length !== srcW * srcH * channels) {
    throw new RangeError(`areaResize: expected ${srcW * srcH * channels} values, got ${src.length}`);
  }
  const wx = areaWeights(srcW, dstW), wy = areaWeights(srcH, dstH);
  // Horizontal pass: srcH × dstW.
  const tmp = new Float64Array(srcH * dstW * channels);
  for (let y = 0; y < srcH; y++) {
    for (let x = 0; x < dstW; x++) {
      const o = (y * dstW + x) * channels;
      for (let k = wx.start[x]; k < wx.start[x + 1]; k++) {
        const i = (y * srcW + wx.idx[k]) * channels, w = wx.w[k];
        for (let c = 0; c < channels; c++) tmp[o + c] += w * src[i + c];
      }
    }
  }
  // Vertical pass: dstH × dstW.
  const acc = new Float64Array(dstH * dstW * channels);
  for (let y = 0; y < dstH; y++) {
    for (let k = wy.start[y]; k < wy.start[y + 1]; k++) {
      const row = wy.idx[k] * dstW * channels, w = wy.w[k];
      const o = y * dstW * channels;
      for (let j = 0; j < dstW * channels; j++) acc[o + j] += w * tmp[row + j];
    }
  }
  return Float32Array.from(acc);
}

/**
 * Crops the largest centred square out of an HWC image (the notebook's Resize + CenterCrop, in the
 * order crop-then-resize). Returns the input itself when it is already square.
 *
 * @example
 * ```ts
 * import { centerCropSquare } from "./image.ts";
 * const { data, side } = centerCropSquare(Float32Array.of(1, 2, 3), 3, 1, 1);
 * console.assert(side === 1 && data[0] === 2);
 * ```
 */
export function centerCropSquare<A extends Float32Array | Uint8Array>(
  src: A,
  width: number,
  height: number,
  channels: number,
): { data: A; side: number } {
  if (width === height) return { data: src, side: width };
  const side = Math.min(width, height);
  const x0 = Math.floor((width - side) / 2), y0 = Math.floor((height - side) / 2);
  const out = new (src.constructor as { new (n: number): A })(side * side * channels);
  for (let y = 0; y < side; y++) {
    const from = ((y + y0) * width + x0) * channels;
    out.set(src.subarray(from, from + side * channels), y * side * channels);
  }
  return { data: out, side };
}

/**
 * Rounds and clamps values in [0, 255] to bytes.
 *
 * @example
 * ```ts
 * import { roundToBytes } from "./image.ts";
 * console.assert(roundToBytes([-3, 127.5, 300]).join() === "0,128,255");
 * ```
 */
export function roundToBytes(values: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = Math.min(255, Math.max(0, Math.round(values[i])));
  return out;
}

/**
 * Maps bytes to the model's range: `v = u8 / 127.5 − 1`, so 0 → −1 and 255 → 1.
 *
 * @example
 * ```ts
 * import { rgb8ToFloat } from "./image.ts";
 * console.assert(rgb8ToFloat(Uint8Array.of(0, 255)).join() === "-1,1");
 * ```
 */
export function rgb8ToFloat(
  bytes: ArrayLike<number>,
  out: Float32Array = new Float32Array(bytes.length),
): Float32Array {
  for (let i = 0; i < bytes.length; i++) out[i] = bytes[i] / 127.5 - 1;
  return out;
}

/**
 * Maps model values to bytes: clip to [−1, 1], then `round((x + 1)·127.5)`. NaN becomes 0.
 * The exact inverse of {@linkcode rgb8ToFloat} on its outputs.
 *
 * @example
 * ```ts
 * import { floatToRgb8 } from "./image.ts";
 * console.assert(floatToRgb8([-2, -1, 0, 1, 5]).join() === "0,0,128,255,255");
 * ```
 */
export function floatToRgb8(values: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const x = values[i];
    out[i] = x >= 1 ? 255 : x > -1 ? Math.round((x + 1) * 127.5) : 0;
  }
  return out;
}

/**
 * Reads a tensor (or anything with an async `data()`, e.g. a `tf.Tensor` in [−1, 1]) and converts it
 * with {@linkcode floatToRgb8}. Never calls `dataSync()`; does not dispose the tensor.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import "@tensorflow/tfjs-backend-cpu";
 * import { tensorToRgb8 } from "./image.ts";
 * await tf.setBackend("cpu");
 * const t = tf.tensor4d([-1, 0, 1], [1, 1, 1, 3]);
 * console.assert((await tensorToRgb8(t)).join() === "0,128,255");
 * t.dispose();
 * ```
 */
export async function tensorToRgb8(tensor: { data(): Promise<ArrayLike<number>> }): Promise<Uint8Array> {
  return floatToRgb8(await tensor.data());
}

/** Options of {@linkcode makeGrid}. */
export interface GridOptions {
  /** Pixels between neighbouring cells (not scaled). Default 0. */
  gutter?: number;
  /** Outer border in pixels around the whole grid (not scaled). Default 0. */
  margin?: number;
  /** Integer nearest-neighbour upscale of each image, ≥ 1. Default 1. */
  scale?: number;
  /** Colour of gutters, margin and empty cells. Default black. */
  gutterColor?: Rgb;
  /** Channels per input pixel: 3 (RGB) or 1 (grey). Default 3. */
  channels?: 1 | 3;
  /** Image width when not square; `size` is then the height. Default `size`. */
  width?: number;
}

/** An RGBA picture, ready for {@linkcode encodePng}. */
export interface RgbaImage {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** Opaque RGBA bytes, row-major. */
  rgba: Uint8Array;
}

/**
 * Lays out `n` images in a `rows × cols` grid, row-major, as one opaque RGBA picture. Input is NHWC:
 * a Float32Array (or any non-Uint8 array) in [−1, 1] (clipped, like {@linkcode floatToRgb8}), or a
 * Uint8Array of bytes. `n` is the input length divided by the image size; it may be fewer than
 * `rows·cols` (the rest are left in `gutterColor`), never more.
 *
 * Size: `cols·size·scale + (cols − 1)·gutter + 2·margin` wide, likewise high.
 *
 * @param images NHWC pixels of n images
 * @param rows grid rows
 * @param cols grid columns
 * @param size image height (and width, unless `options.width`)
 *
 * @example Two 1×1 images side by side, ×2, with a white 1-pixel gutter
 * ```ts
 * import { makeGrid } from "./image.ts";
 * const g = makeGrid(Float32Array.of(-1, -1, -1, 1, 1, 1), 1, 2, 1, {
 *   scale: 2, gutter: 1, gutterColor: [255, 255, 255],
 * });
 * console.assert(g.width === 5 && g.height === 2);
 * console.assert(g.rgba.slice(0, 20).join() === "0,0,0,255,0,0,0,255,255,255,255,255,255,255,255,255,255,255,255,255");
 * ```
 */
export function makeGrid(
  images: ArrayLike<number>,
  rows: number,
  cols: number,
  size: number,
  options: GridOptions = {},
): RgbaImage {
  const { gutter = 0, margin = 0, scale = 1, gutterColor = [0, 0, 0], channels = 3 } = options;
  const h = size, w = options.width ?? size;
  for (const [k, v] of Object.entries({ rows, cols, size: h, width: w, scale })) {
    if (!Number.isInteger(v) || v < 1) {
      throw new RangeError(`makeGrid: ${k} must be a positive integer, got ${v}`);
    }
  }
  for (const [k, v] of Object.entries({ gutter, margin })) {
    if (!Number.isInteger(v) || v < 0) {
      throw new RangeError(`makeGrid: ${k} must be an integer >= 0, got ${v}`);
    }
  }
  if (channels !== 1 && channels !== 3) {
    throw new RangeError(`makeGrid: channels must be 1 or 3, got ${channels}`);
  }
  const per = h * w * channels;
  if (images.length % per !== 0) {
    throw new RangeError(
      `makeGrid: ${images.length} values is not a whole number of ${h}x${w}x${channels} images`,
    );
  }
  const n = images.length / per;
  if (n > rows * cols) throw new RangeError(`makeGrid: ${n} images do not fit a ${rows}x${cols} grid`);
  const bytes = images instanceof Uint8Array ? images : floatToRgb8(images);
  const cw = w * scale, ch = h * scale;
  const width = cols * cw + (cols - 1) * gutter + 2 * margin;
  const height = rows * ch + (rows - 1) * gutter + 2 * margin;
  const rgba = new Uint8Array(width * height * 4);
  for (let i = 0; i < width * height; i++) {
    rgba[i * 4] = gutterColor[0];
    rgba[i * 4 + 1] = gutterColor[1];
    rgba[i * 4 + 2] = gutterColor[2];
    rgba[i * 4 + 3] = 255;
  }
  for (let k = 0; k < n; k++) {
    const ox = margin + (k % cols) * (cw + gutter), oy = margin + Math.floor(k / cols) * (ch + gutter);
    for (let y = 0; y < ch; y++) {
      const sy = Math.floor(y / scale);
      for (let x = 0; x < cw; x++) {
        const s = k * per + (sy * w + Math.floor(x / scale)) * channels;
        const o = ((oy + y) * width + ox + x) * 4;
        rgba[o] = bytes[s];
        rgba[o + 1] = bytes[s + (channels === 3 ? 1 : 0)];
        rgba[o + 2] = bytes[s + (channels === 3 ? 2 : 0)];
      }
    }
  }
  return { width, height, rgba };
}

/**
 * Stacks RGBA pictures top to bottom, left-aligned, with `gap` pixels of `gapColor` between them
 * (and filling the right of narrower ones). E.g. one {@linkcode makeGrid} block per schedule.
 *
 * @example
 * ```ts
 * import { stackVertical } from "./image.ts";
 * const px = { width: 1, height: 1, rgba: Uint8Array.of(9, 9, 9, 255) };
 * const s = stackVertical([px, px], 2, [255, 0, 0]);
 * console.assert(s.height === 4 && s.rgba[4] === 255 && s.rgba[12] === 9);
 * ```
 */
export function stackVertical(parts: RgbaImage[], gap = 0, gapColor: Rgb = [0, 0, 0]): RgbaImage {
  if (parts.length === 0) throw new RangeError("stackVertical needs at least one picture");
  const width = Math.max(...parts.map((p) => p.width));
  const height = parts.reduce((h, p) => h + p.height, 0) + gap * (parts.length - 1);
  const rgba = new Uint8Array(width * height * 4);
  for (let i = 0; i < width * height; i++) rgba.set([gapColor[0], gapColor[1], gapColor[2], 255], i * 4);
  let y0 = 0;
  for (const p of parts) {
    for (let y = 0; y < p.height; y++) {
      rgba.set(p.rgba.subarray(y * p.width * 4, (y + 1) * p.width * 4), ((y0 + y) * width) * 4);
    }
    y0 += p.height + gap;
  }
  return { width, height, rgba };
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
 * import { encodePng } from "./image.ts";
 * const px = Uint8Array.of(255, 0, 0, 255);
 * const a = await encodePng(px, 1, 1), b = await encodePng(px, 1, 1);
 * console.assert(a.join() === b.join() && a[1] === 0x50);
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
 * import { decodeImage, encodePng } from "./image.ts";
 * const png = await encodePng(Uint8Array.of(1, 2, 3, 255), 1, 1);
 * const img = await decodeImage(png);
 * console.assert(img.width === 1 && img.rgba.join() === "1,2,3,255");
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
 * import { encodeGif } from "./image.ts";
 * const red = { width: 1, height: 1, rgba: Uint8Array.of(255, 0, 0, 255) };
 * const gif = await encodeGif([red, red], 50, 500);
 * console.assert(new TextDecoder().decode(gif.subarray(0, 6)) === "GIF89a");
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
