/**
 * Starting the reverse process from an emoji instead of from noise: variations (SDEdit, Meng et al.
 * 2022), inpainting (RePaint, Lugmayr et al. 2022) and morphs (spherical interpolation of the start,
 * with deterministic DDIM inversion for image ends).
 *
 * - **Variations**: the input x0 is noised with q(x_t | x0) to the timestep index round(s·T) − 1
 *   (strength s ∈ (0, 1]) and denoised from there. DDIM and DPM-Solver++ keep the timesteps of their
 *   ordinary S-step grid that lie at or below it (about s·S network evaluations), DDPM runs every
 *   index from there down; a strength below 1/(2T) leaves no step and returns the input itself. At
 *   s = 1 the grid is the ordinary one and the start is N(√ᾱ·x0, (1 − ᾱ)·I): with the training
 *   set's mean image as x0 that is exactly ordinary sampling with the data-mean start.
 * - **Inpainting**: after every step t → t', the pixels outside the mask (the known region) are
 *   replaced by the input noised to t' (the input itself after the last step, so they come out
 *   exactly equal to it), and with `resample` k > 1 the merged x_t' is pushed back to t with
 *   q(x_t | x_t') and the step redone, k times in all, so the redrawn region can adapt to the known
 *   one instead of only being pasted beside it.
 * - **Morphs**: two ends, each a seed (its starting noise, exactly what `sample --seed` draws) or an
 *   image (DDIM inversion x0 → x_T along the same grid), are interpolated in the noise space with
 *   {@linkcode slerp} and sampled deterministically, so the end frames are the ends' own samples.
 *
 * @module
 */
import { concatFloat32 } from "../core/concat.ts";
import * as tf from "@tensorflow/tfjs-core";
import { Rng } from "../core/rng.ts";
import type { DiffusionSchedule } from "../core/schedule.ts";
import { DEFAULT_ETA, DEFAULT_SAMPLER, DEFAULT_STEPS, defaultBatch } from "./defaults.ts";
import { priorStart } from "./prior.ts";
import { checkSampleOptions, type SamplerName, samplerTimesteps } from "./sample.ts";
import { slerp } from "./slerp.ts";
import { type KnownRegion, reverseLoop } from "./loop.ts";

/**
 * What the edits need of a model: its image side and ε_θ(x_t, t) for a batch with one timestep per
 * example. A `DiffusionModel` is one (its own weights); so is any oracle ε-function.
 */
export interface Denoiser {
  /** Image side. */
  imageSize: number;
  /** ε_θ(x_t, t) as a tensor of x's shape (or a promise of it); the caller disposes it. */
  predict(x: tf.Tensor4D, t: number[]): tf.Tensor | Promise<tf.Tensor>;
}

/** The sampler settings every edit takes (the same meaning and defaults as in `sampleImages`). */
export interface EditSamplerOptions {
  /** `ddpm`, `ddim` or `dpm++2m` (default `DEFAULT_SAMPLER`). */
  sampler?: SamplerName;
  /** Steps S of the full ddim / dpm++2m grid (default `DEFAULT_STEPS`). */
  steps?: number;
  /** DDIM η (default `DEFAULT_ETA`). */
  eta?: number;
  /** Clip the predicted x0 to [−1, 1] inside each step (default true). */
  clip?: boolean;
  /** Seed of all noise; same seed, same images. */
  seed?: number;
  /** Images per forward pass (default `defaultBatch`). */
  batch?: number;
  /** Called after every network evaluation with (done, total). */
  onProgress?: (stepsDone: number, stepsTotal: number) => void;
}

/** Options of {@linkcode editImages}. */
export interface EditOptions extends EditSamplerOptions {
  /** How far into the forward process the input goes, in (0, 1] (1: all the way to T). */
  strength: number;
  /** Outputs per input (default 1). */
  n?: number;
  /**
   * Inpainting mask, one value per pixel (size·size, row-major): ≥ 0.5 means redraw, below means
   * keep the input. Absent: redraw everything (variations).
   */
  mask?: ArrayLike<number>;
  /** Tries per step for inpainting, k ≥ 1 (RePaint's resampling; default 1 = no jumps back). */
  resample?: number;
}

