/**
 * Colour statistics of an image set, in [0, 1] pixel units: each value v ∈ [−1, 1] is mapped to
 * (v + 1) / 2 and clamped to [0, 1] (samples may overshoot the range).
 *
 * Per pixel, with r, g, b in [0, 1]: **brightness** is HSV V = max(r, g, b) (not the mean of
 * RGB; the mean of RGB is the mean of `channelMeans`), **saturation** is HSV S =
 * (max − min) / max, and 0 for a black pixel (max = 0).
 *
 * Emojis sit on a black background, which dominates whole-image averages, so every statistic is
 * reported twice: over all pixels, and over **foreground** pixels only, i.e. pixels with
 * V > `foregroundThreshold` (default 0.05). Nothing is excluded from the "all" statistics. The
 * foreground saturation is the meaningful one: near-black pixels have an unstable S.
 *
 * @module
 */
import { checkImages } from "./common.ts";

/** Mean colour statistics over a set of pixels. */
export interface ColourStats {
  /** Fraction of all pixels that were included (1 for "all"). */
  fraction: number;
  /** Mean HSV saturation S in [0, 1]. */
  saturation: number;
  /** Mean HSV value V = max(r, g, b) in [0, 1]. */
  brightness: number;
  /** Mean r, g, b in [0, 1]. */
  channelMeans: [number, number, number];
}

/** Colour statistics over all pixels and over foreground pixels. */
export interface ColourReport {
  /** Statistics over every pixel. */
  all: ColourStats;
  /**
   * Statistics over pixels with V > foregroundThreshold; all zeros (fraction 0) when there are
   * none.
   */
  foreground: ColourStats;
  /** The V threshold used for the foreground. */
  foregroundThreshold: number;
}

/** Options for {@linkcode colourStats}. */
export interface ColourOptions {
  /** Pixels with HSV V strictly above this count as foreground. Default 0.05. */
  foregroundThreshold?: number;
}

/**
 * Mean saturation, brightness (HSV V) and channel means of `n` images (NHWC, [−1, 1]), over all
 * pixels and over foreground pixels (V > threshold); see the module header for the exact
 * definitions.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { colourStats } from "./colour.ts";
 * const red = new Float32Array(2 * 2 * 3).map((_, i) => (i % 3 === 0 ? 1 : -1)); // pure red 2×2
 * const c = colourStats(red, 1, 2);
 * assert.equal(c.all.saturation, 1);
 * assert.equal(c.all.brightness, 1);
 * assert.equal(c.all.channelMeans[0], 1);
 * ```
 */
export function colourStats(
  images: Float32Array,
  n: number,
  size = 32,
  opts: ColourOptions = {},
): ColourReport {
  checkImages(images, n, size);
  const threshold = opts.foregroundThreshold ?? 0.05;
  const pixels = n * size * size;
  let sA = 0, vA = 0, rA = 0, gA = 0, bA = 0;
  let cF = 0, sF = 0, vF = 0, rF = 0, gF = 0, bF = 0;
  for (let p = 0; p < pixels; p++) {
    const r = unit(images[3 * p]), g = unit(images[3 * p + 1]), b = unit(images[3 * p + 2]);
    const max = Math.max(r, g, b), min = Math.min(r, g, b);
    const s = max > 0 ? (max - min) / max : 0;
    sA += s;
    vA += max;
    rA += r;
    gA += g;
    bA += b;
    if (max > threshold) {
      cF++;
      sF += s;
      vF += max;
      rF += r;
      gF += g;
      bF += b;
    }
  }
  const all: ColourStats = pixels > 0
    ? {
      fraction: 1,
      saturation: sA / pixels,
      brightness: vA / pixels,
      channelMeans: [rA / pixels, gA / pixels, bA / pixels],
    }
    : { fraction: 0, saturation: 0, brightness: 0, channelMeans: [0, 0, 0] };
  const foreground: ColourStats = cF > 0
    ? {
      fraction: cF / pixels,
      saturation: sF / cF,
      brightness: vF / cF,
      channelMeans: [rF / cF, gF / cF, bF / cF],
    }
    : { fraction: 0, saturation: 0, brightness: 0, channelMeans: [0, 0, 0] };
  return { all, foreground, foregroundThreshold: threshold };
}

function unit(v: number): number {
  const u = (v + 1) / 2;
  return u < 0 ? 0 : u > 1 ? 1 : u;
}
