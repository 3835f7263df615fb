/**
 * The DDPM, DDIM and DPM-Solver++(2M) steps in plain JavaScript on Float32Arrays: the public,
 * tensor-free form of {@linkcode ./steps.ts}, and the reference the tests hold the tensor versions to.
 *
 * @module
 */
import { checkTimestep, type DiffusionSchedule } from "../core/schedule.ts";

function checkSame(a: Float32Array, b: Float32Array, what: string): void {
  if (a.length !== b.length) throw new RangeError(`${what} has ${b.length} values, x_t has ${a.length}`);
}

/**
 * One DDPM ancestral step x_t → x_{t−1} on plain arrays (see `ddpmStep` in steps.ts for the math).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { makeSchedule } from "../core/schedule.ts";
 * import { ddpmStep } from "./steps_plain.ts";
 * const s = makeSchedule("linear", 10);
 * const x = ddpmStep(s, Float32Array.of(0.5), Float32Array.of(0), 0, null, true);
 * assert.ok(Math.abs(x[0] - 0.5 / s.sqrtAlphasCumprod[0]) < 1e-6);
 * ```
 */
export function ddpmStep(
  schedule: DiffusionSchedule,
  xt: Float32Array,
  eps: Float32Array,
  t: number,
  z: Float32Array | null,
  clip = true,
): Float32Array {
  checkTimestep(t, schedule.T);
  checkSame(xt, eps, "eps");
  if (z) checkSame(xt, z, "z");
  const out = new Float32Array(xt.length);
  const sd = Math.sqrt(schedule.posteriorVariance[t]);
  for (let i = 0; i < xt.length; i++) {
    let mean: number;
    if (clip) {
      const x0 = Math.min(
        1,
        Math.max(
          -1,
          (xt[i] - schedule.sqrtOneMinusAlphasCumprod[t] * eps[i]) / schedule.sqrtAlphasCumprod[t],
        ),
      );
      mean = schedule.posteriorMeanCoefX0[t] * x0 + schedule.posteriorMeanCoefXt[t] * xt[i];
    } else {
      mean = (xt[i] - schedule.betas[t] / schedule.sqrtOneMinusAlphasCumprod[t] * eps[i]) *
        schedule.oneOverSqrtAlphas[t];
    }
    out[i] = t > 0 && z ? mean + sd * z[i] : mean;
  }
  return out;
}

/**
 * One DDIM step x_t → x_{tPrev} on plain arrays (`tPrev = −1`: the clean image); see `ddimStep`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { makeSchedule } from "../core/schedule.ts";
 * import { ddimStep } from "./steps_plain.ts";
 * const s = makeSchedule("linear", 10);
 * const x = ddimStep(s, Float32Array.of(0.3), Float32Array.of(0), 5, -1, 0, null, false);
 * assert.ok(Math.abs(x[0] - 0.3 / s.sqrtAlphasCumprod[5]) < 1e-6);
 * ```
 */
export function ddimStep(
  schedule: DiffusionSchedule,
  xt: Float32Array,
  eps: Float32Array,
  t: number,
  tPrev: number,
  eta: number,
  z: Float32Array | null,
  clip = true,
): Float32Array {
  checkTimestep(t, schedule.T);
  if (!(Number.isInteger(tPrev) && tPrev >= -1 && tPrev < t)) {
    throw new RangeError(`DDIM previous timestep must be an integer in [-1, ${t - 1}], got ${tPrev}`);
  }
  if (!(eta >= 0)) throw new RangeError(`eta must be >= 0, got ${eta}`);
  checkSame(xt, eps, "eps");
  if (z) checkSame(xt, z, "z");
  const ab = schedule.alphasCumprod[t], abPrev = tPrev >= 0 ? schedule.alphasCumprod[tPrev] : 1;
  const sigma = eta * Math.sqrt((1 - abPrev) / (1 - ab)) * Math.sqrt(1 - ab / abPrev);
  const dir = Math.sqrt(Math.max(1 - abPrev - sigma * sigma, 0));
  const out = new Float32Array(xt.length);
  for (let i = 0; i < xt.length; i++) {
    let x0 = (xt[i] - Math.sqrt(1 - ab) * eps[i]) / Math.sqrt(ab);
    let e = eps[i];
    if (clip) {
      x0 = Math.min(1, Math.max(-1, x0));
      e = (xt[i] - Math.sqrt(ab) * x0) / Math.sqrt(1 - ab);
    }
    out[i] = Math.sqrt(abPrev) * x0 + dir * e + (sigma > 0 && z ? sigma * z[i] : 0);
  }
  return out;
}

