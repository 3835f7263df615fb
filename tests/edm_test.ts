// EDM preconditioning and loss weighting (Karras et al. 2022, Table 1): the coefficients, the ε
// conversion every sampler goes through (predictNoise), an oracle denoiser through the samplers, the
// training loss, and a tiny run.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../src/backend/select.ts";
import type { ForwardContext } from "../src/model/context.ts";
import { DiffusionModel, type ModelConfig, modelConfig } from "../src/model/model.ts";
import {
  cIn,
  cNoise,
  cOut,
  cSkip,
  EDM_P_MEAN,
  EDM_P_STD,
  edmLossWeight,
  SIGMA_DATA,
  sigmaOfAlphaBar,
} from "../src/model/edm.ts";
import { makeSchedule } from "../src/core/schedule.ts";
import { sampleImages } from "../src/sample/sample.ts";
import { denoiserForLabels, predictNoise } from "../src/sample/guidance.ts";
import { editImages } from "../src/sample/edit.ts";
import { Trainer, validateTrainConfig } from "../src/train/trainer.ts";
import { Rng } from "../src/core/rng.ts";
import { parseTrainRecipe } from "../src/train/config_file.ts";
import { fixtureDataset, TINY_SEED, TINY_UNET, tinyTrainConfig } from "./helpers.ts";

await initBackend("wasm", { log: null });

const TINY_EDM: ModelConfig = { ...TINY_UNET, parameterization: "edm" } as ModelConfig;

const close = (a: number, b: number, rel: number, what: string) =>
  assert.ok(Math.abs(a - b) <= rel * Math.max(Math.abs(b), 1e-12), `${what}: ${a} vs ${b}`);

Deno.test("EDM: c_skip, c_out, c_in, c_noise and λ at known σ are the paper's Table 1 values", () => {
  assert.equal(SIGMA_DATA, 0.5);
  assert.equal(EDM_P_MEAN, -1.2);
  assert.equal(EDM_P_STD, 1.2);
  // [σ, c_skip, c_out, c_in, c_noise, λ], worked by hand from Table 1 with σ_data = 0.5
  const table: number[][] = [
    [0.5, 0.5, 0.25 / Math.sqrt(0.5), Math.SQRT2, Math.log(0.5) / 4, 8],
    [1, 0.2, 0.5 / Math.sqrt(1.25), 1 / Math.sqrt(1.25), 0, 5],
    [2, 0.25 / 4.25, 1 / Math.sqrt(4.25), 1 / Math.sqrt(4.25), Math.log(2) / 4, 4.25 / 1],
    [80, 0.25 / 6400.25, 40 / Math.sqrt(6400.25), 1 / Math.sqrt(6400.25), Math.log(80) / 4, 6400.25 / 1600],
    [
      0.002,
      0.25 / 0.250004,
      0.001 / Math.sqrt(0.250004),
      1 / Math.sqrt(0.250004),
      Math.log(0.002) / 4,
      0.250004 / 1e-6,
    ],
  ];
  for (const [s, skip, out, cin, noise, lambda] of table) {
    close(cSkip(s), skip, 1e-12, `c_skip(${s})`);
    close(cOut(s), out, 1e-12, `c_out(${s})`);
    close(cIn(s), cin, 1e-12, `c_in(${s})`);
    close(cNoise(s), noise, 1e-12, `c_noise(${s})`);
    close(edmLossWeight(s), lambda, 1e-9, `λ(${s})`);
    // the weighting makes F's target unit-weighted: λ·c_out² = 1
    close(edmLossWeight(s) * cOut(s) ** 2, 1, 1e-12, `λ·c_out²(${s})`);
  }
  // numbers, not formulas: σ = 1 gives 0.2, 0.4472…, 0.8944…
  close(cOut(1), 0.4472135955, 1e-9, "c_out(1)");
  close(cIn(1), 0.894427191, 1e-9, "c_in(1)");
  // σ of a discrete timestep: x_t/√ᾱ = x0 + σ·ε
  close(sigmaOfAlphaBar(0.2), 2, 1e-12, "σ(ᾱ = 0.2)");
});

/**
 * An oracle F: it knows x0, so D(x; σ) = x0 exactly. It reads σ back from its noise input
 * (c_noise = ln σ/4) and x̃ from its scaled input (c_in·x̃).
 */
