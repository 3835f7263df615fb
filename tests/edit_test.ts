import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../src/backend/select.ts";
import { DiffusionModel } from "../src/model/model.ts";
import { Rng } from "../src/core/rng.ts";
import { type DiffusionSchedule, makeSchedule } from "../src/core/schedule.ts";
import { ddimInvert, type Denoiser, editImages, morphImages, reverseFrom } from "../src/sample/edit.ts";
import { sampleImages, type SamplerName } from "../src/sample/sample.ts";
import { slerp } from "../src/sample/slerp.ts";
import { ddimTimesteps } from "../src/sample/steps.ts";
import { TINY_UNET } from "./helpers.ts";

await initBackend("wasm", { log: null });

const SIZE = 8, PER = SIZE * SIZE * 3;
const s20 = makeSchedule("linear", 20);
/** The sampler settings every sampler test runs: each sampler, DDIM with and without noise. */
const SAMPLERS: { sampler: SamplerName; eta?: number }[] = [
  { sampler: "ddpm" },
  { sampler: "ddim", eta: 0 },
  { sampler: "ddim", eta: 1 },
  { sampler: "dpm++2m" },
];

function tinyModel(): DiffusionModel {
  return new DiffusionModel(TINY_UNET, 7, SIZE);
}

/** `n` smooth-ish images in [−1, 1]. */
function images(n: number, seed: number, size = SIZE): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from(rng.normalArray(n * size * size * 3), (v) => Math.max(-1, Math.min(1, 0.5 * v)));
}

/** The exact ε-model of data N(mu, sd²·I): E[ε | x_t] = √(1 − ᾱ)·(x_t − √ᾱ·mu)/(ᾱ·sd² + 1 − ᾱ). */
function gaussianOracle(s: DiffusionSchedule, mu: number, sd: number, size: number): Denoiser {
  return {
    imageSize: size,
    predict: (x, t) =>
      tf.tidy(() => {
        const ab = s.alphasCumprod[t[0]];
        return tf.mul(tf.sub(x, Math.sqrt(ab) * mu), Math.sqrt(1 - ab) / (ab * sd * sd + 1 - ab));
      }),
  };
}

const rms = (a: Float32Array, b: Float32Array) =>
  Math.sqrt(a.reduce((s, v, i) => s + (v - b[i]) ** 2, 0) / a.length);

Deno.test("strength below 1/(2T) leaves no step: the input comes back unchanged, with no evaluation", async () => {
  const model = tinyModel();
  const x = images(2, 1);
  const out = await editImages(model, s20, x, { strength: 0.02, n: 3, steps: 4 });
  assert.equal(out.evaluations, 0);
  for (let i = 0; i < 6; i++) {
    assert.deepEqual(
      out.images.subarray(i * PER, (i + 1) * PER),
      x.subarray(Math.floor(i / 3) * PER, (Math.floor(i / 3) + 1) * PER),
    );
  }
  model.dispose();
});

Deno.test("strength → 0 returns the input: with the exact ε-model the error shrinks to σ at index 0 (≈1 byte)", async () => {
  // Gaussian data N(0, 0.5²); T = 500 as shipped; the input is one draw of the data
  const s = makeSchedule("linear", 500);
  const oracle = gaussianOracle(s, 0, 0.5, 4);
  const x = Float32Array.from(new Rng(3).normalArray(4 * 4 * 3), (v) => Math.max(-1, Math.min(1, 0.5 * v)));
  const errs: number[] = [];
  for (const strength of [0.6, 0.2, 0.05, 1 / 500]) {
    const out = await editImages(oracle, s, x, { strength, n: 8, steps: 50, seed: 4, clip: false });
    const want = new Float32Array(8 * x.length).map((_, k) => x[k % x.length]);
    errs.push(rms(out.images, want));
  }
  for (let i = 1; i < errs.length; i++) {
    assert.ok(errs[i] < errs[i - 1], `errors fall with strength: ${errs}`);
  }
  // one step from index 0: x̂0 − x0 = σ0/α0·(ε − ε̂) with σ0 = √β0 = 0.01 (1.3/255 of the range): what
  // is left is the noise of that one step, about one byte
  assert.ok(errs[3] < 1.25 * s.sqrtOneMinusAlphasCumprod[0], `RMS error at strength 1/T: ${errs[3]}`);
});

