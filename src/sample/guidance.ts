/**
 * Classifier-free guidance (Ho & Salimans 2022): ε = ε_null + w·(ε_cond − ε_null), with both
 * predictions from one forward pass of 2B images (the conditional half, then the null half).
 *
 * Guidance can be limited to an interval of noise levels (Kynkäänniemi et al. 2024): outside it the
 * step uses the conditional ε alone (w = 1, one pass of B images). Guidance at the noisiest steps is
 * what pulls samples towards a few typical images of a label; at the cleanest steps it only
 * sharpens colours. Both ends are given as fractions of the diffusion's T (`[0, 1]`: every step).
 *
 * {@linkcode predictNoise} is the one place where a sampler, a guided pass or an edit gets ε from a
 * model: from an `eps` model directly, from an `edm` model (Karras et al. 2022) by converting its
 * denoiser's output at the schedule's σ_t (see `model/edm.ts`).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { ParamMap } from "../model/context.ts";
import { type DiffusionModel, parameterizationOf } from "../model/model.ts";
import { edmNoise } from "../model/edm.ts";
import { checkTimestep, type DiffusionSchedule } from "../core/schedule.ts";
import { LabelError, type Labels, resolveLabels } from "../model/labels.ts";
import { DEFAULT_GUIDANCE } from "./defaults.ts";
import { checkGuidanceInterval, guidanceAt, type GuidanceInterval } from "./guidance_interval.ts";

/**
 * The noise prediction ε̂(x_t, t) of any model in inference mode, with label indices `labels` as
 * `DiffusionModel.forward` takes them and no augmentation: `model.predict` for an `eps` model
 * (exactly; `schedule` is not needed), and for an `edm` model ε̂ = (x̃ − D(x̃; σ_t))/σ_t with
 * x̃ = x_t/√ᾱ_t and σ_t = √((1 − ᾱ_t)/ᾱ_t) from `schedule` (`model/edm.ts`). The result is the caller's.
 *
 * @throws {RangeError} for an `edm` model without a schedule, or a timestep outside it.
 *
 * @example An `eps` model's ε is its prediction
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import { initBackend } from "../backend/select.ts";
 * import { DiffusionModel } from "../model/model.ts";
 * import { predictNoise } from "./guidance.ts";
 * await initBackend("cpu", { log: null });
 * const m = new DiffusionModel({ preset: "seed", channels: [4, 4, 4], timeDim: 4 });
 * const x = tf.randomNormal([1, 32, 32, 3]) as tf.Tensor4D;
 * const a = predictNoise(m, x, [5]), b = m.predict(x, [5]);
 * assert.deepEqual(await a.data(), await b.data());
 * ```
 */
export function predictNoise(
  model: DiffusionModel,
  x: tf.Tensor4D,
  t: ArrayLike<number>,
  params: ParamMap = model.params,
  labels?: readonly ArrayLike<number>[],
  schedule?: DiffusionSchedule,
): tf.Tensor4D {
  if (parameterizationOf(model.config) === "eps") return model.predict(x, t, params, labels);
  if (!schedule) {
    throw new RangeError(
      "an edm model gives ε only at a schedule's timesteps: pass the checkpoint's schedule",
    );
  }
  const alphaBar = Array.from(t, (ti) => {
    checkTimestep(ti, schedule.T);
    return schedule.alphasCumprod[ti];
  });
  return edmNoise(model, x, alphaBar, params, labels);
}