/** What {@linkcode editImages} returns. */
export interface EditResult {
  /** count·n·size·size·3 values in [−1, 1], NHWC, input-major (input 0's n outputs first). */
  images: Float32Array;
  /** Number of inputs. */
  count: number;
  /** Outputs per input. */
  n: number;
  /** Image side. */
  size: number;
  /** Network evaluations per image. */
  evaluations: number;
  /** Wall-clock seconds. */
  seconds: number;
}

/** Throws a RangeError unless `strength` is in (0, 1]. */
export function checkStrength(strength: number): void {
  if (!(strength > 0 && strength <= 1)) {
    throw new RangeError(`strength must be in (0, 1], got ${strength}`);
  }
}

/**
 * The timestep indices an edit of strength `s` visits: those of the sampler's ordinary grid at or
 * below round(s·T) − 1 (none when s·T rounds to 0). At s = 1, the ordinary grid.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { editTimesteps } from "./edit.ts";
 * assert.equal(editTimesteps("ddim", 500, 5, 0.5).join(), "200,100,0");
 * assert.equal(editTimesteps("ddpm", 500, 50, 0.006).join(), "2,1,0");
 * assert.equal(editTimesteps("ddim", 500, 50, 0.0005).length, 0);
 * ```
 */
export function editTimesteps(sampler: SamplerName, T: number, steps: number, strength: number): number[] {
  checkStrength(strength);
  const top = Math.round(strength * T) - 1;
  return samplerTimesteps(sampler, T, steps).filter((t) => t <= top);
}

/** Options of {@linkcode reverseFrom}: where to start, and what to keep. */
export interface ReverseFromOptions extends EditSamplerOptions {
  /** Number of images. */
  n: number;
  /** The timesteps to visit, descending, ending at 0 (e.g. {@linkcode editTimesteps}). */
  timesteps: number[];
  /**
   * The start x at `timesteps[0]` for images first … first + b − 1, given the standard normal draws
   * `noise` (b images) that ordinary sampling would turn into its start; may fill `noise` in place.
   */
  start: (first: number, b: number, noise: Float32Array) => Float32Array;
  /** Inpainting: the known images (n of them) and the mask (size·size, 1 = redraw), tries per step. */
  known?: KnownRegion;
}

/**
 * The reverse process from a given start: ordinary sampling's loop ({@linkcode reverseLoop}: the same
 * steps, the same order of random draws: the start noise of each batch, then each step's z) with
 * RePaint's known-region replacement and resampling when `known` is given. Returns n·size·size·3
 * values clipped to [−1, 1].
 */
export async function reverseFrom(
  denoiser: Denoiser,
  schedule: DiffusionSchedule,
  o: ReverseFromOptions,
): Promise<Float32Array> {
  const { images } = await reverseLoop(schedule, {
    sampler: o.sampler ?? DEFAULT_SAMPLER,
    eta: o.eta ?? DEFAULT_ETA,
    clip: o.clip ?? true,
    n: o.n,
    batch: Math.min(o.batch ?? defaultBatch(o.n), o.n),
    size: denoiser.imageSize,
    timesteps: o.timesteps,
    rng: new Rng(o.seed ?? 0),
    noise: () => (x, t) => denoiser.predict(x, t),
    start: o.start,
    known: o.known,
    onProgress: o.onProgress,
  });
  return images;
}

function checkImages(images: Float32Array, per: number, what: string): number {
  if (images.length === 0 || images.length % per !== 0) {
    throw new RangeError(`${what} has ${images.length} values: not a whole number of ${per}-value images`);
  }
  if (!images.every((v) => v >= -1 && v <= 1)) throw new RangeError(`${what} holds a value outside [-1, 1]`);
  return images.length / per;
}

/** The mask as 0/1 bytes (1 = redraw), or a RangeError naming what is wrong. */
function binaryMask(mask: ArrayLike<number>, size: number): Uint8Array {
  if (mask.length !== size * size) {
    throw new RangeError(
      `mask has ${mask.length} values; the model's images need ${size}×${size} = ${size * size}`,
    );
  }
  const out = new Uint8Array(mask.length);
  for (let i = 0; i < mask.length; i++) {
    if (!Number.isFinite(mask[i])) throw new RangeError("mask holds a non-finite value");
    out[i] = mask[i] >= 0.5 ? 1 : 0;
  }
  return out;
}