Deno.test("strength 1 on the data mean is ordinary sampling with the data-mean start, for every sampler", async () => {
  const model = tinyModel();
  const mean = images(1, 9);
  for (const o of SAMPLERS) {
    const opts = { ...o, steps: 5, seed: 11, batch: 2 };
    const ref = await sampleImages(model, s20, { ...opts, n: 3, dataMean: mean });
    const out = await editImages(model, s20, mean, { ...opts, strength: 1, n: 3 });
    assert.deepEqual(out.images, ref.images, `${o.sampler} eta ${o.eta}`);
  }
  model.dispose();
});

Deno.test("inpainting keeps every unmasked pixel exactly equal to the input, with every sampler", async () => {
  const model = tinyModel();
  const x = images(2, 5);
  const mask = Uint8Array.from({ length: SIZE * SIZE }, (_, i) => (Math.floor(i / SIZE) >= SIZE / 2 ? 1 : 0));
  for (const o of SAMPLERS) {
    for (const resample of [1, 3]) {
      for (const strength of [1, 0.5]) {
        const out = await editImages(model, s20, x, {
          ...o,
          steps: 4,
          seed: 2,
          n: 2,
          mask,
          resample,
          strength,
        });
        let changed = 0;
        for (let img = 0; img < 4; img++) {
          const input = x.subarray(Math.floor(img / 2) * PER);
          for (let p = 0; p < SIZE * SIZE; p++) {
            for (let c = 0; c < 3; c++) {
              const got = out.images[img * PER + 3 * p + c], want = input[3 * p + c];
              if (mask[p]) changed += got !== want ? 1 : 0;
              else {assert.equal(
                  got,
                  want,
                  `${o.sampler} eta ${o.eta} resample ${resample} s ${strength}: pixel ${p}`,
                );}
            }
          }
        }
        assert.ok(changed > 0, "the masked half is redrawn");
      }
    }
  }
  model.dispose();
});

Deno.test("resampling costs k evaluations per step and changes the redrawn region", async () => {
  const model = tinyModel();
  const x = images(1, 6);
  const mask = new Uint8Array(SIZE * SIZE).fill(1, 0, 8);
  const a = await editImages(model, s20, x, { strength: 1, steps: 4, mask, resample: 1 });
  const b = await editImages(model, s20, x, { strength: 1, steps: 4, mask, resample: 3 });
  assert.equal(a.evaluations, 4);
  assert.equal(b.evaluations, 12);
  assert.notDeepEqual(a.images, b.images);
  model.dispose();
});

Deno.test("DDIM inversion then DDIM sampling (η = 0) reconstructs the input (exact ε of Gaussian data)", async () => {
  // data N(0.1, 0.4²·I) in 4×4×3; the input is a draw of it; T = 500, the shipped schedule
  const s = makeSchedule("linear", 500);
  const oracle = gaussianOracle(s, 0.1, 0.4, 4);
  const x = Float32Array.from(new Rng(8).normalArray(48), (v) => Math.max(-1, Math.min(1, 0.1 + 0.4 * v)));
  const errors: Record<string, number> = {};
  for (const [steps, iterations] of [[10, 0], [50, 0], [100, 0], [50, 2]]) {
    const ts = ddimTimesteps(500, steps);
    const xT = await ddimInvert(oracle, s, x, ts, { iterations });
    const back = await reverseFrom(oracle, s, {
      n: 1,
      sampler: "ddim",
      eta: 0,
      clip: false,
      timesteps: ts,
      start: () => xT.slice(),
    });
    errors[`S${steps}k${iterations}`] = rms(back, x);
    if (steps === 50) assert.ok(rms(xT, x) > 0.5, "x_T is far from the input");
  }
  // plain inversion is first order in the step: the error halves as the steps double
  assert.ok(errors.S100k0 < 0.6 * errors.S50k0 && errors.S50k0 < 0.6 * errors.S10k0, JSON.stringify(errors));
  assert.ok(errors.S50k0 < 0.05, JSON.stringify(errors));
  // the fixed-point refinement makes each inverse step exact: far below plain inversion
  assert.ok(errors.S50k2 < 0.1 * errors.S50k0, JSON.stringify(errors));
  console.log(`DDIM inversion + sampling RMS error (Gaussian oracle): ${JSON.stringify(errors)}`);
});

