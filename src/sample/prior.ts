/**
 * Where the reverse process starts.
 *
 * DDPM's derivation assumes q(x_T) ≈ N(0, I), which holds only when ᾱ_T ≈ 0. The notebook's
 * schedule (linear β 1e-4 … 0.02, T = 500) ends at ᾱ_T = 0.0064: √ᾱ_T = 0.080 of the image is
 * still in x_T. Per pixel that is small, but along the direction of the mean training image (a
 * yellow disc on black, ‖E[x0]‖ ≈ 40) it is a shift of 0.080 · 40 ≈ 3 standard deviations, and
 * the network, trained only on such x_T, reads pure N(0, I) noise as "less face than any training
 * image": most of the blue, purple and grey smudges of N(0, I)-started samples.
 *
 * The forward marginal is q(x_t) = ∫ N(√ᾱ_t·x0, (1 − ᾱ_t)·I) dp(x0), with mean √ᾱ_t·E[x0] and
 * covariance (1 − ᾱ_t)·I + ᾱ_t·Cov[x0]. {@linkcode priorStart} draws from the Gaussian with that
 * mean and the noise part of that covariance. What it leaves out is small except along the data's
 * top principal directions: for the Apple faces, ᾱ_490·λ_max ≈ 0.0076 · 121 ≈ 0.9 (the start has
 * variance 1 there, the marginal ≈ 1.9), the next directions 0.35, 0.14, … Matching that too (the
 * Gaussian with the training set's empirical covariance) gained nothing beyond noise when measured
 * (docs/experiments.md), so the data's principal components are not stored: the training set's mean
 * image is all this start needs, and checkpoints store it (`data/mean`).
 *
 * @module
 */
import type { EmojiDataset } from "../dataset/load.ts";
import { flipHorizontal } from "../image/pixels.ts";
import type { DiffusionSchedule } from "../core/schedule.ts";
import { checkTimestep } from "../core/schedule.ts";

/**
 * The mean of `n` HWC images (`size`×`size`×3, concatenated). With `flip` (the training sampler's
 * random horizontal flips, p = 0.5), the mean of the flipped distribution: the average of the mean
 * and its mirror image.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { meanImage } from "./prior.ts";
 * // two 1×2 images: [(1,1,1), (3,3,3)] and [(3,3,3), (5,5,5)]
 * const images = Float32Array.of(1, 1, 1, 3, 3, 3, 3, 3, 3, 5, 5, 5);
 * assert.equal(meanImage(images, 2, 1, 2, false).join(), "2,2,2,4,4,4");
 * assert.equal(meanImage(images, 2, 1, 2, true).join(), "3,3,3,3,3,3");
 * ```
 */
export function meanImage(
  images: Float32Array,
  n: number,
  height: number,
  width: number,
  flip: boolean,
): Float32Array {
  const per = height * width * 3;
  if (!Number.isInteger(n) || n < 1 || images.length !== n * per) {
    throw new RangeError(
      `meanImage needs n ≥ 1 images of ${height}×${width}×3, got ${images.length} values for n = ${n}`,
    );
  }
  const sum = new Float64Array(per);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < per; k++) sum[k] += images[i * per + k];
  }
  const mean = Float32Array.from(sum, (s) => s / n);
  if (!flip) return mean;
  const mirrored = new Float32Array(per);
  flipHorizontal(mean, mirrored, height, width, 3);
  return mean.map((v, k) => (v + mirrored[k]) / 2);
}

/**
 * The mean image of what training sees from `dataset`: its images mirror-symmetrised, because the
 * batch sampler flips every example with p = 0.5. This is what checkpoints store as `data/mean`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { EmojiDataset } from "../dataset/load.ts";
 * import { trainingMean } from "./prior.ts";
 * // one 2×2 image, left column −1, right column 1: flipped half the time, it averages to 0
 * const ds = new EmojiDataset(Float32Array.of(-1, -1, -1, 1, 1, 1, -1, -1, -1, 1, 1, 1), 1, 2);
 * assert.ok(trainingMean(ds).every((v) => v === 0));
 * ```
 */
export function trainingMean(dataset: EmojiDataset): Float32Array {
  return meanImage(dataset.images, dataset.count, dataset.size, dataset.size, true);
}

/**
 * Turns standard normal draws `noise` (a batch of images) into a start for the reverse process at
 * timestep index `t`, in place: `noise ← √ᾱ_t·dataMean + √(1 − ᾱ_t)·noise`, i.e. a draw from
 * N(√ᾱ_t·E[x0], (1 − ᾱ_t)·I) (see the module header). `dataMean` is one image; it repeats over the
 * batch. Returns `noise`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { makeSchedule } from "../core/schedule.ts";
 * import { priorStart } from "./prior.ts";
 * const s = makeSchedule("linear", 500);
 * const x = priorStart(s, 499, Float32Array.of(-1, 0, 1), Float32Array.of(0, 0, 0, 1, 1, 1));
 * assert.ok(Math.abs(x[0] + Math.sqrt(s.alphasCumprod[499])) < 1e-6);
 * assert.ok(Math.abs(x[4] - Math.sqrt(1 - s.alphasCumprod[499])) < 1e-6);
 * ```
 */
export function priorStart(
  schedule: DiffusionSchedule,
  t: number,
  dataMean: Float32Array,
  noise: Float32Array,
): Float32Array {
  checkTimestep(t, schedule.T);
  const per = dataMean.length;
  if (per === 0 || noise.length % per !== 0) {
    throw new RangeError(
      `the data mean has ${per} values; the noise batch (${noise.length} values) is not a whole number of such images`,
    );
  }
  const a = schedule.sqrtAlphasCumprod[t], s = schedule.sqrtOneMinusAlphasCumprod[t];
  for (let k = 0; k < noise.length; k++) noise[k] = a * dataMean[k % per] + s * noise[k];
  return noise;
}
