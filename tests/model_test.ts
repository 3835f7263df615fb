import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../src/backend/select.ts";
import { DiffusionModel, modelConfig } from "../src/model/model.ts";
import { timestepEmbedding, upsampleNearest2x } from "../src/model/layers.ts";
import { predictsZeroNoise, ZeroNoiseModel } from "../src/model/zero_noise.ts";
import { makeSchedule } from "../src/core/schedule.ts";
import { sampleImages } from "../src/sample/sample.ts";
import { TINY_SEED, TINY_UNET } from "./helpers.ts";

await initBackend("wasm", { log: null });

Deno.test("both presets map [B,32,32,3] to [B,32,32,3] at several batch sizes", async () => {
  for (const config of [modelConfig("unet"), modelConfig("seed")]) {
    const model = new DiffusionModel(config, 1);
    for (const b of [1, 3, 8]) {
      const x = tf.randomNormal([b, 32, 32, 3]) as tf.Tensor4D;
      const y = model.predict(x, Array.from({ length: b }, (_, i) => i * 7));
      assert.deepEqual(y.shape, [b, 32, 32, 3], `${config.preset} batch ${b}`);
      const v = await y.data();
      assert.ok(v.every(Number.isFinite));
      tf.dispose([x, y]);
    }
    model.dispose();
  }
});

Deno.test("the output depends on t (the time embedding is used)", async () => {
  for (const config of [TINY_UNET, TINY_SEED]) {
    const model = new DiffusionModel(config, 2, 8);
    // the unet's output conv starts at zero; give it weights so the output is not identically 0
    for (const [name, v] of model.params) {
      if (name.startsWith("out") || name.endsWith("conv2.w")) v.assign(tf.randomNormal(v.shape, 0, 0.1));
    }
    const x = tf.randomNormal([2, 8, 8, 3]) as tf.Tensor4D;
    const a = await model.predict(x, [10, 10]).data();
    const b = await model.predict(x, [90, 90]).data();
    let diff = 0;
    for (let i = 0; i < a.length; i++) diff = Math.max(diff, Math.abs(a[i] - b[i]));
    assert.ok(diff > 1e-3, `${config.preset}: max change with t is ${diff}`);
    x.dispose();
    model.dispose();
  }
});

Deno.test("parameters are named, enumerable and counted; GFLOP per image as documented", () => {
  const unet = new DiffusionModel(modelConfig("unet"));
  const seed = new DiffusionModel(modelConfig("seed"));
  assert.ok(unet.params.has("in.w") && unet.params.has("mid.attn.qkv.w") && unet.params.has("out.w"));
  assert.ok(seed.params.has("enc1.conv.w") && seed.state.has("enc1.bn.running_mean"));
  let n = 0;
  for (const v of unet.params.values()) n += v.size;
  assert.equal(unet.parameterCount, n);
  // the seed preset's convs alone: 2·(32²·27·64 + 16²·576·128 + 8²·1152·256 + 16²·2304·128 + 32²·1152·64
  //   + 8²·256·128·4 + 16²·128·64·4 (2×2 transposed convs, per input pixel) + 32²·67·3) multiply-adds
  const convs = 2 *
    (1024 * 27 * 64 + 256 * 576 * 128 + 64 * 1152 * 256 + 256 * 2304 * 128 + 1024 * 1152 * 64 +
      64 * 256 * 128 * 4 +
      256 * 128 * 64 * 4 + 1024 * 67 * 3);
  const flops = seed.flopsPerImage();
  assert.ok(flops >= convs && flops < convs * 1.01, `seed flops ${flops} vs convs ${convs}`);
  assert.ok(unet.flopsPerImage() <= 2 * flops, "the default unet costs at most 2× the seed preset");
  unet.dispose();
  seed.dispose();
});

