import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../src/backend.ts";
import { makeSchedule } from "../src/schedule.ts";
import { qSample } from "../src/q_sample.ts";
import { Rng } from "../src/rng.ts";

const schedule = makeSchedule("linear", 500);

/** Plain-JS reference of qSample. */
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

async function checkBackend(name: "cpu" | "wasm", tol: number) {
  const info = await initBackend(name, { log: null });
  assert.equal(info.name, name);
  assert.equal(tf.getBackend(), name);
  const xt = qSample(schedule, tf.tensor4d(x0, shape), ts, tf.tensor4d(noise, shape));
  const got = await xt.data();
  let maxErr = 0;
  for (let i = 0; i < n; i++) maxErr = Math.max(maxErr, Math.abs(got[i] - ref[i]));
  assert.ok(maxErr <= tol, `${name}: max error ${maxErr}`);
  // no clamping: large inputs pass through
  const big = qSample(
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

Deno.test("qSample on cpu equals the plain-JS reference", () => checkBackend("cpu", 1e-6));
Deno.test("qSample on wasm equals the plain-JS reference", () => checkBackend("wasm", 1e-6));

Deno.test("qSample statistics: mean √ᾱ·x0 and variance 1−ᾱ", async () => {
  await initBackend("cpu", { log: null });
  const draws = 20000, t = 100;
  const x0v = 0.7;
  const r = new Rng(3);
  const xt = qSample(
    schedule,
    tf.fill([draws, 1, 1, 1], x0v) as tf.Tensor4D,
    new Array(draws).fill(t),
    tf.tensor4d(r.normalArray(draws), [draws, 1, 1, 1]),
  );
  const v = await xt.data();
  xt.dispose();
  let mean = 0;
  for (const x of v) mean += x / draws;
  let variance = 0;
  for (const x of v) variance += (x - mean) ** 2 / (draws - 1);
  const ab = schedule.alphasCumprod[t];
  // standard errors: sqrt(var/n) for the mean, var*sqrt(2/n) for the variance; allow 4 of them
  assert.ok(Math.abs(mean - Math.sqrt(ab) * x0v) < 4 * Math.sqrt((1 - ab) / draws), `mean ${mean}`);
  assert.ok(Math.abs(variance - (1 - ab)) < 4 * (1 - ab) * Math.sqrt(2 / draws), `variance ${variance}`);
});

Deno.test("qSample rejects a bad timestep or shape with a RangeError", async () => {
  await initBackend("cpu", { log: null });
  const x = tf.zeros([2, 2, 2, 3]) as tf.Tensor4D;
  assert.throws(() => qSample(schedule, x, [0, 500], x), { name: "RangeError", message: /got 500/ });
  assert.throws(() => qSample(schedule, x, [0], x), {
    name: "RangeError",
    message: /one timestep per example/,
  });
  x.dispose();
});
