/**
 * The pictures an edit starts from: image files turned into model inputs exactly as `deno task
 * prepare` turns emojis into training images (composite over the background, centre-crop, area-resize,
 * round to bytes), and mask files turned into a per-pixel redraw mask.
 *
 * @module
 */
import { extname, join } from "node:path";
import { IMAGE_EXTENSIONS, rgbaToDatasetImage } from "../dataset/prepare.ts";
import { type DecodedImage, decodeImage } from "../image/codec.ts";
import type { Rgb } from "../image/colour.ts";
import { rgb8ToFloat } from "../image/pixels.ts";
import { UsageError } from "../errors.ts";

/**
 * An image file that cannot be used, with the file and the reason: a usage error (the CLI exits 2),
 * since the file was named by the caller.
 */
export class EditInputError extends UsageError {
  /** Always `"EditInputError"`. */
  override name = "EditInputError";
}

/**
 * Straight-alpha RGBA pixels as one model input (size·size·3 in [−1, 1]): the dataset's own
 * `rgbaToDatasetImage` (composite over `background`, centre-crop, area-resize, round), then bytes
 * to floats, so an emoji prepared for training and the same emoji given to an edit are identical.
 *
 * @example A transparent 2×2 image over black is all −1
 * ```ts
 * import assert from "node:assert/strict";
 * import { imageToModelInput } from "./edit_input.ts";
 * const x = imageToModelInput(new Uint8Array(16), 2, 2, 1, [0, 0, 0]);
 * assert.equal(x.join(), "-1,-1,-1");
 * ```
 */
export function imageToModelInput(
  rgba: Uint8Array,
  width: number,
  height: number,
  size: number,
  background: Rgb = [0, 0, 0],
): Float32Array {
  return rgb8ToFloat(rgbaToDatasetImage(rgba, width, height, background, size));
}

/**
 * A mask picture as a redraw mask (size·size values, 1 = redraw): composited over black (transparent
 * = keep), centre-cropped and area-resized like an input, then 1 where the grey level
 * (mean of R, G, B) is at least half, 0 elsewhere.
 *
 * @example A 2×2 mask whose right column is white, kept at 2×2
 * ```ts
 * import assert from "node:assert/strict";
 * import { maskFromRgba } from "./edit_input.ts";
 * const black = [0, 0, 0, 255], white = [255, 255, 255, 255];
 * const rgba = Uint8Array.from([...black, ...white, ...black, ...white]);
 * assert.equal(maskFromRgba(rgba, 2, 2, 2).join(), "0,1,0,1");
 * ```
 */
export function maskFromRgba(rgba: Uint8Array, width: number, height: number, size: number): Uint8Array {
  const rgb = rgbaToDatasetImage(rgba, width, height, [0, 0, 0], size);
  const out = new Uint8Array(size * size);
  for (let i = 0; i < out.length; i++) {
    out[i] = rgb[3 * i] + rgb[3 * i + 1] + rgb[3 * i + 2] >= 3 * 127.5 ? 1 : 0;
  }
  return out;
}

/**
 * Reads and decodes an image file, or throws an {@linkcode EditInputError} naming the file as the
 * caller names it (`shown`, e.g. `--from` in `deno task sample`) and its path. Needs `--allow-read --allow-ffi --allow-env`.
 */
export async function readImageFile(path: string, shown: string): Promise<DecodedImage> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (err) {
    const why = err instanceof Deno.errors.NotFound
      ? "does not exist"
      : `cannot be read (${(err as Error).message})`;
    throw new EditInputError(`${shown} ${path} ${why}`, { cause: err });
  }
  try {
    return await decodeImage(bytes);
  } catch (err) {
    throw new EditInputError(`${shown} ${path} is not a readable PNG or JPEG (${(err as Error).message})`, {
      cause: err,
    });
  }
}

/**
 * The image files a path names: a file itself, or the PNG/JPEG files of a folder (sorted, not
 * recursive). Throws an {@linkcode EditInputError}, naming the path as the caller names it (`shown`),
 * when it does not exist or a folder has none.
 */
export async function listInputFiles(path: string, shown = "input"): Promise<string[]> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch {
    throw new EditInputError(`${shown} ${path} does not exist`);
  }
  if (!info.isDirectory) return [path];
  const files: string[] = [];
  for await (const e of Deno.readDir(path)) {
    if (e.isFile && IMAGE_EXTENSIONS.includes(extname(e.name).toLowerCase())) files.push(join(path, e.name));
  }
  if (files.length === 0) throw new EditInputError(`${shown} ${path} holds no .png or .jpg files`);
  return files.sort();
}
