/**
 * Kernel Inception Distance (Bińkowski et al., "Demystifying MMD GANs", 2018) on arbitrary
 * feature vectors: the unbiased estimator of the squared maximum mean discrepancy with the
 * cubic polynomial kernel k(x, y) = (x·y / d + 1)³, averaged over random subsets.
 *
 * For subsets X = {x₁…x_m} and Y = {y₁…y_m}:
 *
 *   MMD²ᵤ = Σ_{i≠j} k(xᵢ,xⱼ) / (m(m−1)) + Σ_{i≠j} k(yᵢ,yⱼ) / (m(m−1)) − 2 Σ_{i,j} k(xᵢ,yⱼ) / m²
 *
 * Its expectation is the population MMD², so it is ≈ 0 (and can be negative) for two samples
 * from the same distribution. Lower is better.
 *
 * @module
 */
import { Rng } from "../core/rng.ts";

/** Options for {@linkcode kid} and {@linkcode kidSplitHalfFloor}. */
export interface KidOptions {
  /** Points drawn (without replacement) from each set per subset; capped by the set sizes. Default 100. */
  subsetSize?: number;
  /** Number of random subsets averaged. Default 50. */
  numSubsets?: number;
  /** Seed of the {@linkcode Rng} that draws the subsets. Default 0. */
  seed?: number;
}

/** A KID estimate: mean and standard deviation of MMD²ᵤ over the random subsets. */
export interface KidResult {
  /** Mean of the per-subset unbiased MMD² estimates. */
  mean: number;
  /** Population standard deviation (ddof = 0, as in the reference code) of the per-subset estimates. */
  std: number;
  /** Points per set in each subset actually used. */
  subsetSize: number;
  /** Number of subsets. */
  numSubsets: number;
}

/**
 * The cubic polynomial kernel (a·b / dim + 1)³ between row `i` of `a` and row `j` of `b`,
 * with the dot product accumulated in double precision.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { cubicKernel } from "./kid.ts";
 * const f = Float32Array.of(1, 1);
 * assert.equal(cubicKernel(f, 0, f, 0, 2), 8); // (2/2 + 1)³
 * ```
 */
export function cubicKernel(a: Float32Array, i: number, b: Float32Array, j: number, dim: number): number {
  let s = 0;
  const oa = i * dim, ob = j * dim;
  for (let k = 0; k < dim; k++) s += a[oa + k] * b[ob + k];
  const t = s / dim + 1;
  return t * t * t;
}

function rowCount(features: Float32Array, dim: number, what: string): number {
  if (!Number.isInteger(dim) || dim < 1) throw new RangeError(`dim must be a positive integer, got ${dim}`);
  if (features.length % dim !== 0) {
    throw new RangeError(`${what}: length ${features.length} is not a multiple of dim ${dim}`);
  }
  return features.length / dim;
}

/** Kernel values between rows of two feature sets, either precomputed or on demand. */
class KernelTable {
  #a: Float32Array;
  #b: Float32Array;
  #dim: number;
  #nb: number;
  #table: Float64Array | null = null;

  constructor(a: Float32Array, b: Float32Array, dim: number, precompute: boolean, symmetric: boolean) {
    this.#a = a;
    this.#b = b;
    this.#dim = dim;
    const na = a.length / dim, nb = b.length / dim;
    this.#nb = nb;
    if (precompute) {
      const t = new Float64Array(na * nb);
      for (let i = 0; i < na; i++) {
        for (let j = symmetric ? i : 0; j < nb; j++) {
          const v = cubicKernel(a, i, b, j, dim);
          t[i * nb + j] = v;
          if (symmetric) t[j * nb + i] = v;
        }
      }
      this.#table = t;
    }
  }

  get(i: number, j: number): number {
    return this.#table ? this.#table[i * this.#nb + j] : cubicKernel(this.#a, i, this.#b, j, this.#dim);
  }
}

