/**
 * Pictures made of many images: a grid of NHWC images, and pictures stacked vertically. Backend-free,
 * on plain typed arrays; needs no permissions.
 *
 * @module
 */

import type { Rgb } from "./colour.ts";
import { floatToRgb8 } from "./pixels.ts";

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

/** An RGBA picture, ready for `encodePng` (codec.ts). */
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
 * import assert from "node:assert/strict";
 * import { makeGrid } from "./grid.ts";
 * const g = makeGrid(Float32Array.of(-1, -1, -1, 1, 1, 1), 1, 2, 1, {
 *   scale: 2, gutter: 1, gutterColor: [255, 255, 255],
 * });
 * assert.equal(g.width, 5);
 * assert.equal(g.height, 2);
 * assert.equal(g.rgba.slice(0, 20).join(), "0,0,0,255,0,0,0,255,255,255,255,255,255,255,255,255,255,255,255,255");
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
 * import assert from "node:assert/strict";
 * import { stackVertical } from "./grid.ts";
 * const px = { width: 1, height: 1, rgba: Uint8Array.of(9, 9, 9, 255) };
 * const s = stackVertical([px, px], 2, [255, 0, 0]);
 * assert.equal(s.height, 4);
 * assert.equal(s.rgba[4], 255);
 * assert.equal(s.rgba[12], 9);
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