/**
 * The guided noise prediction for x_t [B, H, W, 3] at timesteps `t` with label indices `labels`
 * ([field][example], −1 = null) and weight `w` (one for the batch, or one per example): one forward
 * of the batch doubled, whose second half has every field null (through {@linkcode predictNoise}, so
 * an `edm` model needs `schedule`). The result is the caller's.
 *
 * @example With w = 1 the guided ε is the conditional ε
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import { initBackend } from "../backend/select.ts";
 * import { DiffusionModel } from "../model/model.ts";
 * import { guidedPredict } from "./guidance.ts";
 * await initBackend("cpu", { log: null });
 * const m = new DiffusionModel({ preset: "seed", channels: [4, 4, 4], timeDim: 4, labels: { vendor: ["a", "b"] } });
 * const x = tf.randomNormal([1, 32, 32, 3]) as tf.Tensor4D;
 * const g = guidedPredict(m, x, [5], [[1]], 1), c = m.predict(x, [5], m.params, [[1]]);
 * assert.ok((await tf.max(tf.abs(tf.sub(g, c))).data())[0] < 1e-5);
 * ```
 */
export function guidedPredict(
  model: DiffusionModel,
  x: tf.Tensor4D,
  t: ArrayLike<number>,
  labels: readonly ArrayLike<number>[],
  w: number | ArrayLike<number>,
  params: ParamMap = model.params,
  schedule?: DiffusionSchedule,
): tf.Tensor4D {
  const b = x.shape[0];
  const ws = typeof w === "number" ? [w] : Array.from(w);
  if (ws.length !== (typeof w === "number" ? 1 : b) || !ws.every(Number.isFinite)) {
    throw new RangeError(`guidance must be a finite number (or one per example), got ${JSON.stringify(w)}`);
  }
  const tt = Array.from(t);
  const both = labels.map((idx) => Int32Array.from([...Array.from(idx), ...new Array(b).fill(-1)]));
  return tf.tidy(() => {
    const eps = predictNoise(model, tf.concat([x, x], 0), [...tt, ...tt], params, both, schedule);
    const [cond, uncond] = tf.split(eps, 2, 0);
    const weight = typeof w === "number" ? tf.scalar(w) : tf.tensor4d(Float32Array.from(ws), [b, 1, 1, 1]);
    return tf.add(uncond, tf.mul(tf.sub(cond, uncond), weight)) as tf.Tensor4D;
  });
}

/**
 * ε(x_t, t) of a batch with label indices `labels` ([field][example], −1 = null; undefined: none) and
 * guidance weight `w`, applied at every step or, with `limit`, only at the timesteps inside its
 * interval: the one place where sampling and the edits wrap labels, guidance and its interval around
 * {@linkcode predictNoise}. A step whose weight is 1 (or that has no labels) is one plain pass of B
 * images, a guided one a {@linkcode guidedPredict} pass of 2B. An `edm` model needs its `schedule`.
 *
 * @example Outside the interval the ε is the conditional one
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import { initBackend } from "../backend/select.ts";
 * import { DiffusionModel } from "../model/model.ts";
 * import { guidedNoise } from "./guidance.ts";
 * await initBackend("cpu", { log: null });
 * const m = new DiffusionModel({ preset: "seed", channels: [4, 4, 4], timeDim: 4, labels: { vendor: ["a", "b"] } });
 * const x = tf.zeros([1, 32, 32, 3]) as tf.Tensor4D;
 * const eps = guidedNoise(m, [Int32Array.of(1)], 3, m.params, { interval: [0, 0.5], T: 10 });
 * const c = m.predict(x, [9], m.params, [Int32Array.of(1)]);
 * assert.equal((await tf.max(tf.abs(tf.sub(eps(x, [9]), c))).data())[0], 0);
 * ```
 */
export function guidedNoise(
  model: DiffusionModel,
  labels: readonly ArrayLike<number>[] | undefined,
  w: number,
  params: ParamMap = model.params,
  limit?: GuidanceLimit,
  schedule?: DiffusionSchedule,
): (x: tf.Tensor4D, t: number[]) => tf.Tensor4D {
  if (limit) checkGuidanceInterval(limit.interval);
  return (x, t) => {
    const ws = t.map((ti) => limit ? guidanceAt(ti, limit.T, w, limit.interval) : w);
    if (!labels || ws.every((wi) => wi === 1)) return predictNoise(model, x, t, params, labels, schedule);
    const weight = ws.every((wi) => wi === ws[0]) ? ws[0] : ws;
    return guidedPredict(model, x, t, labels, weight, params, schedule);
  };
}