Deno.test("nearest ×2 up-sampling and its gradient match the definition", async () => {
  const x = tf.tensor4d(Float32Array.from({ length: 2 * 2 * 3 * 2 }, (_, i) => i), [2, 2, 3, 2]);
  const y = await upsampleNearest2x(x).data();
  for (let b = 0; b < 2; b++) {
    for (let i = 0; i < 4; i++) {
      for (let j = 0; j < 6; j++) {
        for (let c = 0; c < 2; c++) {
          const want = ((b * 2 + (i >> 1)) * 3 + (j >> 1)) * 2 + c;
          assert.equal(y[((b * 4 + i) * 6 + j) * 2 + c], want);
        }
      }
    }
  }
  const g = await tf.grad((a: tf.Tensor) => tf.sum(tf.mul(upsampleNearest2x(a as tf.Tensor4D), 1.5)))(x)
    .data();
  assert.ok(g.every((v) => v === 6), "each input feeds 4 outputs");
  x.dispose();
});

Deno.test("timestep embedding: sin/cos halves and bad widths", () => {
  const e = timestepEmbedding([0, 3], 4);
  assert.deepEqual([...e.slice(0, 4)], [0, 0, 1, 1]);
  assert.ok(Math.abs(e[4] - Math.sin(3)) < 1e-6 && Math.abs(e[6] - Math.cos(3)) < 1e-6);
  assert.throws(() => timestepEmbedding([0], 3), RangeError);
});

Deno.test("invalid model configs are RangeErrors naming the field", () => {
  assert.throws(() => modelConfig("unet", { channels: 30, groups: 8 }), {
    name: "RangeError",
    message: /divisible by groups/,
  });
  assert.throws(() => modelConfig("unet", { blocks: 0 }), { name: "RangeError", message: /blocks/ });
  // @ts-expect-error: unknown preset on purpose
  assert.throws(() => modelConfig("resnet"), { name: "RangeError", message: /resnet/ });
});

Deno.test("fused GroupNorm+SiLU: values and gradients equal plain autodiff (cpu and wasm)", async () => {
  const { ForwardContext } = await import("../src/model/context.ts");
  const { groupNorm, groupNormReference } = await import("../src/model/layers.ts");
  for (const backend of ["cpu", "wasm"] as const) {
    await initBackend(backend, { log: null });
    for (
      const [shape, groups, activate] of [[[2, 4, 4, 8], 4, true], [[3, 2, 5, 6], 2, false], [
        [1, 8, 8, 16],
        8,
        true,
      ]] as const
    ) {
      const c = shape[3];
      const params = new Map([
        ["n.g", tf.variable(tf.randomNormal([c], 1, 0.3))],
        ["n.b", tf.variable(tf.randomNormal([c], 0, 0.3))],
      ]);
      const ctx = new ForwardContext(params, new Map(), true);
      const x = tf.randomNormal([...shape], 0.5, 2) as tf.Tensor4D;
      const w = tf.randomNormal([...shape]);
      const run = (f: typeof groupNorm) => {
        const loss = (xx: tf.Tensor) =>
          tf.sum(tf.mul(f(ctx, "n", xx as tf.Tensor4D, groups, activate), w)) as tf.Scalar;
        const { value, grads } = tf.variableGrads(() => loss(x), [...params.values()]);
        const dx = tf.grad(loss)(x);
        return { value, grads: [...params.values()].map((v) => grads[v.name]), dx };
      };
      const a = run(groupNorm), b = run(groupNormReference);
      const pairs: [tf.Tensor, tf.Tensor, string][] = [[a.value, b.value, "value"], [a.dx, b.dx, "dx"], [
        a.grads[0],
        b.grads[0],
        "dgamma",
      ], [
        a.grads[1],
        b.grads[1],
        "dbeta",
      ]];
      for (const [p, q, what] of pairs) {
        const pv = await p.data(), qv = await q.data();
        let err = 0, scale = 1e-6;
        for (let i = 0; i < pv.length; i++) {
          err = Math.max(err, Math.abs(pv[i] - qv[i]));
          scale = Math.max(scale, Math.abs(qv[i]));
        }
        assert.ok(err <= 1e-4 * scale, `${backend} ${shape} ${what}: error ${err} vs scale ${scale}`);
      }
    }
  }
  await initBackend("wasm", { log: null });
});

