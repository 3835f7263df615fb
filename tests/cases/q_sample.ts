/**
 * q(x_t | x0) on tensors against its plain-JS formula, as a case that `tests/q_sample_test.ts` runs on cpu
 * and wasm and `tests/webgpu_suite.ts` on WebGPU.
 *
 * @module
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import type { BackendName } from "../../src/backend/select.ts";
import { makeSchedule } from "../../src/core/schedule.ts";
import { qSampleTensor } from "../../src/core/q_sample.ts";
import { Rng } from "../../src/core/rng.ts";

const schedule = makeSchedule("linear", 500);

/** Plain-JS reference of qSampleTensor. */
function qSampleRef(x0: Float32Array, t: number[], noise: Float32Array, per: number): Float32Array {
  const out = new Float32Array(x0.length);
  for (let i = 0; i < x0.length; i++) {
    const k = t[Math.floor(i / per)];
    out[i] = schedule.sqrtAlphasCumprod[k] * x0[i] + schedule.sqrtOneMinusAlphasCumprod[k] * noise[i];
  }
  return out;
}

const rng = new Rng(1);
const shape: [number, number, number, number] = [4, 5, 5, 3];
const per = 5 * 5 * 3, n = 4 * per;
const x0 = new Float32Array(n).map(() => rng.uniform() * 2 - 1);
const noise = rng.normalArray(n);
const ts = [0, 17, 250, 499];
const ref = qSampleRef(x0, ts, noise, per);

/** qSampleTensor on `backend` (already started) equals the plain-JS reference to `tol`, and does not clamp. */
export async function qSampleMatchesReference(name: BackendName, tol: number): Promise<void> {
  assert.equal(tf.getBackend(), name);
  const xt = qSampleTensor(schedule, tf.tensor4d(x0, shape), ts, tf.tensor4d(noise, shape));
  const got = await xt.data();
  let maxErr = 0;
  for (let i = 0; i < n; i++) maxErr = Math.max(maxErr, Math.abs(got[i] - ref[i]));
  assert.ok(maxErr <= tol, `${name}: max error ${maxErr}`);
  // no clamping: large inputs pass through
  const big = qSampleTensor(
    schedule,
    tf.fill([1, 1, 1, 1], 5) as tf.Tensor4D,
    [0],
    tf.fill([1, 1, 1, 1], 3) as tf.Tensor4D,
  );
  const v = (await big.data())[0];
  assert.ok(v > 4.9, `x_t must not be clamped, got ${v}`);
  tf.disposeVariables();
  tf.dispose([xt, big]);
}