/**
 * Variations and inpainting of `inputs` (count images, NHWC in [−1, 1], the denoiser's size): each
 * input is noised to the strength's timestep and denoised `n` times (see the module header).
 *
 * @example Variations of a flat grey image with a tiny untrained model
 * ```ts
 * import assert from "node:assert/strict";
 * import { initBackend } from "../backend/select.ts";
 * import { DiffusionModel, modelConfig } from "../model/model.ts";
 * import { makeSchedule } from "../core/schedule.ts";
 * import { editImages } from "./edit.ts";
 * await initBackend("cpu", { log: null });
 * const model = new DiffusionModel(modelConfig("unet", { channels: 8, channelMult: [1, 1], groups: 4, attention: false }));
 * const grey = new Float32Array(32 * 32 * 3);
 * const out = await editImages(model, makeSchedule("linear", 20), grey, { strength: 0.5, n: 2, steps: 4 });
 * assert.equal(out.images.length, 2 * 32 * 32 * 3);
 * assert.equal(out.evaluations, 2);
 * model.dispose();
 * ```
 */
export async function editImages(
  denoiser: Denoiser,
  schedule: DiffusionSchedule,
  inputs: Float32Array,
  options: EditOptions,
): Promise<EditResult> {
  const startTime = performance.now();
  const size = denoiser.imageSize, per = size * size * 3;
  const n = options.n ?? 1;
  checkStrength(options.strength);
  checkSampleOptions({ ...options, n }, schedule.T);
  const count = checkImages(inputs, per, "inputs");
  const resample = options.resample ?? 1;
  if (!Number.isInteger(resample) || resample < 1) {
    throw new RangeError(`resample must be a positive integer, got ${resample}`);
  }
  const mask = options.mask === undefined ? undefined : binaryMask(options.mask, size);
  const sampler = options.sampler ?? DEFAULT_SAMPLER;
  const ts = editTimesteps(sampler, schedule.T, options.steps ?? DEFAULT_STEPS, options.strength);
  // every output's own input, input-major
  const x0 = new Float32Array(count * n * per);
  for (let i = 0; i < count * n; i++) {
    x0.set(inputs.subarray(Math.floor(i / n) * per, (Math.floor(i / n) + 1) * per), i * per);
  }
  if (ts.length === 0) {
    return { images: x0, count, n, size, evaluations: 0, seconds: (performance.now() - startTime) / 1000 };
  }
  const a = schedule.sqrtAlphasCumprod[ts[0]], s = schedule.sqrtOneMinusAlphasCumprod[ts[0]];
  const images = await reverseFrom(denoiser, schedule, {
    ...options,
    n: count * n,
    timesteps: ts,
    start: (first, b, noise) => {
      for (let k = 0; k < b * per; k++) noise[k] = a * x0[first * per + k] + s * noise[k];
      return noise;
    },
    ...(mask ? { known: { images: x0, mask, resample } } : {}),
  });
  const evaluations = ts.length * (mask ? resample : 1);
  return { images, count, n, size, evaluations, seconds: (performance.now() - startTime) / 1000 };
}

/**
 * Deterministic DDIM inversion x0 → x_{timesteps[0]}: the η = 0 DDIM steps run backwards along
 * `timesteps` (descending, ending at 0). The sampling step t → t' uses ε(x_t, t), which inversion
 * does not know yet; plain inversion uses ε at the step's start point instead (at the clean image, ε
 * at index 0), an O(1/S) error per step. With `iterations` k > 0, each step is refined k times by
 * the fixed point x_t = step⁻¹(x_t', ε(x_t, t)), which makes it the exact inverse of the sampling
 * step as it converges (k more evaluations per step). DDIM sampling with η = 0 on the same grid maps
 * the result back to ≈ x0. Never clips. `images` are m images of the denoiser's size; returns m
 * images.
 *
 * @example With ε ≡ 0, inversion just scales: x_t = √ᾱ_t·x0
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import "@tensorflow/tfjs-backend-cpu";
 * import { makeSchedule } from "../core/schedule.ts";
 * import { ddimInvert } from "./edit.ts";
 * await tf.setBackend("cpu");
 * const s = makeSchedule("linear", 100);
 * const zero = { imageSize: 1, predict: (x: tf.Tensor4D) => tf.zerosLike(x) };
 * const xT = await ddimInvert(zero, s, Float32Array.of(0.5, 0.5, 0.5), [90, 40, 0]);
 * assert.ok(Math.abs(xT[0] - 0.5 * s.sqrtAlphasCumprod[90]) < 1e-6);
 * ```
 */