class EdmOracle extends DiffusionModel {
  constructor(readonly x0: tf.Tensor4D, config: ModelConfig = TINY_EDM) {
    super(config, 0, 8);
  }
  override forward(_ctx: ForwardContext, x: tf.Tensor4D, t: ArrayLike<number>): tf.Tensor4D {
    const sigma = Array.from(t, (c) => Math.exp(4 * c));
    const col = (f: (s: number) => number) =>
      tf.tensor4d(Float32Array.from(sigma, f), [sigma.length, 1, 1, 1]);
    const b = x.shape[0], reps = b / this.x0.shape[0];
    const x0 = reps > 1 ? tf.concat(new Array(reps).fill(this.x0), 0) : this.x0;
    const xs = tf.div(x, col((s) => cIn(s)));
    return tf.div(tf.sub(x0, tf.mul(xs, col((s) => cSkip(s)))), col((s) => cOut(s))) as tf.Tensor4D;
  }
}

function oracleImages(): Float32Array {
  const rng = new Rng(3);
  return Float32Array.from({ length: 2 * 8 * 8 * 3 }, () => rng.uniform() * 1.6 - 0.8);
}

const maxErr = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let e = 0;
  for (let i = 0; i < b.length; i++) e = Math.max(e, Math.abs(a[i] - b[i]));
  return e;
};

Deno.test("EDM: an oracle denoiser (D = x0) through DDIM, DPM-Solver++ and DDPM returns x0", async () => {
  const x0v = oracleImages();
  const model = new EdmOracle(tf.tensor4d(x0v, [2, 8, 8, 3]));
  const s = makeSchedule("linear", 100);
  for (
    const [o, tol] of [[{ sampler: "ddim", steps: 10 }, 1e-3], [{ sampler: "ddim", steps: 100 }, 1e-3], [{
      sampler: "dpm++2m",
      steps: 10,
    }, 1e-3], [{ sampler: "ddpm" }, 1e-3]] as const
  ) {
    const out = await sampleImages(model, s, { n: 2, seed: 7, ...o });
    const err = maxErr(out.images, x0v);
    assert.ok(err < tol, `${JSON.stringify(o)}: max error ${err}`);
  }
  // the predicted ε is the true noise: x_t = √ᾱ·x0 + √(1−ᾱ)·ε → ε̂ = ε
  const eps = tf.randomNormal([2, 8, 8, 3], 0, 1, "float32", 5);
  const t = 60;
  const xt = tf.add(
    tf.mul(model.x0, s.sqrtAlphasCumprod[t]),
    tf.mul(eps, s.sqrtOneMinusAlphasCumprod[t]),
  ) as tf.Tensor4D;
  const got = predictNoise(model, xt, [t, t], model.params, undefined, s);
  assert.ok(maxErr(await got.data(), await eps.data()) < 1e-4);
  tf.dispose([eps, xt, got, model.x0]);
  model.dispose();
});

Deno.test("EDM: guidance and the edits reach the denoiser through the same ε wrapper", async () => {
  const x0v = oracleImages();
  const config = { ...TINY_EDM, labels: { vendor: ["a", "b"] } } as ModelConfig;
  const model = new EdmOracle(tf.tensor4d(x0v, [2, 8, 8, 3]), config);
  const s = makeSchedule("linear", 100);
  // guided: both halves give the exact ε, so any w returns x0
  const guided = await sampleImages(model, s, {
    n: 2,
    steps: 10,
    seed: 1,
    labels: { vendor: "b" },
    guidance: 3,
  });
  assert.ok(maxErr(guided.images, x0v) < 1e-3, `guided: ${maxErr(guided.images, x0v)}`);
  // variations (deterministic DDIM from x0 noised to half of T) come back to x0, with and without labels
  for (const labels of [undefined, { vendor: "a" }]) {
    const den = denoiserForLabels(model, labels, labels ? 2 : undefined, undefined, s);
    const out = await editImages(den, s, x0v, { strength: 0.5, steps: 10, seed: 2 });
    assert.ok(maxErr(out.images, x0v) < 1e-3, `edit ${JSON.stringify(labels)}: ${maxErr(out.images, x0v)}`);
  }
  // without the schedule an edm model has no ε: refused, not guessed
  assert.throws(() => predictNoise(model, tf.zeros([1, 8, 8, 3]), [3]), {
    name: "RangeError",
    message: /edm model gives ε only at a schedule's timesteps/,
  });
  assert.throws(() => denoiserForLabels(model, undefined).predict(tf.zeros([1, 8, 8, 3]), [3]), RangeError);
  model.x0.dispose();
  model.dispose();
});

