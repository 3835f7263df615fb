/**
 * Turning samples into files a person looks at: a √n × √n grid, single images, a GIF of the
 * reverse process.
 *
 * @module
 */
import { join } from "node:path";
import { encodeGif, encodePng } from "../image/codec.ts";
import { makeGrid, type RgbaImage } from "../image/grid.ts";
import { atomicWriteFile } from "../io.ts";
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

/** Writes grid.png (and each image, and reverse.gif) atomically; returns the paths written. */
export async function writeSampleFiles(result: SampleResult, o: WriteSampleOptions): Promise<string[]> {
  const written: string[] = [];
  const grid = sampleGrid(result.images, result.n, result.size, o.scale, o.columns);
  const gridPath = join(o.out, "grid.png");
  await atomicWriteFile(gridPath, await encodePng(grid.rgba, grid.width, grid.height));
  written.push(gridPath);
  if (o.each) {
    const per = result.size * result.size * 3;
    for (let i = 0; i < result.n; i++) {
      const one = makeGrid(result.images.subarray(i * per, (i + 1) * per), 1, 1, result.size, {
        scale: o.scale,
      });
      const p = join(o.out, `sample-${String(i).padStart(4, "0")}.png`);
      await atomicWriteFile(p, await encodePng(one.rgba, one.width, one.height));
      written.push(p);
    }
  }
  if (o.gif && result.frames.length) {
    const frames = result.frames.map((f) => sampleGrid(f, result.n, result.size, o.scale, o.columns));
    const p = join(o.out, "reverse.gif");
    await atomicWriteFile(p, await encodeGif(frames, 80, 2500));
    written.push(p);
  }
  return written;
}
