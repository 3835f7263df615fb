import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../src/backend/select.ts";
import { makeSchedule } from "../src/core/schedule.ts";
import { qSampleTensor } from "../src/core/q_sample.ts";
import { Rng } from "../src/core/rng.ts";
import { testOnBackends } from "./helpers.ts";
import { qSampleMatchesReference } from "./cases/q_sample.ts";

const schedule = makeSchedule("linear", 500);

testOnBackends(
  "qSampleTensor equals the plain-JS reference and never clamps x_t",
  ["cpu", "wasm"],
  (backend) => qSampleMatchesReference(backend, 1e-6),
);

Deno.test("qSampleTensor statistics: mean √ᾱ·x0 and variance 1−ᾱ", async () => {
  await initBackend("cpu", { log: null });
  const draws = 20000, t = 100;
  const x0v = 0.7;
  const r = new Rng(3);
  const xt = qSampleTensor(
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

Deno.test("qSampleTensor rejects a bad timestep or shape with a RangeError", async () => {
  await initBackend("cpu", { log: null });
  const x = tf.zeros([2, 2, 2, 3]) as tf.Tensor4D;
  assert.throws(() => qSampleTensor(schedule, x, [0, 500], x), { name: "RangeError", message: /got 500/ });
  assert.throws(() => qSampleTensor(schedule, x, [0], x), {
    name: "RangeError",
    message: /one timestep per example/,
  });
  x.dispose();
});
