/**
 * Pictures of edits: each input beside its variations (and, for inpainting, the part redrawn), and
 * a morph as a strip and a GIF.
 *
 * @module
 */
import { join } from "node:path";
import { encodeGif, encodePng } from "../image/codec.ts";
import { makeGrid, type RgbaImage } from "../image/grid.ts";
import { atomicWriteFile, OutputFiles } from "../platform/io.ts";
import type { EditResult, MorphResult } from "./edit.ts";

const GUTTER: [number, number, number] = [40, 40, 40];

/**
 * The input with the redraw region shown: pixels to redraw blended halfway toward mid-grey with a
 * magenta tint, so the kept part stays recognisable.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { maskOverlay } from "./edit_output.ts";
 * const out = maskOverlay(Float32Array.of(-1, -1, -1, -1, -1, -1), Uint8Array.of(0, 1));
 * assert.equal(out[0], -1);
 * assert.ok(out[3] > -1);
 * ```
 */
export function maskOverlay(image: Float32Array, mask: Uint8Array): Float32Array {
  if (image.length !== mask.length * 3) {
    throw new RangeError(`maskOverlay: ${image.length} values for a ${mask.length}-pixel mask`);
  }
  const tint = [0.6, -0.6, 0.6];
  return image.map((v, k) => mask[Math.floor(k / 3)] ? (v + tint[k % 3]) / 2 : v);
}

/**
 * The edit grid: one row per input, the input first, then (with a mask) its overlay, then its n
 * outputs; 1-pixel gutters, nearest-upscaled `scale`×.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { editGrid } from "./edit_output.ts";
 * const r = { images: new Float32Array(2 * 2 * 2 * 3), count: 1, n: 2, size: 2, evaluations: 1, seconds: 0 };
 * const g = editGrid(r, new Float32Array(2 * 2 * 3), 1);
 * assert.equal(g.width, 3 * 2 + 2);
 * assert.equal(g.height, 2);
 * ```
 */
export function editGrid(
  result: EditResult,
  inputs: Float32Array,
  scale: number,
  mask?: Uint8Array,
): RgbaImage {
  const { count, n, size } = result;
  const per = size * size * 3, cols = 1 + (mask ? 1 : 0) + n;
  const cells = new Float32Array(count * cols * per);
  for (let i = 0; i < count; i++) {
    const input = inputs.subarray(i * per, (i + 1) * per);
    let c = i * cols;
    cells.set(input, c++ * per);
    if (mask) cells.set(maskOverlay(input, mask), c++ * per);
    cells.set(result.images.subarray(i * n * per, (i + 1) * n * per), c * per);
  }
  return makeGrid(cells, count, cols, size, { gutter: 1, scale, gutterColor: GUTTER });
}

/** Writes the edit grid (`edits.png` in `out`) atomically; returns its path. */
export async function writeEditGrid(
  result: EditResult,
  inputs: Float32Array,
  out: string,
  scale: number,
  mask?: Uint8Array,
): Promise<string> {
  const grid = editGrid(result, inputs, scale, mask);
  const path = join(out, "edits.png");
  await atomicWriteFile(path, await encodePng(grid.rgba, grid.width, grid.height));
  return path;
}

/**
 * Writes a morph as `morph.png` (the frames in a row) and `morph.gif` (there and back, looping),
 * atomically; returns the paths.
 */
export async function writeMorphFiles(result: MorphResult, out: string, scale: number): Promise<string[]> {
  const { images, frames, size } = result;
  const per = size * size * 3;
  const strip = makeGrid(images, 1, frames, size, { gutter: 1, scale, gutterColor: GUTTER });
  const stripPath = join(out, "morph.png"), gifPath = join(out, "morph.gif");
  const files = new OutputFiles();
  await files.write(stripPath, await encodePng(strip.rgba, strip.width, strip.height));
  const one = (j: number) => makeGrid(images.subarray(j * per, (j + 1) * per), 1, 1, size, { scale });
  const order = [...Array(frames).keys(), ...[...Array(frames).keys()].reverse().slice(1, -1)];
  await files.write(gifPath, await encodeGif(order.map(one), 150, 150));
  return [stripPath, gifPath];
}
