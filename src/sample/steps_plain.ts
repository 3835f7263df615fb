/**
 * The DDPM and DDIM steps in plain JavaScript on Float32Arrays: the public, tensor-free form of
 * {@linkcode ./steps.ts}, and the independent reference the tests hold the tensor versions to.
 *
 * @module
 */
import { checkTimestep, type DiffusionSchedule } from "../schedule.ts";

function checkSame(a: Float32Array, b: Float32Array, what: string): void {
  if (a.length !== b.length) throw new RangeError(`${what} has ${b.length} values, x_t has ${a.length}`);
}

/**
 * One DDPM ancestral step x_t → x_{t−1} on plain arrays (see `ddpmStep` in steps.ts for the math).
 *
 * @example
 * ```ts
 * import { makeSchedule } from "../schedule.ts";
 * import { ddpmStepArray } from "./steps_plain.ts";
 * const s = makeSchedule("linear", 10);
 * const x = ddpmStepArray(s, Float32Array.of(0.5), Float32Array.of(0), 0, null, true);
 * console.assert(Math.abs(x[0] - 0.5 / s.sqrtAlphasCumprod[0]) < 1e-6);
 * ```
 */
export function ddpmStepArray(
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
 * import { makeSchedule } from "../schedule.ts";
 * import { ddimStepArray } from "./steps_plain.ts";
 * const s = makeSchedule("linear", 10);
 * const x = ddimStepArray(s, Float32Array.of(0.3), Float32Array.of(0), 5, -1, 0, null, false);
 * console.assert(Math.abs(x[0] - 0.3 / s.sqrtAlphasCumprod[5]) < 1e-6);
 * ```
 */
export function ddimStepArray(
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