/** The coefficients of one DPM-Solver++(2M) step: x_next = xt·x + m0·x̂0(t) + m1·x̂0(tLast). */
export interface DpmSolverCoefficients {
  /** Coefficient of x_t: σ_next/σ_t. */
  xt: number;
  /** Coefficient of the data prediction at t. */
  m0: number;
  /** Coefficient of the data prediction at the previous timestep (0 for a first-order step). */
  m1: number;
}

/**
 * λ_t = log(α_t/σ_t) = ½·log(ᾱ_t/(1 − ᾱ_t)), the half log-SNR DPM-Solver steps in; +∞ at the clean
 * image (`t = −1`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { makeSchedule } from "../core/schedule.ts";
 * import { logSnrHalf } from "./steps_plain.ts";
 * const s = makeSchedule("linear", 500);
 * assert.ok(logSnrHalf(s, 499) < 0);
 * assert.ok(logSnrHalf(s, 0) > 4);
 * assert.equal(logSnrHalf(s, -1), Infinity);
 * ```
 */
export function logSnrHalf(schedule: DiffusionSchedule, t: number): number {
  if (t === -1) return Infinity;
  checkTimestep(t, schedule.T);
  const ab = schedule.alphasCumprod[t];
  return 0.5 * (Math.log(ab) - Math.log1p(-ab));
}

/**
 * The coefficients of one DPM-Solver++(2M) step (Lu et al. 2022, Algorithm 2) from timestep `t` to
 * `tNext` (−1: the clean image), with h = λ_next − λ_t:
 *
 *   x_next = (σ_next/σ_t)·x_t + α_next·(1 − e^{−h})·D,
 *   D = (1 + 1/(2r))·x̂0(t) − 1/(2r)·x̂0(tLast),   r = (λ_t − λ_last)/h,
 *
 * where x̂0 are the data predictions. `tLast = null` gives the first-order step D = x̂0(t), which is
 * DDIM η = 0. The step to the clean image (σ_next = 0, h = ∞) is always first order: it returns x̂0(t).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { makeSchedule } from "../core/schedule.ts";
 * import { dpmSolverCoefficients } from "./steps_plain.ts";
 * const s = makeSchedule("linear", 500);
 * const c = dpmSolverCoefficients(s, 400, 300, 450);
 * assert.ok(c.m1 < 0);
 * assert.ok(c.m0 > 0); // extrapolates from the previous data prediction
 * assert.equal(dpmSolverCoefficients(s, 0, -1, 100).m0, 1); // the last step returns x̂0
 * ```
 */
export function dpmSolverCoefficients(
  schedule: DiffusionSchedule,
  t: number,
  tNext: number,
  tLast: number | null,
): DpmSolverCoefficients {
  checkTimestep(t, schedule.T);
  if (!(Number.isInteger(tNext) && tNext >= -1 && tNext < t)) {
    throw new RangeError(`DPM-Solver next timestep must be an integer in [-1, ${t - 1}], got ${tNext}`);
  }
  if (tLast !== null && !(Number.isInteger(tLast) && tLast > t && tLast < schedule.T)) {
    throw new RangeError(
      `DPM-Solver previous timestep must be an integer in [${t + 1}, ${schedule.T - 1}], got ${tLast}`,
    );
  }
  if (tNext === -1) return { xt: 0, m0: 1, m1: 0 };
  const abNext = schedule.alphasCumprod[tNext];
  const h = logSnrHalf(schedule, tNext) - logSnrHalf(schedule, t);
  const xt = schedule.sqrtOneMinusAlphasCumprod[tNext] / schedule.sqrtOneMinusAlphasCumprod[t];
  const m = Math.sqrt(abNext) * -Math.expm1(-h);
  if (tLast === null) return { xt, m0: m, m1: 0 };
  const r = (logSnrHalf(schedule, t) - logSnrHalf(schedule, tLast)) / h;
  return { xt, m0: m * (1 + 1 / (2 * r)), m1: -m / (2 * r) };
}