export async function ddimInvert(
  denoiser: Denoiser,
  schedule: DiffusionSchedule,
  images: Float32Array,
  timesteps: number[],
  options: { batch?: number; iterations?: number; onProgress?: (done: number, total: number) => void } = {},
): Promise<Float32Array> {
  const size = denoiser.imageSize, per = size * size * 3;
  const m = checkImages(images, per, "images");
  const up = [...timesteps].reverse();
  if (up[0] !== 0 || up.some((t, j) => j > 0 && t <= up[j - 1])) {
    throw new RangeError(`ddimInvert needs descending timesteps ending at 0, got ${timesteps.join(",")}`);
  }
  const iterations = options.iterations ?? 0;
  if (!Number.isInteger(iterations) || iterations < 0) {
    throw new RangeError(`inversion iterations must be an integer >= 0, got ${iterations}`);
  }
  const batch = Math.min(options.batch ?? defaultBatch(m), m);
  const out = new Float32Array(m * per);
  const total = up.length * (1 + iterations) * Math.ceil(m / batch);
  let done = 0;
  for (let first = 0; first < m; first += batch) {
    const b = Math.min(batch, m - first);
    let x: tf.Tensor = tf.tensor4d(images.subarray(first * per, (first + b) * per), [b, size, size, 3]);
    for (let j = 0; j < up.length; j++) {
      const tFrom = j === 0 ? -1 : up[j - 1], t = up[j];
      const abFrom = tFrom >= 0 ? schedule.alphasCumprod[tFrom] : 1, abTo = schedule.alphasCumprod[t];
      const from = x;
      // x_t from x_t' and an ε: the η = 0 DDIM step t → t' solved for x_t
      const invert = (eps: tf.Tensor) =>
        tf.tidy(() => {
          const x0 = tf.div(tf.sub(from, tf.mul(eps, Math.sqrt(1 - abFrom))), Math.sqrt(abFrom));
          return tf.add(tf.mul(x0, Math.sqrt(abTo)), tf.mul(eps, Math.sqrt(1 - abTo)));
        });
      let eps = await denoiser.predict(from as tf.Tensor4D, new Array(b).fill(Math.max(tFrom, 0)));
      let next = invert(eps);
      options.onProgress?.(++done, total);
      for (let k = 0; k < iterations; k++) {
        eps.dispose();
        eps = await denoiser.predict(next as tf.Tensor4D, new Array(b).fill(t));
        next.dispose();
        next = invert(eps);
        options.onProgress?.(++done, total);
      }
      eps.dispose();
      from.dispose();
      x = next;
    }
    out.set(await x.data() as Float32Array, first * per);
    x.dispose();
  }
  return out;
}

/** One end of a morph: a seed (its starting noise) or an image (size·size·3 in [−1, 1]). */
export type MorphEnd = number | Float32Array;

/** Options of {@linkcode morphImages}. */
export interface MorphOptions {
  /** Frames, both ends included (default 8, at least 2). */
  frames?: number;
  /** `ddim` (η = 0) or `dpm++2m`: a morph needs a deterministic sampler (default `DEFAULT_SAMPLER`). */
  sampler?: SamplerName;
  /** Steps S (default `DEFAULT_STEPS`), also of the inversion of image ends. */
  steps?: number;
  /** Clip the predicted x0 inside each step (default true). */
  clip?: boolean;
  /** The data-mean start of `sampleImages` (seeds' noise is shifted by it, image ends unshifted). */
  dataMean?: Float32Array;
  /** Images per forward pass. */
  batch?: number;
  /** Fixed-point refinements per step of the inversion of image ends (default 2; see {@linkcode ddimInvert}). */
  inversionIterations?: number;
  /** Called after every network evaluation (of a batch) with (done, total), inversion included. */
  onProgress?: (stepsDone: number, stepsTotal: number) => void;
}

/** What {@linkcode morphImages} returns. */
export interface MorphResult {
  /** frames·size·size·3 values in [−1, 1]: the path from the first end to the second. */
  images: Float32Array;
  /** Number of frames. */
  frames: number;
  /** Image side. */
  size: number;
  /** The interpolation weight of every frame (0 … 1). */
  weights: number[];
  /** Wall-clock seconds. */
  seconds: number;
}