Deno.test("a fresh unet predicts ε ≡ 0, so ZeroNoiseModel samples exactly what it samples", async () => {
  const fresh = new DiffusionModel(TINY_UNET, 4);
  assert.ok(await predictsZeroNoise(fresh));
  const schedule = makeSchedule("linear", 20);
  const opts = { n: 3, sampler: "ddpm" as const, seed: 9 };
  const a = await sampleImages(fresh, schedule, opts);
  const zero = new ZeroNoiseModel(TINY_UNET, 4);
  const b = await sampleImages(zero, schedule, opts);
  assert.deepEqual(b.images, a.images);
  // a single non-zero output weight makes it a real network again
  const w = fresh.params.get("out.w")!;
  tf.tidy(() => w.assign(tf.add(w, tf.oneHot([0], w.size).reshape(w.shape).cast("float32"))));
  assert.equal(await predictsZeroNoise(fresh), false);
  const seed = new DiffusionModel(TINY_SEED);
  assert.equal(await predictsZeroNoise(seed), false, "the seed preset has no zero conv");
  for (const m of [fresh, zero, seed]) m.dispose();
});

Deno.test("training BatchNorm (GroupNorm over the batch as one image): values and gradients equal autodiff through tf.moments", async () => {
  const { ForwardContext } = await import("../src/model/context.ts");
  const { batchNorm } = await import("../src/model/layers.ts");
  for (const backend of ["cpu", "wasm"] as const) {
    await initBackend(backend, { log: null });
    const shape = [3, 4, 5, 6] as const, c = shape[3];
    const g = tf.variable(tf.randomNormal([c], 1, 0.3)), b = tf.variable(tf.randomNormal([c], 0, 0.3));
    const state = new Map([
      ["n.running_mean", tf.variable(tf.zeros([c]))],
      ["n.running_var", tf.variable(tf.ones([c]))],
    ]);
    const x = tf.randomNormal([...shape], 0.5, 2) as tf.Tensor4D;
    const w = tf.randomNormal([...shape]);
    const fused = (xx: tf.Tensor) => {
      const ctx = new ForwardContext(new Map([["n.g", g], ["n.b", b]]), state, true);
      return tf.sum(tf.mul(batchNorm(ctx, "n", xx as tf.Tensor4D), w)) as tf.Scalar;
    };
    const reference = (xx: tf.Tensor) => {
      const { mean, variance } = tf.moments(xx, [0, 1, 2]);
      const y = tf.add(tf.mul(tf.mul(tf.sub(xx, mean), tf.rsqrt(tf.add(variance, 1e-5))), g), b);
      return tf.sum(tf.mul(y, w)) as tf.Scalar;
    };
    for (
      const [what, p, q] of [
        ["value", fused(x), reference(x)],
        ["dx", tf.grad(fused)(x), tf.grad(reference)(x)],
        [
          "dgamma",
          tf.variableGrads(() => fused(x), [g]).grads[g.name],
          tf.variableGrads(() => reference(x), [g]).grads[g.name],
        ],
        [
          "dbeta",
          tf.variableGrads(() => fused(x), [b]).grads[b.name],
          tf.variableGrads(() => reference(x), [b]).grads[b.name],
        ],
      ] as const
    ) {
      const pv = await p.data(), qv = await q.data();
      let err = 0, scale = 1e-6;
      for (let i = 0; i < pv.length; i++) {
        err = Math.max(err, Math.abs(pv[i] - qv[i]));
        scale = Math.max(scale, Math.abs(qv[i]));
      }
      assert.ok(err <= 1e-4 * scale, `${backend} ${what}: error ${err} vs scale ${scale}`);
    }
  }
});
