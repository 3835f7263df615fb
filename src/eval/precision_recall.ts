/**
 * Improved precision and recall (Kynkäänniemi et al., "Improved Precision and Recall Metric for
 * Assessing Generative Models", NeurIPS 2019): each set's manifold is the union of balls around its
 * feature vectors, each ball reaching the vector's k-th nearest neighbour in its own set. Precision is
 * the share of samples inside the real manifold (they look real); recall the share of real images
 * inside the samples' manifold (the samples cover them).
 *
 * @module
 */
import { Rng } from "../core/rng.ts";
import { insertSmallest, squaredDistance as squared } from "./common.ts";

/** Result of {@linkcode precisionRecall}. */
export interface PrecisionRecall {
  /** Share of samples within the real images' k-NN balls, in [0, 1]. */
  precision: number;
  /** Share of real images within the samples' k-NN balls, in [0, 1]. */
  recall: number;
  /** The k of the balls. */
  k: number;
}

/** Squared distance from each of the `n` vectors of `x` to its k-th nearest other vector in `x`. */
export function kthNeighbourRadii(x: Float32Array, n: number, dim: number, k: number): Float64Array {
  if (n <= k) throw new RangeError(`k-NN radii need more than k = ${k} vectors, got ${n}`);
  const radii = new Float64Array(n);
  const best = new Float64Array(k);
  for (let i = 0; i < n; i++) {
    best.fill(Infinity);
    for (let j = 0; j < n; j++) {
      if (j === i) continue;
      insertSmallest(best, squared(x, i, x, j, dim));
    }
    radii[i] = best[k - 1];
  }
  return radii;
}

/** Share of the `nq` vectors of `q` inside at least one ball (centre `c[j]`, squared radius `r[j]`). */
function coverage(
  q: Float32Array,
  nq: number,
  c: Float32Array,
  nc: number,
  r: Float64Array,
  dim: number,
): number {
  let inside = 0;
  for (let i = 0; i < nq; i++) {
    for (let j = 0; j < nc; j++) {
      if (squared(q, i, c, j, dim) <= r[j]) {
        inside++;
        break;
      }
    }
  }
  return inside / nq;
}

/**
 * Precision and recall of `samples` (n×dim features) against `real` (m×dim), with k-NN balls
 * (k = 3 as in the paper's recommendation for small sets).
 *
 * @example Identical sets score 1 and 1; a far-away set scores 0 and 0
 * ```ts
 * import assert from "node:assert/strict";
 * import { precisionRecall } from "./precision_recall.ts";
 * const a = Float32Array.from({ length: 20 }, (_, i) => i % 7); // 10 vectors of dim 2
 * assert.deepEqual(precisionRecall(a, a, 2), { precision: 1, recall: 1, k: 3 });
 * const far = a.map((v) => v + 100);
 * assert.deepEqual(precisionRecall(far, a, 2), { precision: 0, recall: 0, k: 3 });
 * ```
 */
export function precisionRecall(
  samples: Float32Array,
  real: Float32Array,
  dim: number,
  k = 3,
): PrecisionRecall {
  const n = samples.length / dim, m = real.length / dim;
  if (!Number.isInteger(n) || !Number.isInteger(m)) {
    throw new RangeError(`feature arrays are not multiples of ${dim}`);
  }
  const realRadii = kthNeighbourRadii(real, m, dim, k);
  const sampleRadii = kthNeighbourRadii(samples, n, dim, k);
  return {
    precision: coverage(samples, n, real, m, realRadii, dim),
    recall: coverage(real, m, samples, n, sampleRadii, dim),
    k,
  };
}

/**
 * The same figures between two random halves of the real set: what a generator that draws new real
 * images would score (the set's own floor, as KID's split-half floor). Seeded.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { realHalvesPrecisionRecall } from "./precision_recall.ts";
 * const real = Float32Array.from({ length: 40 }, (_, i) => (i * 7919) % 13); // 20 vectors of dim 2
 * const r = realHalvesPrecisionRecall(real, 2);
 * assert.ok(r.precision > 0 && r.recall > 0 && r.k === 3);
 * ```
 */
export function realHalvesPrecisionRecall(real: Float32Array, dim: number, k = 3, seed = 0): PrecisionRecall {
  const m = real.length / dim;
  const order = Array.from({ length: m }, (_, i) => i);
  const rng = new Rng(seed);
  for (let i = m - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
  const half = m >> 1;
  const pick = (ids: number[]) => {
    const out = new Float32Array(ids.length * dim);
    ids.forEach((id, r) => out.set(real.subarray(id * dim, (id + 1) * dim), r * dim));
    return out;
  };
  return precisionRecall(pick(order.slice(half)), pick(order.slice(0, half)), dim, k);
}