/** Unbiased MMD² between index subsets `ia` (rows of kAA's set) and `ib` (rows of kBB's set). */
function mmd2Subset(
  kAA: KernelTable,
  kBB: KernelTable,
  kAB: KernelTable,
  ia: Int32Array,
  ib: Int32Array,
  m: number,
): number {
  let xx = 0, yy = 0, xy = 0;
  for (let p = 0; p < m; p++) {
    for (let q = p + 1; q < m; q++) {
      xx += kAA.get(ia[p], ia[q]);
      yy += kBB.get(ib[p], ib[q]);
    }
    for (let q = 0; q < m; q++) xy += kAB.get(ia[p], ib[q]);
  }
  return (2 * xx) / (m * (m - 1)) + (2 * yy) / (m * (m - 1)) - (2 * xy) / (m * m);
}

/** Moves a uniformly random `m`-subset of `perm` to its front (partial Fisher–Yates). */
function drawSubset(rng: Rng, perm: Int32Array, m: number): void {
  for (let i = 0; i < m; i++) {
    const j = i + rng.int(perm.length - i);
    const t = perm[i];
    perm[i] = perm[j];
    perm[j] = t;
  }
}

function summarise(values: Float64Array, subsetSize: number): KidResult {
  let s = 0;
  for (const v of values) s += v;
  const mean = s / values.length;
  let ss = 0;
  for (const v of values) ss += (v - mean) * (v - mean);
  return { mean, std: Math.sqrt(ss / values.length), subsetSize, numSubsets: values.length };
}

function resolveOptions(opts: KidOptions): { subsetSize: number; numSubsets: number; seed: number } {
  const subsetSize = opts.subsetSize ?? 100, numSubsets = opts.numSubsets ?? 50, seed = opts.seed ?? 0;
  if (!Number.isInteger(subsetSize) || subsetSize < 2) {
    throw new RangeError(`subsetSize must be an integer ≥ 2, got ${subsetSize}`);
  }
  if (!Number.isInteger(numSubsets) || numSubsets < 1) {
    throw new RangeError(`numSubsets must be a positive integer, got ${numSubsets}`);
  }
  return { subsetSize, numSubsets, seed };
}

/** Precomputing whole Gram matrices pays off when they are smaller than the per-subset work. */
function shouldPrecompute(entries: number, m: number, numSubsets: number): boolean {
  return entries <= Math.max(3 * m * m * numSubsets, 1 << 16) && entries <= 16_000_000;
}

/**
 * KID between two feature sets (`featuresA`: nA × dim, `featuresB`: nB × dim, row-major):
 * the mean ± std of the unbiased MMD² estimator with the cubic kernel (x·y/dim + 1)³ over
 * `numSubsets` random subsets, each drawing `m = min(subsetSize, nA, nB)` rows without
 * replacement from each set with `new Rng(seed)`. Deterministic for a given seed; the kernel
 * values do not depend on whether Gram matrices are precomputed. Lower is better; ≈ 0 (±noise,
 * possibly negative) when both sets come from the same distribution. Note that passing the
 * same points on both sides (or samples that are copies of the reference) biases it negative,
 * since identical points then appear in the cross term.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { kid } from "./kid.ts";
 * const black = new Float32Array(20 * 4).fill(0), white = new Float32Array(20 * 4).fill(1);
 * const r = kid(black, white, 4, { subsetSize: 10, numSubsets: 5, seed: 1 });
 * assert.ok(Math.abs(r.mean - 7) < 1e-9);
 * assert.equal(r.std, 0); // k: 1 within black, 8 within white, 1 across
 * ```
 */
export function kid(
  featuresA: Float32Array,
  featuresB: Float32Array,
  dim: number,
  opts: KidOptions = {},
): KidResult {
  const nA = rowCount(featuresA, dim, "featuresA"), nB = rowCount(featuresB, dim, "featuresB");
  const { subsetSize, numSubsets, seed } = resolveOptions(opts);
  const m = Math.min(subsetSize, nA, nB);
  if (m < 2) throw new RangeError(`KID needs at least 2 feature rows in each set, got ${nA} and ${nB}`);
  const pre = shouldPrecompute(nA * nA + nB * nB + nA * nB, m, numSubsets);
  const kAA = new KernelTable(featuresA, featuresA, dim, pre, true);
  const kBB = new KernelTable(featuresB, featuresB, dim, pre, true);
  const kAB = new KernelTable(featuresA, featuresB, dim, pre, false);
  const rng = new Rng(seed);
  const permA = Int32Array.from({ length: nA }, (_, i) => i);
  const permB = Int32Array.from({ length: nB }, (_, i) => i);
  const values = new Float64Array(numSubsets);
  for (let s = 0; s < numSubsets; s++) {
    drawSubset(rng, permA, m);
    drawSubset(rng, permB, m);
    values[s] = mmd2Subset(kAA, kBB, kAB, permA, permB, m);
  }
  return summarise(values, m);
}

