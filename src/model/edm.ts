/**
 * EDM preconditioning and loss weighting (Karras et al. 2022, "Elucidating the Design Space of
 * Diffusion-Based Generative Models", Table 1). The network F is wrapped as the denoiser
 *
 *   D(x; σ) = c_skip(σ)·x + c_out(σ)·F(c_in(σ)·x; c_noise(σ)),  x = x0 + σ·ε,
 *
 * with σ_data = 0.5, c_skip = σ_data²/(σ² + σ_data²), c_out = σ·σ_data/√(σ² + σ_data²),
 * c_in = 1/√(σ² + σ_data²) and c_noise = ln(σ)/4. Training draws ln σ ~ N(P_mean = −1.2,
 * P_std = 1.2) and weighs ‖D(x; σ) − x0‖² by λ(σ) = (σ² + σ_data²)/(σ·σ_data)², so that the
 * effective target of F has unit variance at every σ (λ·c_out² = 1).
 *
 * Sampling uses the discrete schedule of the checkpoint: x_t = √ᾱ·x0 + √(1−ᾱ)·ε is x̃ = x_t/√ᾱ =
 * x0 + σ_t·ε with σ_t = √((1−ᾱ)/ᾱ), so ε̂ = (x̃ − D(x̃; σ_t))/σ_t ({@linkcode edmNoise}), and every
 * ε-sampler runs unchanged.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { ForwardContext } from "./context.ts";
import type { DiffusionModel } from "./model.ts";

/** σ_data: the standard deviation of the data the preconditioning assumes (images in [−1, 1]). */
export const SIGMA_DATA = 0.5;
/** P_mean: the mean of ln σ while training. */
export const EDM_P_MEAN = -1.2;
/** P_std: the standard deviation of ln σ while training. */
export const EDM_P_STD = 1.2;

/**
 * c_skip(σ) = σ_data²/(σ² + σ_data²): how much of the noisy input D passes through.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { cSkip } from "./edm.ts";
 * assert.equal(cSkip(0.5), 0.5);
 * assert.equal(cSkip(0), 1);
 * ```
 */
export function cSkip(sigma: number, sigmaData = SIGMA_DATA): number {
  return sigmaData ** 2 / (sigma ** 2 + sigmaData ** 2);
}

/**
 * c_out(σ) = σ·σ_data/√(σ² + σ_data²): the scale of the network's output.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { cOut } from "./edm.ts";
 * assert.ok(Math.abs(cOut(0.5) - 0.25 / Math.sqrt(0.5)) < 1e-15);
 * ```
 */
export function cOut(sigma: number, sigmaData = SIGMA_DATA): number {
  return sigma * sigmaData / Math.sqrt(sigma ** 2 + sigmaData ** 2);
}

/**
 * c_in(σ) = 1/√(σ² + σ_data²): scales the noisy input to unit variance.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { cIn } from "./edm.ts";
 * assert.equal(cIn(0), 2);
 * ```
 */
export function cIn(sigma: number, sigmaData = SIGMA_DATA): number {
  return 1 / Math.sqrt(sigma ** 2 + sigmaData ** 2);
}

/**
 * c_noise(σ) = ln(σ)/4: the noise input of the network (its time embedding's argument).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { cNoise } from "./edm.ts";
 * assert.equal(cNoise(1), 0);
 * assert.equal(cNoise(Math.E ** 4), 1);
 * ```
 */
export function cNoise(sigma: number): number {
  return Math.log(sigma) / 4;
}

/**
 * The loss weight λ(σ) = (σ² + σ_data²)/(σ·σ_data)² of ‖D(x; σ) − x0‖² (= 1/c_out(σ)²).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { edmLossWeight } from "./edm.ts";
 * assert.equal(edmLossWeight(0.5), 8);
 * ```
 */
export function edmLossWeight(sigma: number, sigmaData = SIGMA_DATA): number {
  return (sigma ** 2 + sigmaData ** 2) / (sigma * sigmaData) ** 2;
}

/**
 * σ of a discrete timestep: √((1 − ᾱ)/ᾱ), where x_t/√ᾱ = x0 + σ·ε.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sigmaOfAlphaBar } from "./edm.ts";
 * assert.equal(sigmaOfAlphaBar(0.5), 1);
 * ```
 */
export function sigmaOfAlphaBar(alphaBar: number): number {
  return Math.sqrt((1 - alphaBar) / alphaBar);
}

