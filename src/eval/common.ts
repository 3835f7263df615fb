/**
 * Shared helpers for the sample-quality metrics: shape checks and pixel-space L2 distances on
 * NHWC `Float32Array` image sets with values in [−1, 1].
 *
 * @module
 */

/**
 * Checks that `images` holds exactly `n` RGB images of `size`×`size` (NHWC) and returns the
 * number of values per image (`size·size·3`). Throws a RangeError naming `what` otherwise.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkImages } from "./common.ts";
 * assert.equal(checkImages(new Float32Array(2 * 4 * 4 * 3), 2, 4), 48);
 * ```
 */
export function checkImages(images: Float32Array, n: number, size: number, what = "images"): number {
  if (!Number.isInteger(size) || size < 1) {
    throw new RangeError(`${what}: size must be a positive integer, got ${size}`);
  }
  if (!Number.isInteger(n) || n < 0) {
    throw new RangeError(`${what}: n must be a non-negative integer, got ${n}`);
  }
  const per = size * size * 3;
  if (images.length !== n * per) {
    throw new RangeError(
      `${what}: expected ${n}×${size}×${size}×3 = ${n * per} values, got ${images.length}`,
    );
  }
  return per;
}

/**
 * Number of `size`×`size` RGB images in a flat NHWC array; throws a RangeError when the length is
 * not a whole number of images.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { countImages } from "./common.ts";
 * assert.equal(countImages(new Float32Array(5 * 32 * 32 * 3), 32), 5);
 * ```
 */
export function countImages(images: Float32Array, size: number, what = "images"): number {
  if (!Number.isInteger(size) || size < 1) {
    throw new RangeError(`${what}: size must be a positive integer, got ${size}`);
  }
  const per = size * size * 3;
  if (images.length % per !== 0) {
    throw new RangeError(`${what}: length ${images.length} is not a multiple of ${size}×${size}×3 = ${per}`);
  }
  return images.length / per;
}

/**
 * Squared L2 distance between image `i` of `a` and image `j` of `b`, each `per` values long,
 * accumulated in double precision.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { squaredDistance } from "./common.ts";
 * const a = Float32Array.of(0, 0, 0, 1, 1, 1);
 * assert.equal(squaredDistance(a, 0, a, 1, 3), 3);
 * ```
 */
export function squaredDistance(a: Float32Array, i: number, b: Float32Array, j: number, per: number): number {
  let s = 0;
  const oa = i * per, ob = j * per;
  for (let k = 0; k < per; k++) {
    const d = a[oa + k] - b[ob + k];
    s += d * d;
  }
  return s;
}

/**
 * Median of a list of numbers (mean of the two middle values for an even count); NaN when empty.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { median } from "./common.ts";
 * assert.equal(median([3, 1, 2]), 2);
 * assert.equal(median([4, 1, 2, 3]), 2.5);
 * ```
 */
export function median(values: ArrayLike<number>): number {
  const n = values.length;
  if (n === 0) return NaN;
  const sorted = Float64Array.from(values).sort();
  return n % 2 === 1 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
}

/**
 * Inserts `d` into `best`, the smallest values seen so far in ascending order (Infinity where empty),
 * dropping the largest: the running k smallest of a stream.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { insertSmallest } from "./common.ts";
 * const best = new Float64Array(2).fill(Infinity);
 * for (const d of [5, 1, 3, 0.5]) insertSmallest(best, d);
 * assert.deepEqual([...best], [0.5, 1]);
 * ```
 */
export function insertSmallest(best: Float64Array, d: number): void {
  const k = best.length;
  if (!(d < best[k - 1])) return;
  let p = k - 1;
  while (p > 0 && best[p - 1] > d) {
    best[p] = best[p - 1];
    p--;
  }
  best[p] = d;
}
