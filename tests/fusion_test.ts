import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../src/backend/select.ts";
import { DiffusionModel, modelConfig } from "../src/model/model.ts";
import { ForwardContext } from "../src/model/context.ts";
import { setInferenceFusion } from "../src/model/fusion.ts";
import { attention, conv, groupNorm, groupNormReference, upsampleNearest2x } from "../src/model/layers.ts";
import { Rng } from "../src/core/rng.ts";
import { TINY_SEED, TINY_UNET } from "./helpers.ts";

await initBackend("wasm", { log: null });

/** Runs `f` with the inference fast paths on and off; returns the largest difference. */
async function fusedVsPlain(f: () => tf.Tensor): Promise<number> {
  const before = setInferenceFusion(true);
  try {
    const fast = tf.tidy(f);
    setInferenceFusion(false);
    const plain = tf.tidy(f);
    assert.deepEqual(fast.shape, plain.shape);
    const [a, b] = [await fast.data(), await plain.data()];
    tf.dispose([fast, plain]);
    let err = 0;
    for (let i = 0; i < a.length; i++) err = Math.max(err, Math.abs(a[i] - b[i]));
    return err;
  } finally {
    setInferenceFusion(before);
  }
}

const rng = new Rng(13);
const randn = (shape: number[], scale = 1) =>
  tf.tensor(rng.normalArray(shape.reduce((a, b) => a * b, 1)).map((v) => v * scale), shape);

function params(entries: [string, number[], number][]): Map<string, tf.Variable> {
  return new Map(entries.map(([name, shape, scale]) => [name, tf.variable(randn(shape, scale), false)]));
}

Deno.test("fused wasm GroupNorm (+ shift, + SiLU) equals the op-by-op norm to 1e-4", async () => {
  const ctx = new ForwardContext(params([["n.g", [16], 1], ["n.b", [16], 1]]), new Map(), false);
  // an offset mean, so the one-pass variance would show cancellation
  const x = tf.add(randn([3, 5, 4, 16], 2), 3) as tf.Tensor4D;
  const shift = randn([3, 16]) as tf.Tensor2D;
  for (const activate of [false, true]) {
    for (const s of [undefined, shift]) {
      const err = await fusedVsPlain(() => groupNorm(ctx, "n", x, 4, activate, s));
      assert.ok(err <= 1e-4, `activate=${activate} shift=${!!s}: ${err}`);
    }
  }
  // and the op-by-op path with a shift is the plain-autodiff reference of x + shift
  const ref = groupNormReference(
    ctx,
    "n",
    tf.add(x, tf.reshape(shift, [3, 1, 1, 16])) as tf.Tensor4D,
    4,
    true,
  );
  setInferenceFusion(false);
  const plain = groupNorm(ctx, "n", x, 4, true, shift);
  setInferenceFusion(true);
  const [a, b] = [await ref.data(), await plain.data()];
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) <= 1e-4, `reference i=${i}`);
});

Deno.test("conv with the bias fused into it equals conv + bias to 1e-4 (stride 1 and 2)", async () => {
  const ctx = new ForwardContext(params([["c.w", [3, 3, 6, 8], 0.3], ["c.b", [8], 1]]), new Map(), false);
  const x = randn([2, 8, 8, 6]) as tf.Tensor4D;
  for (const stride of [1, 2]) {
    const err = await fusedVsPlain(() => conv(ctx, "c", x, stride));
    assert.ok(err <= 1e-4, `stride ${stride}: ${err}`);
  }
});

Deno.test("nearest ×2 up-sampling as one resize equals the concatenation form exactly", async () => {
  const x = randn([2, 3, 5, 4]) as tf.Tensor4D;
  assert.equal(await fusedVsPlain(() => upsampleNearest2x(x, false)), 0);
});

Deno.test("whole inference forward passes, fast paths vs op-by-op, agree to 1e-4 (unet, seed, default unet)", async () => {
  for (const [config, size] of [[TINY_UNET, 8], [TINY_SEED, 8], [modelConfig("unet"), 32]] as const) {
    const model = new DiffusionModel(config, 2, size);
    // non-zero output convs and biases, so every path carries signal
    for (const v of model.params.values()) v.assign(tf.add(v, randn(v.shape, 0.05)));
    // BatchNorm running statistics away from (0, 1), so folding them into the convs is exercised
    for (const [name, v] of model.state) {
      v.assign(name.endsWith("running_var") ? tf.add(1, tf.abs(randn(v.shape, 0.5))) : randn(v.shape, 0.3));
    }
    const x = randn([2, size, size, 3]) as tf.Tensor4D;
    const err = await fusedVsPlain(() => model.predict(x, [3, 400]));
    assert.ok(err <= 1e-4, `${config.preset}: ${err}`);
    model.dispose();
  }
});

Deno.test("fused wasm attention equals the op-by-op attention to 1e-4", async () => {
  const c = 8;
  const ctx = new ForwardContext(
    params([
      ["a.norm.g", [c], 1],
      ["a.norm.b", [c], 1],
      ["a.qkv.w", [c, 3 * c], 0.8],
      ["a.qkv.b", [3 * c], 0.5],
      ["a.proj.w", [c, c], 0.5],
      ["a.proj.b", [c], 0.5],
    ]),
    new Map(),
    false,
  );
  const x = randn([3, 4, 4, c]) as tf.Tensor4D;
  const err = await fusedVsPlain(() => attention(ctx, "a", x, 4));
  assert.ok(err <= 1e-4, `${err}`);
});