Deno.test("slerp keeps the norm of equal-norm noise; the straight line does not", () => {
  const D = 32 * 32 * 3;
  const a = new Rng(1).normalArray(D), b0 = new Rng(2).normalArray(D);
  const norm = (v: Float32Array) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));
  const b = b0.map((v) => v * norm(a) / norm(b0));
  for (const w of [0.1, 0.25, 0.5, 0.9]) {
    const m = slerp(a, b, w);
    assert.ok(Math.abs(norm(m) / norm(a) - 1) < 1e-5, `w ${w}: ${norm(m)} vs ${norm(a)}`);
  }
  const lerp = a.map((v, i) => (v + b[i]) / 2);
  assert.ok(Math.abs(norm(lerp) / norm(a) - Math.SQRT1_2) < 0.03, `the straight midpoint shrinks to ≈1/√2`);
  assert.deepEqual(slerp(a, b, 0), a);
  assert.deepEqual(slerp(a, b, 1), b);
});

Deno.test("a morph's end frames are the two seeds' own samples (ddim and dpm++2m, N(0, I) and data-mean start)", async () => {
  const model = tinyModel();
  for (
    const [sampler, dataMean] of [["ddim", undefined], ["ddim", images(1, 12)], [
      "dpm++2m",
      images(1, 12),
    ]] as const
  ) {
    const m = await morphImages(model, s20, 3, 8, { frames: 4, sampler, steps: 5, dataMean });
    const a = await sampleImages(model, s20, { n: 1, seed: 3, sampler, steps: 5, dataMean });
    const b = await sampleImages(model, s20, { n: 1, seed: 8, sampler, steps: 5, dataMean });
    const maxDiff = (u: Float32Array, v: Float32Array) =>
      u.reduce((s, x, i) => Math.max(s, Math.abs(x - v[i])), 0);
    assert.ok(maxDiff(m.images.subarray(0, PER), a.images) < 1e-5, `${sampler} first frame`);
    assert.ok(maxDiff(m.images.subarray(3 * PER), b.images) < 1e-5, `${sampler} last frame`);
    assert.ok(maxDiff(m.images.subarray(PER, 2 * PER), a.images) > 1e-3, `${sampler} frames between differ`);
  }
  model.dispose();
});

Deno.test("a morph from an image starts from its DDIM inversion: its end frame reconstructs it (exact ε)", async () => {
  const s = makeSchedule("linear", 500);
  const oracle = gaussianOracle(s, 0.1, 0.4, 4);
  const x = Float32Array.from(new Rng(8).normalArray(48), (v) => Math.max(-1, Math.min(1, 0.1 + 0.4 * v)));
  for (const dataMean of [undefined, new Float32Array(48).fill(0.1)]) {
    const m = await morphImages(oracle, s, x, 5, {
      frames: 3,
      sampler: "ddim",
      steps: 50,
      clip: false,
      dataMean,
    });
    const err = rms(m.images.subarray(0, 48), x);
    assert.ok(err < 1e-3, `2 fixed-point refinements per step (the default), mean ${!!dataMean}: ${err}`);
  }
});

Deno.test("edits refuse a bad strength, mask, resample count or a non-deterministic morph", async () => {
  const model = tinyModel();
  const x = images(1, 1);
  await assert.rejects(editImages(model, s20, x, { strength: 0, steps: 4 }), /strength must be in \(0, 1\]/);
  await assert.rejects(
    editImages(model, s20, x, { strength: 1.5, steps: 4 }),
    /strength must be in \(0, 1\]/,
  );
  await assert.rejects(
    editImages(model, s20, x, { strength: 1, steps: 4, mask: new Uint8Array(10) }),
    /mask has 10 values/,
  );
  await assert.rejects(
    editImages(model, s20, x, { strength: 1, steps: 4, mask: new Uint8Array(64), resample: 0 }),
    /resample/,
  );
  await assert.rejects(morphImages(model, s20, 1, 2, { sampler: "ddpm" }), /deterministic/);
  model.dispose();
});
