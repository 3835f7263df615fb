import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../src/backend/select.ts";
import { dropoutMask, ForwardContext } from "../src/model/context.ts";
import { Rng } from "../src/core/rng.ts";
import { validateTrainConfig } from "../src/train/trainer.ts";
import { TINY_SEED, tinyTrainConfig } from "./helpers.ts";

await initBackend("wasm", { log: null });

Deno.test("dropoutMask zeroes a `rate` share of units and scales the rest by 1/(1 − rate)", () => {
  const n = 100_000, rate = 0.3;
  const mask = dropoutMask(n, rate, new Rng(7));
  let zeros = 0;
  for (const v of mask) {
    if (v === 0) zeros++;
    else assert.equal(v, Math.fround(1 / (1 - rate)));
  }
  // binomial std of the share is √(0.3·0.7/1e5) ≈ 0.0014: 0.01 is seven of them
  assert.ok(Math.abs(zeros / n - rate) < 0.01, `share of zeros ${zeros / n}`);
  assert.deepEqual(dropoutMask(50, rate, new Rng(7)), mask.slice(0, 50), "same seed, same mask");
  assert.ok(dropoutMask(10, 0, new Rng(1)).every((v) => v === 1));
  for (const bad of [1, -0.1, NaN]) assert.throws(() => dropoutMask(4, bad, new Rng(0)), RangeError);
});

Deno.test("ForwardContext.dropout: identity in inference or at rate 0; x·mask with mask gradients in training", async () => {
  const params = new Map(), state = new Map();
  const x = tf.tensor4d(Array.from({ length: 2 * 3 * 3 * 4 }, (_, i) => i - 30), [2, 3, 3, 4]);
  assert.equal(new ForwardContext(params, state, false, { rate: 0.5, rng: new Rng(0) }).dropout(x), x);
  assert.equal(new ForwardContext(params, state, true, { rate: 0, rng: new Rng(0) }).dropout(x), x);
  assert.equal(new ForwardContext(params, state, true).dropout(x), x);

  const mask = dropoutMask(x.size, 0.5, new Rng(3));
  const ctx = new ForwardContext(params, state, true, { rate: 0.5, rng: new Rng(3) });
  const xs = await x.data();
  const y = ctx.dropout(x);
  assert.deepEqual(y.shape, x.shape);
  const ys = await y.data();
  for (let i = 0; i < x.size; i++) assert.equal(ys[i], xs[i] * mask[i]);
  // d/dx Σ dropout(x) is the mask itself: dropped units get no gradient, kept ones 1/(1 − rate)
  const ctx2 = new ForwardContext(params, state, true, { rate: 0.5, rng: new Rng(3) });
  const g = tf.grad((v: tf.Tensor) => tf.sum(ctx2.dropout(v)))(x);
  assert.deepEqual(await g.data(), mask);
  tf.dispose([x, y, g]);
});

Deno.test("a dropout rate outside [0, 1), or dropout on the seed preset, is refused by name", () => {
  for (const dropout of [1, -0.5, NaN]) {
    assert.throws(
      () => validateTrainConfig(tinyTrainConfig(undefined, { dropout })),
      /dropout must be in \[0, 1\)/,
    );
  }
  validateTrainConfig(tinyTrainConfig(undefined, { dropout: 0.1 }));
  assert.throws(
    () => validateTrainConfig(tinyTrainConfig(TINY_SEED, { dropout: 0.1 })),
    /dropout is built into the unet preset only/,
  );
});
