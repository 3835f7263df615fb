import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../src/backend/select.ts";
import { makeSchedule, scheduleFromBetas } from "../src/core/schedule.ts";
import { ddimStepTensor, ddimTimesteps, ddpmStepTensor, predictX0 } from "../src/sample/steps.ts";
import { sampleImages } from "../src/sample/sample.ts";
import { DiffusionModel } from "../src/model/model.ts";
import { gridShape, sampleGrid, writeSampleFiles } from "../src/sample/output.ts";
import { decodeImage } from "../src/image/codec.ts";
import { Rng } from "../src/core/rng.ts";
import { ownLines, runTask, TINY_UNET } from "./helpers.ts";
import { OracleModel } from "./cases/oracle.ts";

await initBackend("wasm", { log: null });
const close = (a: number, b: number, tol: number, what: string) =>
  assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b}`);
const one = (v: number) => tf.tensor4d([v], [1, 1, 1, 1]);
const val = async (t: tf.Tensor) => (await t.data())[0];

// betas 0.1, 0.2, 0.3 → alphas .9 .8 .7, ᾱ .9 .72 .504
const s3 = scheduleFromBetas("linear", Float64Array.of(0.1, 0.2, 0.3));

Deno.test("DDPM step against hand-computed numbers (ε ≡ 0 and ε known, with and without clipping)", async () => {
  // ε = 0.5, x_t = 0.4 at t = 2, z = 1, no clipping: mean = (0.4 − 0.3/√0.496·0.5)/√0.7
  const mean = (0.4 - 0.3 / Math.sqrt(1 - 0.504) * 0.5) / Math.sqrt(0.7);
  const sigma = Math.sqrt((1 - 0.72) / (1 - 0.504) * 0.3);
  close(
    await val(ddpmStepTensor(s3, one(0.4), one(0.5), 2, one(1), false)),
    mean + sigma,
    1e-6,
    "ddpm no clip",
  );
  // with clipping: x0 = (0.4 − √0.496·0.5)/√0.504 = 0.0688… (inside [−1,1]) → the same mean
  close(
    await val(ddpmStepTensor(s3, one(0.4), one(0.5), 2, one(1), true)),
    mean + sigma,
    1e-6,
    "ddpm clip, x0 inside",
  );
  // ε ≡ 0 and a large x_t: x0 = 3/√0.504 is clipped to 1: mean = coefX0·1 + coefXt·3
  const clipped = s3.posteriorMeanCoefX0[2] * 1 + s3.posteriorMeanCoefXt[2] * 3;
  close(await val(ddpmStepTensor(s3, one(3), one(0), 2, null, true)), clipped, 1e-6, "ddpm clip active");
  // t = 0 returns the (clipped) x0 and ignores z
  close(
    await val(ddpmStepTensor(s3, one(0.5), one(0.1), 0, one(5), true)),
    (0.5 - Math.sqrt(0.1) * 0.1) / Math.sqrt(0.9),
    1e-6,
    "t=0",
  );
});

Deno.test("DDIM step against hand-computed numbers; η = 0 is deterministic", async () => {
  // t = 2 → tPrev = 0, ε = 0.5, x = 0.4: x0 = (0.4 − √0.496·0.5)/√0.504; out = √0.9·x0 + √0.1·ε
  const x0 = (0.4 - Math.sqrt(0.496) * 0.5) / Math.sqrt(0.504);
  close(
    await val(ddimStepTensor(s3, one(0.4), one(0.5), 2, 0, 0, one(9), false)),
    Math.sqrt(0.9) * x0 + Math.sqrt(0.1) * 0.5,
    1e-6,
    "ddim η=0",
  );
  // η = 1: σ² = (1−0.9)/(1−0.504)·(1 − 0.504/0.9), direction √(1−0.9−σ²)
  const sig2 = (1 - 0.9) / (1 - 0.504) * (1 - 0.504 / 0.9);
  const want = Math.sqrt(0.9) * x0 + Math.sqrt(0.1 - sig2) * 0.5 + Math.sqrt(sig2) * 1;
  close(await val(ddimStepTensor(s3, one(0.4), one(0.5), 2, 0, 1, one(1), false)), want, 1e-6, "ddim η=1");
  // to the clean image (tPrev = −1): returns x0
  close(await val(ddimStepTensor(s3, one(0.4), one(0.5), 2, -1, 0, null, false)), x0, 1e-6, "ddim to x0");
  close(await val(predictX0(s3, one(10), one(0), 1, true)), 1, 0, "x0 clipped");
  assert.deepEqual(ddimTimesteps(10, 10), [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
  assert.deepEqual(ddimTimesteps(500, 50).slice(0, 3), [490, 480, 470]);
  assert.throws(() => ddimTimesteps(500, 501), { name: "RangeError", message: /\[1, 500\].*501/ });
});

Deno.test("η = 1 with S = T: DDIM's step variance equals DDPM's posterior variance", () => {
  const s = makeSchedule("linear", 500);
  for (const t of [1, 10, 250, 499]) {
    const ab = s.alphasCumprod[t], abPrev = s.alphasCumprod[t - 1];
    const sigma2 = (1 - abPrev) / (1 - ab) * (1 - ab / abPrev);
    close(sigma2, s.posteriorVariance[t], 1e-12, `t=${t}`);
  }
});

Deno.test("with an oracle ε-model, DDIM η = 0 recovers x0 to 1e-3", async () => {
  const rng = new Rng(4);
  const x0v = Float32Array.from({ length: 2 * 8 * 8 * 3 }, () => rng.uniform() * 1.8 - 0.9);
  const model = new OracleModel(tf.tensor4d(x0v, [2, 8, 8, 3]));
  for (const steps of [10, 100]) {
    const out = await sampleImages(model, model.schedule, { n: 2, sampler: "ddim", steps, seed: 7 });
    let err = 0;
    for (let i = 0; i < x0v.length; i++) err = Math.max(err, Math.abs(out.images[i] - x0v[i]));
    assert.ok(err < 1e-3, `S=${steps}: max error ${err}`);
  }
  // DDPM with the oracle also ends at x0 (its last step returns the predicted x0)
  const ddpm = await sampleImages(model, model.schedule, { n: 2, sampler: "ddpm", seed: 7 });
  let err = 0;
  for (let i = 0; i < x0v.length; i++) err = Math.max(err, Math.abs(ddpm.images[i] - x0v[i]));
  assert.ok(err < 1e-3, `ddpm max error ${err}`);
});

Deno.test("DDIM η = 1, S = T matches DDPM's statistics", async () => {
  // ε ≡ 0 (a fresh unet has a zero output conv): both chains have the same per-step Gaussians
  const model = new DiffusionModel(TINY_UNET, 0, 8);
  const s = makeSchedule("linear", 100);
  const stats = async (o: object) => {
    const r = await sampleImages(model, s, { n: 16, batch: 16, clip: false, seed: 11, ...o });
    let m = 0, v = 0;
    for (const x of r.images) m += x / r.images.length;
    for (const x of r.images) v += (x - m) ** 2 / r.images.length;
    return { m, v, images: r.images };
  };
  const a = await stats({ sampler: "ddpm" });
  const b = await stats({ sampler: "ddim", steps: 100, eta: 1 });
  close(a.m, b.m, 0.05, "mean");
  close(a.v, b.v, 0.1 * a.v, "variance");
  model.dispose();
});

Deno.test("same seed → same images; different seed → different", async () => {
  const model = new DiffusionModel(TINY_UNET, 1, 8);
  for (const [, v] of model.params) v.assign(tf.randomNormal(v.shape, 0, 0.05, "float32", 3));
  const s = makeSchedule("cosine", 50);
  const a = await sampleImages(model, s, { n: 3, batch: 2, steps: 5, seed: 1, eta: 0.5 });
  const b = await sampleImages(model, s, { n: 3, batch: 2, steps: 5, seed: 1, eta: 0.5 });
  const c = await sampleImages(model, s, { n: 3, batch: 2, steps: 5, seed: 2, eta: 0.5 });
  assert.deepEqual(a.images, b.images);
  assert.notDeepEqual(a.images, c.images);
  assert.ok(a.images.every((x) => x >= -1 && x <= 1));
  model.dispose();
});

Deno.test("grid and GIF dimensions and frame counts", async () => {
  assert.deepEqual(gridShape(64), { rows: 8, cols: 8 });
  assert.deepEqual(gridShape(10), { rows: 3, cols: 4 });
  const g = sampleGrid(new Float32Array(4 * 8 * 8 * 3), 4, 8, 3);
  assert.equal(g.width, 2 * 8 * 3 + 1);
  assert.equal(g.height, 2 * 8 * 3 + 1);
  const model = new DiffusionModel(TINY_UNET, 1, 8);
  const r = await sampleImages(model, makeSchedule("linear", 20), {
    n: 4,
    steps: 10,
    seed: 1,
    frameEvery: 3,
  });
  assert.equal(r.frames.length, 1 + Math.ceil(10 / 3)); // x_T, after steps 3, 6, 9, and the last
  const dir = await Deno.makeTempDir();
  const files = await writeSampleFiles(r, { out: dir, scale: 2, each: true, gif: true });
  assert.equal(files.length, 1 + 4 + 1);
  const grid = await decodeImage(await Deno.readFile(`${dir}/grid.png`));
  assert.equal(grid.width, 2 * 8 * 2 + 1);
  const gif = await Deno.readFile(`${dir}/reverse.gif`);
  assert.equal(new TextDecoder().decode(gif.subarray(0, 6)), "GIF89a");
  const { GIF } = await import("imagescript");
  const decoded = await GIF.decode(gif);
  assert.equal(decoded.length, r.frames.length);
  assert.equal(decoded.width, 2 * 8 * 2 + 1);
  model.dispose();
});

Deno.test("bad sample flags each give a one-line error and exit 2", async () => {
  const dir = await Deno.makeTempDir();
  const model = new DiffusionModel(TINY_UNET, 0, 8);
  const { Trainer } = await import("../src/train/trainer.ts");
  const { fixtureDataset, tinyTrainConfig } = await import("./helpers.ts");
  const trainer = new Trainer(tinyTrainConfig(TINY_UNET, { T: 20 }), fixtureDataset(2, 8));
  const { saveCheckpoint } = await import("../src/checkpoint/format.ts");
  const ckpt = `${dir}/c.safetensors`;
  await saveCheckpoint(ckpt, await trainer.toCheckpoint(null));
  trainer.dispose();
  model.dispose();
  const cases: [string[], RegExp][] = [
    [["--checkpoint", ckpt, "--steps", "21"], /--steps 21 exceeds the checkpoint's T = 20/],
    [["--checkpoint", ckpt, "--n", "0"], /--n must be an integer in \[1, 100000\], got "0"/],
    [["--checkpoint", ckpt, "--sampler", "euler"], /--sampler "euler" is unknown: choose one of ddpm, ddim/],
    [["--checkpoint", `${dir}/missing.safetensors`], /does not exist; train one/],
    [["--checkpoint", ckpt, "--bogus"], /bogus/],
  ];
  for (const [args, re] of cases) {
    const { code, stderr } = await runTask("sample.ts", args);
    assert.equal(code, 2, `${args.join(" ")} → exit ${code}: ${stderr}`);
    const lines = ownLines(stderr);
    assert.equal(lines.length, 1, `one line for ${args.join(" ")}: ${stderr}`);
    assert.match(lines[0], re);
  }
});

Deno.test("tensor DDPM/DDIM steps equal the plain-JS steps on random inputs (wasm)", async () => {
  const { ddimStep, ddpmStep } = await import("../src/sample/steps_plain.ts");
  const s = makeSchedule("cosine", 200);
  const rng = new Rng(21);
  const n = 2 * 4 * 4 * 3;
  const arr = () => rng.normalArray(n).map((v) => v * 1.5);
  const T = (a: Float32Array) => tf.tensor4d(a, [2, 4, 4, 3]);
  for (const t of [0, 1, 57, 199]) {
    for (const clip of [true, false]) {
      const xt = arr(), eps = arr(), z = arr();
      const cases: [Float32Array, tf.Tensor][] = [
        [ddpmStep(s, xt, eps, t, z, clip), ddpmStepTensor(s, T(xt), T(eps), t, T(z), clip)],
        ...(t > 0
          ? [[
            ddimStep(s, xt, eps, t, t - 1, 0.7, z, clip),
            ddimStepTensor(s, T(xt), T(eps), t, t - 1, 0.7, T(z), clip),
          ]] as [
            Float32Array,
            tf.Tensor,
          ][]
          : []),
        [ddimStep(s, xt, eps, t, -1, 0, null, clip), ddimStepTensor(s, T(xt), T(eps), t, -1, 0, null, clip)],
      ];
      for (const [want, got] of cases) {
        const g = await got.data();
        for (let i = 0; i < n; i++) {
          close(g[i], want[i], 1e-4 * Math.max(1, Math.abs(want[i])), `t=${t} clip=${clip} i=${i}`);
        }
      }
    }
  }
});