Deno.test("EDM: one training step's loss is λ(σ)·‖D − x0‖² with ln σ ~ N(−1.2, 1.2²) from the noise stream", async () => {
  // a fresh unet's output conv is zero, so D = c_skip·x and the loss follows from the draws alone
  const config = tinyTrainConfig(TINY_EDM, { batch: 3 });
  const trainer = new Trainer(config, fixtureDataset(4, 8));
  const twin = new Trainer(config, fixtureDataset(4, 8));
  const x0 = twin.sampler.nextBatchArray();
  const sigma = Array.from({ length: 3 }, () => Math.exp(-1.2 + 1.2 * twin.noiseRng.normal()));
  const eps = twin.noiseRng.normalArray(x0.length);
  const per = x0.length / 3;
  let want = 0;
  for (let i = 0; i < 3; i++) {
    let sq = 0;
    for (let k = i * per; k < (i + 1) * per; k++) {
      const x = x0[k] + sigma[i] * eps[k];
      sq += (cSkip(sigma[i]) * x - x0[k]) ** 2;
    }
    want += edmLossWeight(sigma[i]) * sq / per / 3;
  }
  const { loss } = await trainer.trainStep();
  close(loss, want, 1e-4, "loss");
  trainer.dispose();
  twin.dispose();
});

Deno.test("EDM: a tiny edm run trains (the loss falls) and samples finite images", async () => {
  const trainer = new Trainer(
    tinyTrainConfig(TINY_EDM, { steps: 80, lr: 5e-3, T: 50, batch: 8 }),
    fixtureDataset(4, 8),
  );
  const losses: number[] = [];
  for (let i = 0; i < 80; i++) losses.push((await trainer.trainStep()).loss);
  const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
  const first = mean(losses.slice(0, 20)), last = mean(losses.slice(-20));
  console.log(`edm loss ${first.toFixed(3)} → ${last.toFixed(3)}`);
  assert.ok(last < 0.8 * first, `loss ${first.toFixed(3)} → ${last.toFixed(3)}`);
  const out = await sampleImages(
    trainer.model,
    trainer.schedule,
    { n: 2, steps: 5, seed: 1 },
    trainer.ema.shadow,
  );
  assert.ok(out.images.every(Number.isFinite));
  assert.ok(out.images.some((v) => v !== out.images[0]));
  trainer.dispose();
});

Deno.test("EDM: only the unet takes it, min-SNR is refused for it, and recipes carry it", () => {
  assert.throws(
    () => modelConfig("unet", { parameterization: "v" as never }),
    /parameterization must be one of eps, edm/,
  );
  assert.throws(
    () => new DiffusionModel({ ...TINY_SEED, parameterization: "edm" } as unknown as ModelConfig),
    /option of the unet preset/,
  );
  assert.throws(
    () => validateTrainConfig(tinyTrainConfig(TINY_EDM, { minSnrGamma: 5 })),
    /edm model has its own weighting/,
  );
  const r = parseTrainRecipe('{"model": {"preset": "unet", "parameterization": "edm"}, "augment": 0.15}');
  assert.equal((r.config.model as { parameterization?: string }).parameterization, "edm");
  assert.equal(r.config.augment, 0.15);
  assert.throws(() => parseTrainRecipe('{"model": {"preset": "seed", "parameterization": "edm"}}'), {
    name: "TrainRecipeError",
    message: /"model.parameterization" is not a seed setting/,
  });
  assert.throws(() => parseTrainRecipe('{"model": {"parameterization": "x0"}}'), {
    name: "TrainRecipeError",
    message: /parameterization must be one of eps, edm/,
  });
  assert.throws(() => parseTrainRecipe('{"augment": 1.5}'), {
    name: "TrainRecipeError",
    message: /"augment" must be a number in \[0, 1\], got 1.5/,
  });
});