/**
 * Whether step `i` (0-based) of an `S`-step DPM-Solver++(2M) run on `ddimTimesteps`
 * timesteps (…, T/S, 0) is first order: the first step (no previous prediction yet), the step to the
 * clean image (h = ∞), and the step into index 0. The last is diffusers' `lower_order_final`, kept at
 * every step count here because the grid ends at index 0, where λ jumps (σ_0 = √β_0 ≈ 0.01): that
 * step has the largest h and the smallest ratio r = h_prev/h, so the second-order extrapolation
 * (weights 1 + 1/(2r) and −1/(2r)) amplifies the previous prediction's error instead of cancelling
 * it (on 1-D Gaussian data with the exact ε it was less accurate than DDIM at 15–25 steps).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { dpmSolverFirstOrder } from "./steps_plain.ts";
 * const orders = Array.from({ length: 10 }, (_, i) => dpmSolverFirstOrder(i, 10) ? 1 : 2);
 * assert.equal(orders.join(""), "1222222211");
 * ```
 */
export function dpmSolverFirstOrder(i: number, S: number): boolean {
  return i === 0 || i >= S - 2;
}

/** The data prediction a DPM-Solver++ step carries to the next: x̂0 and the timestep it was made at. */
export interface DataPrediction<T> {
  /** x̂0 (clipped when the step clipped). */
  x0: T;
  /** Timestep index of the prediction. */
  t: number;
}

/**
 * One DPM-Solver++(2M) step x_t → x_{tNext} on plain arrays (`tNext = −1`: the clean image); see
 * {@linkcode dpmSolverCoefficients} for the math. `last` is the previous step's data prediction
 * (null: a first-order step). The data prediction x̂0 = (x_t − σ_t·ε)/α_t is clipped to [−1, 1] with
 * `clip`. Returns x_{tNext} and this step's prediction, for the next step.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { makeSchedule } from "../core/schedule.ts";
 * import { dpmSolverStep } from "./steps_plain.ts";
 * const s = makeSchedule("linear", 10);
 * // ε = 0: x̂0 = x_t/√ᾱ_t, and the step to the clean image returns it
 * const { x } = dpmSolverStep(s, Float32Array.of(0.3), Float32Array.of(0), 5, -1, null, false);
 * assert.ok(Math.abs(x[0] - 0.3 / s.sqrtAlphasCumprod[5]) < 1e-6);
 * ```
 */
export function dpmSolverStep(
  schedule: DiffusionSchedule,
  xt: Float32Array,
  eps: Float32Array,
  t: number,
  tNext: number,
  last: DataPrediction<Float32Array> | null,
  clip = true,
): { x: Float32Array; prediction: DataPrediction<Float32Array> } {
  const c = dpmSolverCoefficients(schedule, t, tNext, last?.t ?? null);
  checkSame(xt, eps, "eps");
  if (last) checkSame(xt, last.x0, "the previous x0");
  const a = schedule.sqrtAlphasCumprod[t], s = schedule.sqrtOneMinusAlphasCumprod[t];
  const x0 = new Float32Array(xt.length), out = new Float32Array(xt.length);
  for (let i = 0; i < xt.length; i++) {
    const p = (xt[i] - s * eps[i]) / a;
    x0[i] = clip ? Math.min(1, Math.max(-1, p)) : p;
    out[i] = c.xt * xt[i] + c.m0 * x0[i] + (last ? c.m1 * last.x0[i] : 0);
  }
  return { x: out, prediction: { x0, t } };
}