/**
 * A morph between two ends (seeds or images; see the module header): the start of every frame is
 * the spherical interpolation of the ends' noise, then deterministic sampling. A seed's frame equals
 * `sampleImages` with that seed and n = 1.
 *
 * @example A 3-frame morph between seeds 1 and 2 with a tiny untrained model
 * ```ts
 * import assert from "node:assert/strict";
 * import { initBackend } from "../backend/select.ts";
 * import { DiffusionModel, modelConfig } from "../model/model.ts";
 * import { makeSchedule } from "../core/schedule.ts";
 * import { morphImages } from "./edit.ts";
 * await initBackend("cpu", { log: null });
 * const model = new DiffusionModel(modelConfig("unet", { channels: 8, channelMult: [1, 1], groups: 4, attention: false }));
 * const m = await morphImages(model, makeSchedule("linear", 20), 1, 2, { frames: 3, steps: 2 });
 * assert.equal(m.frames, 3);
 * assert.equal(m.weights.join(), "0,0.5,1");
 * model.dispose();
 * ```
 */
export async function morphImages(
  denoiser: Denoiser,
  schedule: DiffusionSchedule,
  a: MorphEnd,
  b: MorphEnd,
  options: MorphOptions = {},
): Promise<MorphResult> {
  const startTime = performance.now();
  const size = denoiser.imageSize, per = size * size * 3;
  const frames = options.frames ?? 8;
  if (!Number.isInteger(frames) || frames < 2) {
    throw new RangeError(`frames must be an integer >= 2, got ${frames}`);
  }
  const sampler = options.sampler ?? DEFAULT_SAMPLER;
  if (sampler === "ddpm") {
    throw new RangeError(`a morph needs a deterministic sampler: ddim (eta 0) or dpm++2m, not ddpm`);
  }
  checkSampleOptions({ n: frames, sampler, steps: options.steps, batch: options.batch }, schedule.T);
  const mean = options.dataMean;
  if (mean && mean.length !== per) throw new RangeError(`dataMean has ${mean.length} values, not ${per}`);
  const ts = samplerTimesteps(sampler, schedule.T, options.steps ?? DEFAULT_STEPS);
  for (const end of [a, b]) {
    if (typeof end === "number") {
      if (!Number.isInteger(end) || end < 0) {
        throw new RangeError(`a morph seed must be an integer >= 0, got ${end}`);
      }
    } else checkImages(end, per, "a morph image");
  }
  const images = [a, b].filter((e): e is Float32Array => typeof e !== "number");
  const iterations = options.inversionIterations ?? 2;
  const batches = (k: number) => k === 0 ? 0 : Math.ceil(k / Math.min(options.batch ?? defaultBatch(k), k));
  const total = ts.length * ((1 + iterations) * batches(images.length) + batches(frames));
  let before = 0;
  const progress = (done: number) => options.onProgress?.(before + done, total);
  const inverted = images.length
    ? await ddimInvert(denoiser, schedule, concatFloat32(images), ts, {
      batch: options.batch,
      iterations,
      onProgress: progress,
    })
    : new Float32Array(0);
  before = ts.length * (1 + iterations) * batches(images.length);
  // the ends in noise space: the ε that ordinary sampling turns into the start, √ᾱ·mean + √(1 − ᾱ)·ε
  // with a data mean, ε itself without one
  const sa = schedule.sqrtAlphasCumprod[ts[0]], so = schedule.sqrtOneMinusAlphasCumprod[ts[0]];
  let used = 0;
  const noiseOf = (end: MorphEnd): Float32Array => {
    if (typeof end === "number") return new Rng(end).normalArray(per);
    const x = inverted.subarray(used * per, ++used * per);
    return mean ? Float32Array.from(x, (v, k) => (v - sa * mean[k]) / so) : x.slice();
  };
  const ea = noiseOf(a), eb = noiseOf(b);
  const weights = Array.from({ length: frames }, (_, j) => j / (frames - 1));
  const starts = concatFloat32(weights.map((w) => {
    const e = slerp(ea, eb, w);
    return mean ? priorStart(schedule, ts[0], mean, e) : e;
  }));
  const out = await reverseFrom(denoiser, schedule, {
    n: frames,
    sampler,
    steps: options.steps,
    eta: 0,
    clip: options.clip,
    batch: options.batch,
    timesteps: ts,
    start: (first, bsz) => starts.slice(first * per, (first + bsz) * per),
    onProgress: progress,
  });
  return { images: out, frames, size, weights, seconds: (performance.now() - startTime) / 1000 };
}