/**
 * The unbiased MMD² estimate with the cubic kernel on the full sets (no subsets): the same
 * formula as one subset of {@linkcode kid}, allowing nA ≠ nB
 * (the cross term is divided by nA·nB and the within terms by n(n−1)).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { mmd2Unbiased } from "./kid.ts";
 * const a = Float32Array.of(0, 0, 0), b = Float32Array.of(1, 1);
 * assert.equal(mmd2Unbiased(a, b, 1), 7); // k(0,0) = 1, k(1,1) = 8, k(0,1) = 1
 * ```
 */
export function mmd2Unbiased(featuresA: Float32Array, featuresB: Float32Array, dim: number): number {
  const nA = rowCount(featuresA, dim, "featuresA"), nB = rowCount(featuresB, dim, "featuresB");
  if (nA < 2 || nB < 2) throw new RangeError(`MMD² needs at least 2 rows in each set, got ${nA} and ${nB}`);
  let xx = 0, yy = 0, xy = 0;
  for (let i = 0; i < nA; i++) {
    for (let j = i + 1; j < nA; j++) xx += cubicKernel(featuresA, i, featuresA, j, dim);
  }
  for (let i = 0; i < nB; i++) {
    for (let j = i + 1; j < nB; j++) yy += cubicKernel(featuresB, i, featuresB, j, dim);
  }
  for (let i = 0; i < nA; i++) {
    for (let j = 0; j < nB; j++) xy += cubicKernel(featuresA, i, featuresB, j, dim);
  }
  return (2 * xx) / (nA * (nA - 1)) + (2 * yy) / (nB * (nB - 1)) - (2 * xy) / (nA * nB);
}

/**
 * The KID "floor" of a reference set: for each of `numSubsets` repetitions, a fresh random split
 * of the `n` training feature rows into two disjoint halves of `h = min(⌊n/2⌋, subsetSize)` rows
 * (drawn with `new Rng(seed)`), and the unbiased MMD² between them; returns mean ± std over the
 * splits. Both halves come from the same distribution, so the mean is ≈ 0 by construction and
 * the std is the noise level of a KID computed on this little data: a generator's KID within a
 * couple of floor stds of the floor mean is indistinguishable from fresh training data at this
 * sample size.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { kidSplitHalfFloor } from "./kid.ts";
 * import { Rng } from "../core/rng.ts";
 * const feats = new Rng(3).normalArray(60 * 4);
 * const floor = kidSplitHalfFloor(feats, 4, { numSubsets: 20 });
 * assert.equal(floor.subsetSize, 30);
 * assert.ok(Math.abs(floor.mean) < 3 * floor.std + 0.5);
 * ```
 */
export function kidSplitHalfFloor(
  trainFeatures: Float32Array,
  dim: number,
  opts: KidOptions = {},
): KidResult {
  const n = rowCount(trainFeatures, dim, "trainFeatures");
  const { subsetSize, numSubsets, seed } = resolveOptions(opts);
  const h = Math.min(Math.floor(n / 2), subsetSize);
  if (h < 2) throw new RangeError(`the split-half floor needs at least 4 feature rows, got ${n}`);
  const pre = shouldPrecompute(n * n, h, numSubsets);
  const k = new KernelTable(trainFeatures, trainFeatures, dim, pre, true);
  const rng = new Rng(seed);
  const perm = Int32Array.from({ length: n }, (_, i) => i);
  const values = new Float64Array(numSubsets);
  for (let s = 0; s < numSubsets; s++) {
    drawSubset(rng, perm, 2 * h);
    values[s] = mmd2Subset(k, k, k, perm.subarray(0, h), perm.subarray(h, 2 * h), h);
  }
  return summarise(values, h);
}
