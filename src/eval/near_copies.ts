/**
 * Near-copies by the rule of Carlini et al. ("Extracting Training Data from Diffusion Models", USENIX
 * Security 2023): a sample copies a training image when its nearest training image is much closer than
 * the next ones — the L2 distance to the nearest is below a third of the mean distance to the next ten.
 * Relative to the local spacing, so that a dense cluster of similar training images (many faces differ
 * only in the mouth) does not count every sample near it as a copy.
 *
 * @module
 */
import { checkImages, insertSmallest, squaredDistance } from "./common.ts";

/** Result of {@linkcode nearCopies}. */
export interface NearCopies {
  /** Share of the queries that are near-copies, in [0, 1]. */
  rate: number;
  /** How many. */
  count: number;
  /** Per query: distance to the nearest reference over the mean distance to the next `neighbours`. */
  ratio: number[];
  /** The threshold on the ratio (1/3). */
  threshold: number;
  /** How many next neighbours the mean runs over (10). */
  neighbours: number;
}

/** The rule's threshold: nearest below a third of the mean of the next ten. */
export const NEAR_COPY_THRESHOLD = 1 / 3;
/** The rule's count of next neighbours. */
export const NEAR_COPY_NEIGHBOURS = 10;

/**
 * Near-copies among `nQueries` images (NHWC in [−1, 1], side `size`) of `nRefs` reference images, in
 * pixel space. With `skipSelf`, each query skips its first exact match among the references: a real
 * image measured against the rest of a set that holds it.
 *
 * @example An exact copy is flagged; a new random image is not
 * ```ts
 * import assert from "node:assert/strict";
 * import { nearCopies } from "./near_copies.ts";
 * import { Rng } from "../core/rng.ts";
 * const rng = new Rng(1), per = 4 * 4 * 3;
 * const refs = Float32Array.from({ length: 12 * per }, () => rng.uniform() * 2 - 1);
 * const copy = refs.slice(5 * per, 6 * per);
 * const other = Float32Array.from({ length: per }, () => rng.uniform() * 2 - 1);
 * assert.equal(nearCopies(copy, 1, refs, 12, 4).count, 1);
 * assert.equal(nearCopies(other, 1, refs, 12, 4).count, 0);
 * ```
 */
export function nearCopies(
  queries: Float32Array,
  nQueries: number,
  refs: Float32Array,
  nRefs: number,
  size = 32,
  skipSelf = false,
): NearCopies {
  const per = checkImages(queries, nQueries, size, "queries");
  checkImages(refs, nRefs, size, "refs");
  const need = NEAR_COPY_NEIGHBOURS + 1 + (skipSelf ? 1 : 0);
  if (nRefs < need) throw new RangeError(`near-copies need at least ${need} reference images, got ${nRefs}`);
  const keep = NEAR_COPY_NEIGHBOURS + 1;
  const best = new Float64Array(keep);
  const ratio: number[] = new Array(nQueries);
  let count = 0;
  for (let q = 0; q < nQueries; q++) {
    best.fill(Infinity);
    let selfSkipped = !skipSelf;
    for (let j = 0; j < nRefs; j++) {
      const d = squaredDistance(queries, q, refs, j, per);
      if (d === 0 && !selfSkipped) {
        selfSkipped = true;
        continue;
      }
      insertSmallest(best, d);
    }
    let next = 0;
    for (let i = 1; i < keep; i++) next += Math.sqrt(best[i]);
    next /= NEAR_COPY_NEIGHBOURS;
    const r = next > 0 ? Math.sqrt(best[0]) / next : 1;
    ratio[q] = r;
    if (r < NEAR_COPY_THRESHOLD) count++;
  }
  return {
    rate: nQueries > 0 ? count / nQueries : 0,
    count,
    ratio,
    threshold: NEAR_COPY_THRESHOLD,
    neighbours: NEAR_COPY_NEIGHBOURS,
  };
}
