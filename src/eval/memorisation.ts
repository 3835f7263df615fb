/**
 * Memorisation check: how many samples are (near-)copies of a training image, judged in pixel
 * space against the spacing of the training set itself.
 *
 * Distances are plain L2 over all `size·size·3` values of the images in [−1, 1] (so the
 * largest possible distance at 32×32 is 2·√3072 ≈ 110.9).
 *
 * @module
 */
import { checkImages, median, squaredDistance } from "./common.ts";

/** Nearest neighbours of a set of query images in a reference set. */
export interface NearestNeighbours {
  /** Index of the nearest reference image, per query (lowest index on ties). */
  index: number[];
  /** L2 distance to it, per query. */
  distance: number[];
}

/**
 * For each of `nQueries` images its nearest of `nRefs` reference images by L2 distance in
 * pixel space (all `size·size·3` values). With `leaveOneOut` the two sets must be the same and
 * each image's own index is skipped (the set's leave-one-out nearest-neighbour distances).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { pixelNearestNeighbours } from "./memorisation.ts";
 * const refs = new Float32Array(2 * 1 * 1 * 3).fill(1, 3); // image 0 all 0, image 1 all 1
 * const nn = pixelNearestNeighbours(Float32Array.of(0.9, 0.9, 0.9), 1, refs, 2, 1);
 * assert.equal(nn.index[0], 1);
 * assert.ok(Math.abs(nn.distance[0] - Math.sqrt(0.03)) < 1e-6);
 * ```
 */
export function pixelNearestNeighbours(
  queries: Float32Array,
  nQueries: number,
  refs: Float32Array,
  nRefs: number,
  size = 32,
  leaveOneOut = false,
): NearestNeighbours {
  const per = checkImages(queries, nQueries, size, "queries");
  checkImages(refs, nRefs, size, "refs");
  if (leaveOneOut && (queries !== refs || nRefs < 2)) {
    throw new RangeError("leaveOneOut needs the same array as queries and refs, with at least 2 images");
  }
  if (nRefs < 1) throw new RangeError("need at least one reference image");
  const index: number[] = new Array(nQueries), distance: number[] = new Array(nQueries);
  for (let q = 0; q < nQueries; q++) {
    let best = Infinity, bestJ = -1;
    for (let j = 0; j < nRefs; j++) {
      if (leaveOneOut && j === q) continue;
      const d = squaredDistance(queries, q, refs, j, per);
      if (d < best) {
        best = d;
        bestJ = j;
      }
    }
    index[q] = bestJ;
    distance[q] = Math.sqrt(best);
  }
  return { index, distance };
}

/** Options for {@linkcode memorisation}. */
export interface MemorisationOptions {
  /** Multiplier of the training set's median leave-one-out NN distance. Default 0.5. */
  factor?: number;
}

/** Result of {@linkcode memorisation}; plain numbers and arrays, JSON-serialisable. */
export interface MemorisationResult {
  /** Fraction of samples counted as memorised, in [0, 1]. */
  rate: number;
  /** Number of samples counted as memorised. */
  count: number;
  /** The factor of the rule (0.5 by default). */
  factor: number;
  /** Median of the training set's leave-one-out NN distances. */
  trainLooMedian: number;
  /** The distance threshold: factor × trainLooMedian. A sample strictly closer is memorised. */
  threshold: number;
  /** Per sample: index of its nearest training image. */
  nnIndex: number[];
  /** Per sample: L2 pixel distance to its nearest training image. */
  nnDistance: number[];
  /** Per training image: L2 distance to its nearest other training image. */
  trainLooDistance: number[];
  /** Median of `nnDistance`. */
  sampleNnMedian: number;
  /** Smallest of `nnDistance`. */
  sampleNnMin: number;
}

/**
 * Memorisation rate of `nSamples` samples against `nTrain` training images (both NHWC in
 * [−1, 1], `size`×`size`).
 *
 * **Rule**: a sample counts as memorised when the L2 pixel distance to its nearest training
 * image is strictly less than `factor` (default 0.5) × the median, over the training set, of
 * each training image's distance to its nearest *other* training image (leave-one-out). In
 * words: it sits much closer to one training image than training images typically sit to each
 * other. Exact duplicates in the training set pull that median down and make the rule stricter.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { memorisation } from "./memorisation.ts";
 * const train = new Float32Array(3 * 2 * 2 * 3).map((_, i) => Math.floor(i / 12) - 1); // −1, 0, 1
 * const samples = train.slice(0, 12); // a copy of training image 0
 * const r = memorisation(samples, 1, train, 3, 2);
 * assert.equal(r.rate, 1);
 * assert.equal(r.nnIndex[0], 0);
 * assert.equal(r.nnDistance[0], 0);
 * ```
 */
export function memorisation(
  samples: Float32Array,
  nSamples: number,
  train: Float32Array,
  nTrain: number,
  size = 32,
  opts: MemorisationOptions = {},
): MemorisationResult {
  const factor = opts.factor ?? 0.5;
  if (!(factor >= 0)) throw new RangeError(`factor must be ≥ 0, got ${factor}`);
  checkImages(samples, nSamples, size, "samples");
  checkImages(train, nTrain, size, "train");
  if (nTrain < 2) throw new RangeError(`memorisation needs at least 2 training images, got ${nTrain}`);
  const nn = pixelNearestNeighbours(samples, nSamples, train, nTrain, size);
  const loo = pixelNearestNeighbours(train, nTrain, train, nTrain, size, true);
  const trainLooMedian = median(loo.distance);
  const threshold = factor * trainLooMedian;
  let count = 0;
  for (const d of nn.distance) if (d < threshold) count++;
  return {
    rate: nSamples > 0 ? count / nSamples : 0,
    count,
    factor,
    trainLooMedian,
    threshold,
    nnIndex: nn.index,
    nnDistance: nn.distance,
    trainLooDistance: loo.distance,
    sampleNnMedian: nSamples > 0 ? median(nn.distance) : 0,
    sampleNnMin: nSamples > 0 ? Math.min(...nn.distance) : 0,
  };
}

