/**
 * One reverse step of DDPM (ancestral), of DDIM and of DPM-Solver++(2M), as pure functions of x_t and the predicted
 * noise ε, so they can be checked against hand-computed numbers with any ε.
 *
 * Timesteps are indices in [0, T) (index t is the paper's step t + 1). The DDPM chain runs over
 * every index down to 0, where the posterior variance is 0 and the step returns x0 itself; the
 * notebook stopped at index 1 and so never removed the last step's noise.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { checkTimestep, type DiffusionSchedule } from "../core/schedule.ts";
import { type DataPrediction, dpmSolverCoefficients } from "./steps_plain.ts";

/**
 * x0 predicted from x_t and ε: (x_t − √(1−ᾱ_t)·ε)/√ᾱ_t, optionally clipped to [−1, 1].
 */
export function predictX0(
  schedule: DiffusionSchedule,
  xt: tf.Tensor,
  eps: tf.Tensor,
  t: number,
  clip: boolean,
): tf.Tensor {
  return tf.tidy(() => {
    const x0 = tf.div(
      tf.sub(xt, tf.mul(eps, schedule.sqrtOneMinusAlphasCumprod[t])),
      schedule.sqrtAlphasCumprod[t],
    );
    return clip ? tf.clipByValue(x0, -1, 1) : x0;
  });
}

/**
 * One DDPM ancestral step x_t → x_{t−1} (Ho et al. 2020, Algorithm 2; the notebook's sampler).
 * With `clip`, x0 is predicted, clipped to [−1, 1], and the posterior mean
 * coefX0·x0 + coefXt·x_t is used; without it, the mean is (x_t − β_t/√(1−ᾱ_t)·ε)/√α_t.
 * Then x_{t−1} = mean + √β̃_t·z (z is ignored at t = 0, where β̃ = 0).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import "@tensorflow/tfjs-backend-cpu";
 * import { makeSchedule } from "../core/schedule.ts";
 * import { ddpmStepTensor } from "./steps.ts";
 * await tf.setBackend("cpu");
 * const s = makeSchedule("linear", 10);
 * const x = ddpmStepTensor(s, tf.fill([1, 1, 1, 1], 0.5), tf.zeros([1, 1, 1, 1]), 0, null, true);
 * assert.ok(Math.abs((await x.data())[0] - 0.5 / s.sqrtAlphasCumprod[0]) < 1e-6);
 * ```
 */
export function ddpmStepTensor(
  schedule: DiffusionSchedule,
  xt: tf.Tensor,
  eps: tf.Tensor,
  t: number,
  z: tf.Tensor | null,
  clip = true,
): tf.Tensor {
  checkTimestep(t, schedule.T);
  return tf.tidy(() => {
    const mean = clip
      ? tf.add(
        tf.mul(predictX0(schedule, xt, eps, t, true), schedule.posteriorMeanCoefX0[t]),
        tf.mul(xt, schedule.posteriorMeanCoefXt[t]),
      )
      : tf.mul(
        tf.sub(xt, tf.mul(eps, schedule.betas[t] / schedule.sqrtOneMinusAlphasCumprod[t])),
        schedule.oneOverSqrtAlphas[t],
      );
    if (t === 0 || !z) return mean;
    return tf.add(mean, tf.mul(z, Math.sqrt(schedule.posteriorVariance[t])));
  });
}

/**
 * One DDIM step x_t → x_{tPrev} (Song et al. 2021, eq. 12), `tPrev = −1` meaning the clean image
 * (ᾱ = 1). σ = η·√((1−ᾱ_prev)/(1−ᾱ_t))·√(1−ᾱ_t/ᾱ_prev); η = 0 is deterministic and η = 1 with
 * every step equals DDPM's posterior variance. With `clip`, x0 is clipped and ε re-derived from it
 * so the step stays consistent.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import "@tensorflow/tfjs-backend-cpu";
 * import { makeSchedule } from "../core/schedule.ts";
 * import { ddimStepTensor } from "./steps.ts";
 * await tf.setBackend("cpu");
 * const s = makeSchedule("linear", 10);
 * const x = ddimStepTensor(s, tf.fill([1, 1, 1, 1], 0.3), tf.zeros([1, 1, 1, 1]), 5, -1, 0, null, false);
 * assert.ok(Math.abs((await x.data())[0] - 0.3 / s.sqrtAlphasCumprod[5]) < 1e-6);
 * ```
 */