/** A [B, 1, 1, 1] tensor of one value per example. */
function perExample(values: readonly number[]): tf.Tensor4D {
  return tf.tensor4d(Float32Array.from(values), [values.length, 1, 1, 1]);
}

/**
 * The preconditioned denoiser D(x; σ) = c_skip·x + c_out·F(c_in·x; c_noise) of an `edm` model, one σ
 * per example, run in `ctx` (a training context records gradients); `labels` and `augment` as
 * {@linkcode DiffusionModel.forward} takes them. Not wrapped in tidy.
 *
 * @throws {RangeError} unless there is one finite σ > 0 per example.
 *
 * @example A fresh `edm` model's F is zero (zero output conv), so D is c_skip·x
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import { initBackend } from "../backend/select.ts";
 * import { ForwardContext } from "./context.ts";
 * import { DiffusionModel, modelConfig } from "./model.ts";
 * import { edmDenoise } from "./edm.ts";
 * await initBackend("cpu", { log: null });
 * const m = new DiffusionModel(modelConfig("unet", { channels: 8, channelMult: [1], groups: 4, attention: false, parameterization: "edm" }), 0, 8);
 * const d = edmDenoise(m, new ForwardContext(m.params, m.state, false), tf.ones([1, 8, 8, 3]), [0.5]);
 * assert.ok((await d.data()).every((v) => Math.abs(v - 0.5) < 1e-6));
 * ```
 */
export function edmDenoise(
  model: DiffusionModel,
  ctx: ForwardContext,
  x: tf.Tensor4D,
  sigma: readonly number[],
  labels?: readonly ArrayLike<number>[],
  augment?: ArrayLike<number>,
): tf.Tensor4D {
  if (sigma.length !== x.shape[0] || !sigma.every((s) => Number.isFinite(s) && s > 0)) {
    throw new RangeError(`need one finite σ > 0 per example, got ${sigma.length} for ${x.shape[0]}`);
  }
  const input = tf.mul(x, perExample(sigma.map((s) => cIn(s)))) as tf.Tensor4D;
  const f = model.forward(ctx, input, sigma.map(cNoise), labels, augment);
  return tf.add(
    tf.mul(x, perExample(sigma.map((s) => cSkip(s)))),
    tf.mul(f, perExample(sigma.map((s) => cOut(s)))),
  ) as tf.Tensor4D;
}

/**
 * ε̂ of an `edm` model at discrete timesteps, from the schedule's ᾱ of each example's timestep
 * (`alphaBar`): x̃ = x_t/√ᾱ, σ = √((1−ᾱ)/ᾱ), ε̂ = (x̃ − D(x̃; σ))/σ. In inference mode (`params` as
 * weights); the result is the caller's. The samplers reach it through `predictNoise`
 * (`sample/guidance.ts`).
 *
 * @example With F = 0, D = c_skip·x̃ and ε̂ = (1 − c_skip)·x̃/σ
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import { initBackend } from "../backend/select.ts";
 * import { DiffusionModel, modelConfig } from "./model.ts";
 * import { cSkip, edmNoise } from "./edm.ts";
 * await initBackend("cpu", { log: null });
 * const m = new DiffusionModel(modelConfig("unet", { channels: 8, channelMult: [1], groups: 4, attention: false, parameterization: "edm" }), 0, 8);
 * const eps = edmNoise(m, tf.ones([1, 8, 8, 3]), [0.5]);
 * const want = (1 - cSkip(1)) * Math.SQRT2 / 1; // ᾱ = 0.5: x̃ = √2, σ = 1
 * assert.ok((await eps.data()).every((v) => Math.abs(v - want) < 1e-5));
 * ```
 */
export function edmNoise(
  model: DiffusionModel,
  x: tf.Tensor4D,
  alphaBar: readonly number[],
  params = model.params,
  labels?: readonly ArrayLike<number>[],
): tf.Tensor4D {
  if (alphaBar.length !== x.shape[0] || !alphaBar.every((a) => a > 0 && a < 1)) {
    throw new RangeError(`need one ᾱ in (0, 1) per example, got ${alphaBar.length} for ${x.shape[0]}`);
  }
  const sigma = alphaBar.map(sigmaOfAlphaBar);
  return tf.tidy(() => {
    const xs = tf.div(x, perExample(alphaBar.map(Math.sqrt))) as tf.Tensor4D;
    const ctx = new ForwardContext(params, model.state, false);
    const d = edmDenoise(model, ctx, xs, sigma, labels);
    return tf.div(tf.sub(xs, d), perExample(sigma)) as tf.Tensor4D;
  });
}
