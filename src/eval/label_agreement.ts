/**
 * Label agreement of a conditioned model: a k-nearest-neighbour classifier fit on the real training
 * images in a feature space (the eval's random-conv features by default), its leave-one-out accuracy
 * on the real images (the ceiling a sample can be held to) and its accuracy on samples asked for
 * each label value. Features are standardised per dimension with the real images' mean and std.
 *
 * @module
 */

/** A k-NN classifier's inputs: n feature vectors of `dim` values (row-major) and a class per vector. */
export interface LabelledFeatures {
  /** n·dim values. */
  features: Float32Array;
  /** Feature dimension. */
  dim: number;
  /** One class index per vector (−1: unlabelled, never a neighbour). */
  labels: ArrayLike<number>;
}

function standardiser(ref: LabelledFeatures): (f: Float32Array, i: number) => Float64Array {
  const { features, dim } = ref, n = features.length / dim;
  const mean = new Float64Array(dim), inv = new Float64Array(dim);
  for (let i = 0; i < n; i++) for (let d = 0; d < dim; d++) mean[d] += features[i * dim + d] / n;
  for (let i = 0; i < n; i++) {
    for (let d = 0; d < dim; d++) inv[d] += (features[i * dim + d] - mean[d]) ** 2 / n;
  }
  for (let d = 0; d < dim; d++) inv[d] = inv[d] > 1e-12 ? 1 / Math.sqrt(inv[d]) : 0;
  return (f, i) => Float64Array.from({ length: dim }, (_, d) => (f[i * dim + d] - mean[d]) * inv[d]);
}

/**
 * The k-NN class of each query vector against the reference set (majority of the k nearest by
 * Euclidean distance in standardised features; a tie goes to the class of the nearest among the
 * tied). `exclude(q, r)` removes reference r from query q's neighbours (leave-one-out).
 *
 * @example Two well separated clusters
 * ```ts
 * import assert from "node:assert/strict";
 * import { knnClassify } from "./label_agreement.ts";
 * const ref = { features: Float32Array.of(0, 0.1, 0.2, 5, 5.1, 5.2), dim: 1, labels: [0, 0, 0, 1, 1, 1] };
 * assert.equal(knnClassify(ref, Float32Array.of(0.05, 4.9), 3).join(), "0,1");
 * ```
 */
export function knnClassify(
  ref: LabelledFeatures,
  queries: Float32Array,
  k = 5,
  exclude?: (query: number, reference: number) => boolean,
): Int32Array {
  const { dim } = ref, nRef = ref.features.length / dim, nQ = queries.length / dim;
  if (!Number.isInteger(nRef) || !Number.isInteger(nQ)) {
    throw new RangeError(`features are not whole ${dim}-vectors`);
  }
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`k must be a positive integer, got ${k}`);
  const z = standardiser(ref);
  const refZ = Array.from({ length: nRef }, (_, i) => z(ref.features, i));
  const out = new Int32Array(nQ);
  for (let q = 0; q < nQ; q++) {
    const qz = z(queries, q);
    const near: { d: number; c: number }[] = [];
    for (let r = 0; r < nRef; r++) {
      const c = ref.labels[r];
      if (c < 0 || exclude?.(q, r)) continue;
      let d = 0;
      const rz = refZ[r];
      for (let j = 0; j < dim; j++) d += (qz[j] - rz[j]) ** 2;
      near.push({ d, c });
    }
    near.sort((a, b) => a.d - b.d);
    const votes = new Map<number, number>();
    for (const { c } of near.slice(0, k)) votes.set(c, (votes.get(c) ?? 0) + 1);
    const best = Math.max(...votes.values());
    out[q] = near.find(({ c }) => votes.get(c) === best)?.c ?? -1;
  }
  return out;
}

/**
 * The k-NN classifier's leave-one-out accuracy on its own reference set (every labelled vector
 * classified by the others): the ceiling for samples.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { leaveOneOutAccuracy } from "./label_agreement.ts";
 * const ref = { features: Float32Array.of(0, 0.1, 0.2, 5, 5.1, 5.2), dim: 1, labels: [0, 0, 0, 1, 1, 1] };
 * assert.equal(leaveOneOutAccuracy(ref, 3), 1);
 * ```
 */
export function leaveOneOutAccuracy(ref: LabelledFeatures, k = 5): number {
  const pred = knnClassify(ref, ref.features, k, (q, r) => q === r);
  let right = 0, total = 0;
  for (let i = 0; i < pred.length; i++) {
    if (ref.labels[i] < 0) continue;
    total++;
    if (pred[i] === ref.labels[i]) right++;
  }
  return total ? right / total : NaN;
}

/**
 * The fraction of samples the classifier puts in the class they were asked for.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sampleAgreement } from "./label_agreement.ts";
 * const ref = { features: Float32Array.of(0, 0.1, 5, 5.1), dim: 1, labels: [0, 0, 1, 1] };
 * assert.equal(sampleAgreement(ref, Float32Array.of(0, 5, 5), [0, 1, 0], 1), 2 / 3);
 * ```
 */
export function sampleAgreement(
  ref: LabelledFeatures,
  samples: Float32Array,
  asked: ArrayLike<number>,
  k = 5,
): number {
  const pred = knnClassify(ref, samples, k);
  if (pred.length !== asked.length) throw new RangeError(`${pred.length} samples, ${asked.length} labels`);
  let right = 0;
  for (let i = 0; i < pred.length; i++) if (pred[i] === asked[i]) right++;
  return right / pred.length;
}