/**
 * The memorisation rule applied to real images: the fraction of the `nRefs` images `refs` whose
 * nearest *other* image of the `nSet` images `set` is closer than `threshold`. `refs` is normally part
 * of `set` (e.g. one vendor's faces of the whole training set): one exact copy of each image (distance
 * 0) is skipped as itself, so a real duplicate still counts. It is what a model that draws new images
 * as close to the training set as its own images are would score: the rate to read a sample rate
 * against.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { realMemorisationRate } from "./memorisation.ts";
 * // three 1×1 images: 0, 0.1 and 1; the first two are near-copies of each other
 * const set = Float32Array.of(0, 0, 0, 0.1, 0.1, 0.1, 1, 1, 1);
 * assert.ok(Math.abs(realMemorisationRate(set, 3, set, 3, 0.5, 1) - 2 / 3) < 1e-9);
 * ```
 */
export function realMemorisationRate(
  refs: Float32Array,
  nRefs: number,
  set: Float32Array,
  nSet: number,
  threshold: number,
  size = 32,
): number {
  const per = checkImages(refs, nRefs, size, "refs");
  checkImages(set, nSet, size, "set");
  if (nRefs < 1 || nSet < 2) {
    throw new RangeError("need at least one reference image and two images in the set");
  }
  let count = 0;
  for (let q = 0; q < nRefs; q++) {
    let best = Infinity, selfSkipped = false;
    for (let j = 0; j < nSet; j++) {
      const d = squaredDistance(refs, q, set, j, per);
      if (d === 0 && !selfSkipped) {
        selfSkipped = true;
        continue;
      }
      if (d < best) best = d;
    }
    if (Math.sqrt(best) < threshold) count++;
  }
  return count / nRefs;
}

/** The K closest sample/training pairs, as two image lists ready to lay out side by side. */
export interface ClosestPairs {
  /** Number of pairs (≤ the requested k). */
  k: number;
  /** Image side length. */
  size: number;
  /** The K samples, closest first: k × size × size × 3 values (NHWC, [−1, 1]). */
  samples: Float32Array;
  /** Their nearest training images, in the same order. */
  train: Float32Array;
  /** Both lists interleaved (sample 0, train 0, sample 1, train 1, …): a two-column grid. */
  interleaved: Float32Array;
  /** Index of each pair's sample in the sample set. */
  sampleIndex: number[];
  /** Index of each pair's training image in the training set. */
  trainIndex: number[];
  /** L2 pixel distance of each pair. */
  distance: number[];
}

/**
 * The `k` samples closest to the training set (smallest NN distance first, ties by sample
 * index) with their nearest training images, for a "closest pairs side by side" picture.
 * `nn` is the `nnIndex`/`nnDistance` pair of a {@linkcode MemorisationResult} (or of
 * `EvalReport.memorisation`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { closestPairs, memorisation } from "./memorisation.ts";
 * const train = new Float32Array(3 * 2 * 2 * 3).map((_, i) => Math.floor(i / 12) - 1);
 * const samples = Float32Array.from(train.slice(12, 24), (v) => v + 0.1);
 * const m = memorisation(samples, 1, train, 3, 2);
 * const pairs = closestPairs(samples, train, m, 4, 2);
 * assert.equal(pairs.k, 1);
 * assert.equal(pairs.trainIndex[0], 1);
 * assert.equal(pairs.interleaved.length, 24);
 * ```
 */
export function closestPairs(
  samples: Float32Array,
  train: Float32Array,
  nn: { nnIndex: ArrayLike<number>; nnDistance: ArrayLike<number> },
  k = 8,
  size = 32,
): ClosestPairs {
  const per = size * size * 3;
  const nSamples = nn.nnIndex.length;
  checkImages(samples, nSamples, size, "samples");
  if (train.length % per !== 0) throw new RangeError(`train: length is not a multiple of ${per}`);
  const order = Array.from({ length: nSamples }, (_, i) => i)
    .sort((a, b) => nn.nnDistance[a] - nn.nnDistance[b] || a - b)
    .slice(0, Math.max(0, Math.min(k, nSamples)));
  const kk = order.length;
  const outS = new Float32Array(kk * per), outT = new Float32Array(kk * per);
  const inter = new Float32Array(2 * kk * per);
  const trainIndex: number[] = [], distance: number[] = [];
  order.forEach((s, p) => {
    const t = nn.nnIndex[s];
    const sImg = samples.subarray(s * per, (s + 1) * per), tImg = train.subarray(t * per, (t + 1) * per);
    outS.set(sImg, p * per);
    outT.set(tImg, p * per);
    inter.set(sImg, 2 * p * per);
    inter.set(tImg, (2 * p + 1) * per);
    trainIndex.push(t);
    distance.push(nn.nnDistance[s]);
  });
  return {
    k: kk,
    size,
    samples: outS,
    train: outT,
    interleaved: inter,
    sampleIndex: order,
    trainIndex,
    distance,
  };
}
