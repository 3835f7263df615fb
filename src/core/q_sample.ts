/**
 * The forward process q(x_t | x0) = N(√ᾱ_t x0, (1 − ᾱ_t) I), sampled exactly (no clamping).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { checkTimestep, type DiffusionSchedule } from "./schedule.ts";

/** Per-example coefficients gathered into a [B,1,1,1] tensor. */
export function perExample(coef: Float64Array, t: ArrayLike<number>): tf.Tensor4D {
  const v = new Float32Array(t.length);
  for (let i = 0; i < t.length; i++) v[i] = coef[t[i]];
  return tf.tensor4d(v, [t.length, 1, 1, 1]);
}

/**
 * x_t = √ᾱ_t·x0 + √(1−ᾱ_t)·ε for a batch with one timestep per example.
 *
 * @param x0 clean images [B,H,W,C] in [−1, 1]
 * @param t timestep indices in [0, T), one per example
 * @param noise ε, same shape as x0
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import "@tensorflow/tfjs-backend-cpu";
 * import { makeSchedule } from "./schedule.ts";
 * import { qSampleTensor } from "./q_sample.ts";
 * await tf.setBackend("cpu");
 * const s = makeSchedule("linear", 500);
 * const xt = qSampleTensor(s, tf.zeros([1, 2, 2, 3]), [10], tf.ones([1, 2, 2, 3]));
 * const v = await xt.data();
 * assert.ok(Math.abs(v[0] - s.sqrtOneMinusAlphasCumprod[10]) < 1e-6);
 * ```
 */
export function qSampleTensor(
  schedule: DiffusionSchedule,
  x0: tf.Tensor4D,
  t: ArrayLike<number>,
  noise: tf.Tensor4D,
): tf.Tensor4D {
  const B = x0.shape[0];
  if (t.length !== B) {
    throw new RangeError(`qSampleTensor needs one timestep per example: got ${t.length} for batch ${B}`);
  }
  if (noise.shape.join() !== x0.shape.join()) {
    throw new RangeError(`noise shape [${noise.shape}] must equal x0 shape [${x0.shape}]`);
  }
  for (let i = 0; i < B; i++) checkTimestep(t[i], schedule.T);
  return tf.tidy(() => {
    const a = perExample(schedule.sqrtAlphasCumprod, t);
    const b = perExample(schedule.sqrtOneMinusAlphasCumprod, t);
    return tf.add(tf.mul(a, x0), tf.mul(b, noise)) as tf.Tensor4D;
  });
}