/**
 * A denoiser for the edits (variations, inpainting, morphs: `edit.ts`'s `Denoiser`) that asks a
 * conditioned model for the same resolved labels (one index per field, −1 = null) in every example,
 * with guidance weight `w` (w = 1: one plain conditional pass), applied at every step or, with `limit`,
 * only at the timesteps inside its interval ({@linkcode guidedNoise}). An `edm` model needs its
 * `schedule`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import { initBackend } from "../backend/select.ts";
 * import { DiffusionModel } from "../model/model.ts";
 * import { conditionedDenoiser } from "./guidance.ts";
 * await initBackend("cpu", { log: null });
 * const m = new DiffusionModel({ preset: "seed", channels: [4, 4, 4], timeDim: 4, labels: { vendor: ["a", "b"] } });
 * const eps = conditionedDenoiser(m, [0], 2).predict(tf.zeros([3, 32, 32, 3]), [1, 2, 3]);
 * assert.equal(eps.shape[0], 3);
 * ```
 */
export function conditionedDenoiser(
  model: DiffusionModel,
  labels: readonly number[],
  w: number,
  params: ParamMap = model.params,
  limit?: GuidanceLimit,
  schedule?: DiffusionSchedule,
): { imageSize: number; predict(x: tf.Tensor4D, t: number[]): tf.Tensor } {
  if (limit) checkGuidanceInterval(limit.interval);
  return {
    imageSize: model.imageSize,
    predict(x: tf.Tensor4D, t: number[]): tf.Tensor {
      const idx = labels.map((k) => new Int32Array(x.shape[0]).fill(k));
      return guidedNoise(model, idx, w, params, limit, schedule)(x, t);
    },
  };
}

/** A guidance interval with the T of the schedule it is a fraction of. */
export interface GuidanceLimit {
  /** The interval, as fractions of `T`. */
  interval: GuidanceInterval;
  /** The diffusion's number of timesteps. */
  T: number;
}

/**
 * What the edits denoise with for `labels` and guidance `w` (default {@linkcode DEFAULT_GUIDANCE}),
 * limited to an interval of timesteps by `limit`: the model itself when no label is asked for (an
 * `eps` model), else {@linkcode conditionedDenoiser}. An `edm` model needs its `schedule`, and gives a
 * denoiser of {@linkcode predictNoise} when no label is asked for.
 *
 * @throws {LabelError} for labels or guidance given to an unconditional model, an unknown field or value.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DiffusionModel } from "../model/model.ts";
 * import { denoiserForLabels } from "./guidance.ts";
 * const m = new DiffusionModel({ preset: "seed", channels: [4, 4, 4], timeDim: 4 });
 * assert.equal(denoiserForLabels(m, undefined), m);
 * m.dispose();
 * ```
 */
export function denoiserForLabels(
  model: DiffusionModel,
  labels: Labels | undefined,
  w?: number,
  limit?: GuidanceLimit,
  schedule?: DiffusionSchedule,
): DiffusionModel | ReturnType<typeof conditionedDenoiser> {
  if (w !== undefined && !model.labels) {
    throw new LabelError(`guidance ${w} given to an unconditional model: it has no labels to guide by`);
  }
  if (!labels || Object.keys(labels).length === 0) {
    if (parameterizationOf(model.config) === "eps") return model;
    return {
      imageSize: model.imageSize,
      predict: (x: tf.Tensor4D, t: number[]) => predictNoise(model, x, t, model.params, undefined, schedule),
    };
  }
  return conditionedDenoiser(
    model,
    resolveLabels(model.labels, labels),
    w ?? DEFAULT_GUIDANCE,
    model.params,
    limit,
    schedule,
  );
}