export function ddimStepTensor(
  schedule: DiffusionSchedule,
  xt: tf.Tensor,
  eps: tf.Tensor,
  t: number,
  tPrev: number,
  eta: number,
  z: tf.Tensor | null,
  clip = true,
): tf.Tensor {
  checkTimestep(t, schedule.T);
  if (!(Number.isInteger(tPrev) && tPrev >= -1 && tPrev < t)) {
    throw new RangeError(`DDIM previous timestep must be an integer in [-1, ${t - 1}], got ${tPrev}`);
  }
  if (!(eta >= 0)) throw new RangeError(`eta must be >= 0, got ${eta}`);
  const ab = schedule.alphasCumprod[t];
  const abPrev = tPrev >= 0 ? schedule.alphasCumprod[tPrev] : 1;
  const sigma = eta * Math.sqrt((1 - abPrev) / (1 - ab)) * Math.sqrt(1 - ab / abPrev);
  const dirCoef = Math.sqrt(Math.max(1 - abPrev - sigma * sigma, 0));
  return tf.tidy(() => {
    const x0 = predictX0(schedule, xt, eps, t, clip);
    const e = clip ? tf.div(tf.sub(xt, tf.mul(x0, Math.sqrt(ab))), Math.sqrt(1 - ab)) : eps;
    let out = tf.add(tf.mul(x0, Math.sqrt(abPrev)), tf.mul(e, dirCoef));
    if (sigma > 0 && z) out = tf.add(out, tf.mul(z, sigma));
    return out;
  });
}

/**
 * One DPM-Solver++(2M) step (Lu et al. 2022) x_t → x_{tNext} (`tNext = −1`: the clean image) on tensors; the math is
 * {@linkcode dpmSolverCoefficients}'s. `last` is the previous step's data prediction (null: first
 * order). Returns x_{tNext} and this step's (clipped with `clip`) prediction x̂0; the caller owns both
 * and disposes the prediction after the next step.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import "@tensorflow/tfjs-backend-cpu";
 * import { makeSchedule } from "../core/schedule.ts";
 * import { dpmSolverStepTensor } from "./steps.ts";
 * await tf.setBackend("cpu");
 * const s = makeSchedule("linear", 10);
 * const { x, prediction } = dpmSolverStepTensor(s, tf.fill([1, 1, 1, 1], 0.3), tf.zeros([1, 1, 1, 1]), 5, -1, null, false);
 * assert.ok(Math.abs((await x.data())[0] - 0.3 / s.sqrtAlphasCumprod[5]) < 1e-6);
 * prediction.x0.dispose();
 * ```
 */
export function dpmSolverStepTensor(
  schedule: DiffusionSchedule,
  xt: tf.Tensor,
  eps: tf.Tensor,
  t: number,
  tNext: number,
  last: DataPrediction<tf.Tensor> | null,
  clip = true,
): { x: tf.Tensor; prediction: DataPrediction<tf.Tensor> } {
  const c = dpmSolverCoefficients(schedule, t, tNext, last?.t ?? null);
  const [x, x0] = tf.tidy(() => {
    const x0 = predictX0(schedule, xt, eps, t, clip);
    let out = c.xt === 0 ? tf.mul(x0, c.m0) : tf.add(tf.mul(xt, c.xt), tf.mul(x0, c.m0));
    if (last) out = tf.add(out, tf.mul(last.x0, c.m1));
    return [out, x0];
  });
  return { x, prediction: { x0, t } };
}

/**
 * The DDIM timestep indices: S evenly spaced indices in [0, T), descending, ending at 0.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ddimTimesteps } from "./steps.ts";
 * assert.equal(ddimTimesteps(500, 5).join(), "400,300,200,100,0");
 * ```
 */
export function ddimTimesteps(T: number, S: number): number[] {
  if (!Number.isInteger(S) || S < 1 || S > T) {
    throw new RangeError(`DDIM steps must be an integer in [1, ${T}] (T), got ${S}`);
  }
  const ts: number[] = [];
  for (let i = S - 1; i >= 0; i--) ts.push(Math.floor(i * T / S));
  return ts;
}
