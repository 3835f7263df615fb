/**
 * β schedules and every coefficient the forward process and the samplers need.
 *
 * Indexing: arrays are indexed by `t = 0 … T-1`, where index `t` is the paper's step `t+1`
 * (x at index t has had t+1 noising steps). `alphasCumprodPrev[0] = 1` (the empty product), so
 * the posterior at t = 0 has zero variance and its mean is exactly x0.
 *
 * @module
 */

/** Which β schedule. */
export type ScheduleKind = "linear" | "cosine";

/** The valid schedule kinds. */
export const SCHEDULE_KINDS: readonly ScheduleKind[] = ["linear", "cosine"];

/** A β schedule with all derived coefficients, each a Float64Array of length T. */
export interface DiffusionSchedule {
  /** Which schedule produced the betas. */
  kind: ScheduleKind;
  /** Number of diffusion steps. */
  T: number;
  /** β_t. */
  betas: Float64Array;
  /** α_t = 1 − β_t. */
  alphas: Float64Array;
  /** ᾱ_t = ∏_{s≤t} α_s. */
  alphasCumprod: Float64Array;
  /** ᾱ_{t−1}, with ᾱ_{−1} = 1. */
  alphasCumprodPrev: Float64Array;
  /** √ᾱ_t. */
  sqrtAlphasCumprod: Float64Array;
  /** √(1 − ᾱ_t). */
  sqrtOneMinusAlphasCumprod: Float64Array;
  /** 1/√α_t. */
  oneOverSqrtAlphas: Float64Array;
  /** β̃_t = (1 − ᾱ_{t−1}) / (1 − ᾱ_t) · β_t, the variance of q(x_{t−1} | x_t, x0). */
  posteriorVariance: Float64Array;
  /** √ᾱ_{t−1} β_t / (1 − ᾱ_t): the coefficient of x0 in the posterior mean. */
  posteriorMeanCoefX0: Float64Array;
  /** √α_t (1 − ᾱ_{t−1}) / (1 − ᾱ_t): the coefficient of x_t in the posterior mean. */
  posteriorMeanCoefXt: Float64Array;
}

function checkT(T: number): void {
  if (!Number.isInteger(T) || T < 1) {
    throw new RangeError(`T must be a positive integer, got ${T}`);
  }
}

/**
 * Linearly spaced betas from `start` to `end` (DDPM; the seed uses 1e-4 … 0.02).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { linearBetaSchedule } from "./schedule.ts";
 * const b = linearBetaSchedule(500);
 * assert.equal(b[0], 1e-4);
 * assert.ok(Math.abs(b[499] - 0.02) < 1e-12);
 * ```
 */
export function linearBetaSchedule(T: number, start = 1e-4, end = 0.02): Float64Array {
  checkT(T);
  if (!(start > 0 && end < 1 && start <= end)) {
    throw new RangeError(`linear betas need 0 < start <= end < 1, got start=${start} end=${end}`);
  }
  const betas = new Float64Array(T);
  for (let i = 0; i < T; i++) betas[i] = T === 1 ? start : start + (end - start) * i / (T - 1);
  return betas;
}

/**
 * The cosine schedule of Nichol & Dhariwal: ᾱ(t) = f(t)/f(0), f(t) = cos²((t/T + s)/(1 + s)·π/2),
 * β_t = 1 − ᾱ(t)/ᾱ(t−1) clipped to at most `maxBeta`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { cosineBetaSchedule } from "./schedule.ts";
 * const b = cosineBetaSchedule(500);
 * assert.equal(b[499], 0.999);
 * assert.ok(b[0] < b[250]);
 * ```
 */
export function cosineBetaSchedule(T: number, s = 0.008, maxBeta = 0.999): Float64Array {
  checkT(T);
  if (!(s >= 0 && Number.isFinite(s))) throw new RangeError(`cosine offset s must be >= 0, got ${s}`);
  if (!(maxBeta > 0 && maxBeta < 1)) throw new RangeError(`maxBeta must be in (0, 1), got ${maxBeta}`);
  const f = (t: number) => Math.cos((t / T + s) / (1 + s) * Math.PI / 2) ** 2;
  const betas = new Float64Array(T);
  for (let i = 0; i < T; i++) betas[i] = Math.min(1 - f(i + 1) / f(i), maxBeta);
  return betas;
}

/**
 * Derives every coefficient from a list of betas.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { scheduleFromBetas } from "./schedule.ts";
 * const s = scheduleFromBetas("linear", Float64Array.of(0.1, 0.2));
 * assert.ok(Math.abs(s.alphasCumprod[1] - 0.72) < 1e-12);
 * ```
 */
export function scheduleFromBetas(kind: ScheduleKind, betas: Float64Array): DiffusionSchedule {
  const T = betas.length;
  checkT(T);
  const make = () => new Float64Array(T);
  const alphas = make(), ab = make(), abPrev = make(), sqrtAb = make(), sqrt1mAb = make();
  const oneOverSqrtA = make(), postVar = make(), coefX0 = make(), coefXt = make();
  let prod = 1;
  for (let t = 0; t < T; t++) {
    const b = betas[t];
    if (!(b > 0 && b < 1)) throw new RangeError(`beta[${t}] must be in (0, 1), got ${b}`);
    alphas[t] = 1 - b;
    abPrev[t] = prod;
    prod *= alphas[t];
    ab[t] = prod;
    sqrtAb[t] = Math.sqrt(prod);
    sqrt1mAb[t] = Math.sqrt(1 - prod);
    oneOverSqrtA[t] = 1 / Math.sqrt(alphas[t]);
    postVar[t] = (1 - abPrev[t]) / (1 - prod) * b;
    coefX0[t] = Math.sqrt(abPrev[t]) * b / (1 - prod);
    coefXt[t] = Math.sqrt(alphas[t]) * (1 - abPrev[t]) / (1 - prod);
  }
  return {
    kind,
    T,
    betas: Float64Array.from(betas),
    alphas,
    alphasCumprod: ab,
    alphasCumprodPrev: abPrev,
    sqrtAlphasCumprod: sqrtAb,
    sqrtOneMinusAlphasCumprod: sqrt1mAb,
    oneOverSqrtAlphas: oneOverSqrtA,
    posteriorVariance: postVar,
    posteriorMeanCoefX0: coefX0,
    posteriorMeanCoefXt: coefXt,
  };
}

/**
 * Builds a schedule by name with the seed's defaults (linear 1e-4 … 0.02, cosine s = 0.008).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { makeSchedule } from "./schedule.ts";
 * const s = makeSchedule("cosine", 500);
 * assert.equal(s.T, 500);
 * assert.equal(s.alphasCumprodPrev[0], 1);
 * ```
 */
export function makeSchedule(kind: ScheduleKind = "linear", T = 500): DiffusionSchedule {
  if (kind === "linear") return scheduleFromBetas(kind, linearBetaSchedule(T));
  if (kind === "cosine") return scheduleFromBetas(kind, cosineBetaSchedule(T));
  throw new RangeError(`unknown schedule "${kind}": choose one of ${SCHEDULE_KINDS.join(", ")}`);
}

/**
 * Throws a RangeError unless `t` is an integer timestep index in `[0, T)`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkTimestep } from "./schedule.ts";
 * checkTimestep(499, 500);
 * assert.throws(() => checkTimestep(500, 500), RangeError);
 * ```
 */
export function checkTimestep(t: number, T: number): void {
  if (!Number.isInteger(t) || t < 0 || t >= T) {
    throw new RangeError(`timestep t must be an integer in [0, ${T - 1}], got ${t}`);
  }
}
