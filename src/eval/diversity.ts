/**
 * Diversity: the mean pairwise L2 distance among images in pixel space (all `size·size·3`
 * values in [−1, 1]), for the samples and for the training set. A sampler that collapses to a
 * few outputs has a much smaller mean pairwise distance than the training set.
 *
 * @module
 */
import { checkImages, squaredDistance } from "./common.ts";

/**
 * Mean L2 distance over all unordered pairs of distinct images (i < j) of `n` ≥ 2 images.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { meanPairwiseDistance } from "./diversity.ts";
 * const imgs = new Float32Array(2 * 1 * 1 * 3).fill(1, 3); // (0,0,0) and (1,1,1)
 * assert.ok(Math.abs(meanPairwiseDistance(imgs, 2, 1) - Math.sqrt(3)) < 1e-12);
 * ```
 */
export function meanPairwiseDistance(images: Float32Array, n: number, size = 32): number {
  const per = checkImages(images, n, size);
  if (n < 2) throw new RangeError(`pairwise distance needs at least 2 images, got ${n}`);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) sum += Math.sqrt(squaredDistance(images, i, images, j, per));
  }
  return sum / ((n * (n - 1)) / 2);
}

/** Diversity of the samples compared with the training set. */
export interface DiversityResult {
  /** Mean pairwise L2 pixel distance among the samples. */
  samples: number;
  /** Mean pairwise L2 pixel distance among the training images. */
  train: number;
  /** samples / train (≈ 1 when the samples are as varied as the data; 0 when train is 0). */
  ratio: number;
}

/**
 * Mean pairwise L2 distance among the samples and among the training images, and their ratio.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { diversity } from "./diversity.ts";
 * const same = new Float32Array(3 * 2 * 2 * 3).fill(0.5);
 * const train = new Float32Array(2 * 2 * 2 * 3).fill(1, 12);
 * const d = diversity(same, 3, train, 2, 2);
 * assert.equal(d.samples, 0);
 * assert.equal(d.train, Math.sqrt(12));
 * assert.equal(d.ratio, 0);
 * ```
 */
export function diversity(
  samples: Float32Array,
  nSamples: number,
  train: Float32Array,
  nTrain: number,
  size = 32,
): DiversityResult {
  const s = meanPairwiseDistance(samples, nSamples, size);
  const t = meanPairwiseDistance(train, nTrain, size);
  return { samples: s, train: t, ratio: t > 0 ? s / t : 0 };
}
