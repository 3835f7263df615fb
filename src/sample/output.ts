/**
 * Turning samples into files a person looks at: a √n × √n grid, single images, a GIF of the
 * reverse process.
 *
 * @module
 */
import { join } from "node:path";
import { encodeGif, encodePng } from "../image/codec.ts";
import { makeGrid, type RgbaImage } from "../image/grid.ts";
import { OutputFiles } from "../platform/io.ts";
import type { SampleResult } from "./sample.ts";

/** The grid's rows and columns for n images: as square as possible (√n × √n when n is a square). */
export function gridShape(n: number): { rows: number; cols: number } {
  const cols = Math.ceil(Math.sqrt(n));
  return { rows: Math.ceil(n / cols), cols };
}

/**
 * n images in a grid with 1-pixel gutters, nearest-upscaled `scale`× so a person can see them; `columns`
 * fixes the images per row (default {@linkcode gridShape}'s).
 */
export function sampleGrid(
  images: Float32Array,
  n: number,
  size: number,
  scale: number,
  columns?: number,
): RgbaImage {
  const cols = columns ?? gridShape(n).cols, rows = Math.ceil(n / cols);
  return makeGrid(images, rows, cols, size, { gutter: 1, scale, gutterColor: [40, 40, 40] });
}

/** The most pixels of a grid {@linkcode writeSampleFiles} writes (8192 × 8192; 256 MiB as RGBA). */
export const MAX_GRID_PIXELS = 8192 * 8192;
/** The most bytes the sampled images (and the GIF's frames) may take in memory: 2 GiB. */
export const MAX_SAMPLE_BYTES = 2 * 2 ** 30;

/** What {@linkcode planSampleOutput} checks. */
export interface SampleOutputPlan {
  /** Images sampled. */
  n: number;
  /** Their side in pixels. */
  size: number;
  /** Grid upscaling factor. */
  scale: number;
  /** Images per grid row (default: as square as possible). */
  columns?: number;
  /** Frames kept for the GIF (0: none). */
  frames?: number;
}

/**
 * Plans the memory of a sampling run and its files before any work: the images (and GIF frames) as
 * float32 must fit {@linkcode MAX_SAMPLE_BYTES}, and the grid {@linkcode MAX_GRID_PIXELS}. Returns the
 * grid's size and the bytes planned.
 *
 * @throws {RangeError} saying which limit `n` passes and the largest `n` that fits.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { planSampleOutput } from "./output.ts";
 * assert.deepEqual(planSampleOutput({ n: 64, size: 32, scale: 3 }), { width: 775, height: 775, bytes: 786432 });
 * assert.throws(() => planSampleOutput({ n: 100000, size: 32, scale: 3 }), /grid of 30748×30651 pixels/);
 * ```
 */
export function planSampleOutput(plan: SampleOutputPlan): { width: number; height: number; bytes: number } {
  const { n, size, scale } = plan;
  const cols = plan.columns ?? gridShape(n).cols, rows = Math.ceil(n / cols);
  const width = cols * (size * scale + 1) - 1, height = rows * (size * scale + 1) - 1;
  const bytes = n * size * size * 3 * 4 * (1 + (plan.frames ?? 0));
  if (bytes > MAX_SAMPLE_BYTES) {
    const most = Math.floor(MAX_SAMPLE_BYTES / (size * size * 3 * 4 * (1 + (plan.frames ?? 0))));
    throw new RangeError(
      `${n} images of ${size}×${size}${plan.frames ? ` with ${plan.frames} GIF frames` : ""} take ` +
        `${(bytes / 2 ** 30).toFixed(1)} GiB (at most ${
          MAX_SAMPLE_BYTES / 2 ** 30
        } GiB): ask for at most ${most}`,
    );
  }
  if (width * height > MAX_GRID_PIXELS) {
    throw new RangeError(
      `${n} images at scale ${scale} make a grid of ${width}×${height} pixels (at most ${MAX_GRID_PIXELS} ` +
        `pixels, e.g. 8192×8192): ask for fewer images or a smaller scale`,
    );
  }
  return { width, height, bytes };
}

/** Options of {@linkcode writeSampleFiles}. */
export interface WriteSampleOptions {
  /** Output folder. */
  out: string;
  /** Upscaling factor (≥ 1). */
  scale: number;
  /** Also write every image as its own PNG. */
  each?: boolean;
  /** Write the reverse-process animation (needs frames in the result). */
  gif?: boolean;
  /** Images per grid row (default: as square as possible), e.g. one label value per row. */
  columns?: number;
}

/**
 * Writes grid.png (and each image, and reverse.gif) atomically; returns the paths written.
 *
 * @throws {FileWriteError} naming the file that could not be written and the ones written before it.
 */
export async function writeSampleFiles(result: SampleResult, o: WriteSampleOptions): Promise<string[]> {
  const files = new OutputFiles();
  const written = files.written;
  const grid = sampleGrid(result.images, result.n, result.size, o.scale, o.columns);
  const gridPath = join(o.out, "grid.png");
  await files.write(gridPath, await encodePng(grid.rgba, grid.width, grid.height));
  if (o.each) {
    const per = result.size * result.size * 3;
    for (let i = 0; i < result.n; i++) {
      const one = makeGrid(result.images.subarray(i * per, (i + 1) * per), 1, 1, result.size, {
        scale: o.scale,
      });
      const p = join(o.out, `sample-${String(i).padStart(4, "0")}.png`);
      await files.write(p, await encodePng(one.rgba, one.width, one.height));
    }
  }
  if (o.gif && result.frames.length) {
    const frames = result.frames.map((f) => sampleGrid(f, result.n, result.size, o.scale, o.columns));
    const p = join(o.out, "reverse.gif");
    await files.write(p, await encodeGif(frames, 80, 2500));
  }
  return written;
}
