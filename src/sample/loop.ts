/**
 * The one reverse-process loop: ordinary sampling, variations, inpainting and morphs all run it. It
 * walks a grid of timesteps batch by batch with one of the samplers of {@linkcode ./sampler.ts},
 * asks a noise function for ε, and has hooks for where the start comes from, for RePaint's known
 * region and resampling (inpainting), and for frames of x_t (animations, live previews).
 *
 * The random draws come in one fixed order, which is what makes a seed reproducible: per batch, the
 * start noise, then per step (and per try) the step's z (when the sampler draws one), the known
 * region's noise, and the noise of a jump back. On WebGPU, which queues work without bound unless
 * something waits on it, the loop awaits `x.data()` every 10th network evaluation of a batch (never
 * `dataSync`); wasm and cpu run each op eagerly.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { Rng } from "../core/rng.ts";
import type { DiffusionSchedule } from "../core/schedule.ts";
import type { SamplerName } from "./defaults.ts";
import { reverseSampler } from "./sampler.ts";

/**
 * ε_θ(x_t, t) for a batch, one timestep per example (or a promise of it, e.g. computed in parts by
 * workers); the caller disposes the result.
 */
export type NoiseFunction = (x: tf.Tensor4D, t: number[]) => tf.Tensor | Promise<tf.Tensor>;

/** RePaint's known region (Lugmayr et al. 2022): what inpainting keeps, and how often it retries. */
export interface KnownRegion {
  /** The known images, n of them (NHWC, [−1, 1]), one per output. */
  images: Float32Array;
  /** One byte per pixel (size·size, row-major): 1 = redraw, 0 = keep the known image. */
  mask: Uint8Array;
  /** Tries per step, k ≥ 1: k − 1 jumps back and redone steps. */
  resample: number;
}

/** Options of {@linkcode reverseLoop}. */
export interface ReverseLoopOptions {
  /** `ddpm`, `ddim` or `dpm++2m`. */
  sampler: SamplerName;
  /** DDIM's η. */
  eta: number;
  /** Clip the predicted x0 to [−1, 1] inside each step. */
  clip: boolean;
  /** Number of images. */
  n: number;
  /** Images per forward pass. */
  batch: number;
  /** Image side. */
  size: number;
  /** The timesteps to visit, descending, ending at 0. */
  timesteps: number[];
  /** The one random stream of the run (start noise, every z). */
  rng: Rng;
  /** The noise function for images first … first + b − 1 (one per batch: e.g. their labels). */
  noise: (first: number, b: number) => NoiseFunction;
  /**
   * The start x at `timesteps[0]` for images first … first + b − 1, given the b images of standard
   * normal draws `noise`; may fill `noise` in place and return it.
   */
  start: (first: number, b: number, noise: Float32Array) => Float32Array;
  /** Inpainting: the region to keep, replaced after every step (see {@linkcode KnownRegion}). */
  known?: KnownRegion;
  /** Keep a frame of x_t (clipped to [−1, 1]) at the start and every this many grid steps (0 = none). */
  frameEvery?: number;
  /** Called with each frame as it is kept, for the b images from `first`; the loop awaits it. */
  onFrame?: (frame: Float32Array, first: number, b: number) => void | Promise<void>;
  /** Called after every network evaluation with (done, total) over all batches. */
  onProgress?: (stepsDone: number, stepsTotal: number) => void;
}

/** What {@linkcode reverseLoop} returns. */
export interface ReverseLoopResult {
  /** n·size·size·3 values clipped to [−1, 1]. */
  images: Float32Array;
  /** The frames kept (each n·size·size·3, clipped), when `frameEvery` > 0. */
  frames: Float32Array[];
}

/** The known region of one batch as tensors: the images and where to redraw (per channel). */
interface KnownBatch {
  x0: tf.Tensor;
  redraw: tf.Tensor;
}

function knownBatch(k: KnownRegion, first: number, b: number, size: number): KnownBatch {
  const per = size * size * 3, shape: [number, number, number, number] = [b, size, size, 3];
  const m = new Uint8Array(b * per);
  for (let i = 0; i < b * size * size; i++) m.fill(k.mask[i % (size * size)], 3 * i, 3 * i + 3);
  return {
    x0: tf.tensor4d(k.images.subarray(first * per, (first + b) * per), shape),
    redraw: tf.tensor4d(m, shape, "bool"),
  };
}

/** ᾱ at index t, 1 at t = −1 (the clean image). */
function alphaBar(schedule: DiffusionSchedule, t: number): number {
  return t >= 0 ? schedule.alphasCumprod[t] : 1;
}

/**
 * RePaint's merge after a step t → tNext: the known region becomes the known image noised to tNext
 * (the image itself at the end), and with `jumpBack` the merged x is pushed back to t with
 * q(x_t | x_tNext) = N(√(ᾱ_t/ᾱ_tNext)·x, (1 − ᾱ_t/ᾱ_tNext)·I) for the next try. Disposes `x`.
 */
function mergeKnown(
  schedule: DiffusionSchedule,
  known: KnownBatch,
  x: tf.Tensor,
  t: number,
  tNext: number,
  jumpBack: boolean,
  normal: () => tf.Tensor,
): tf.Tensor {
  const abNext = alphaBar(schedule, tNext);
  const kz = tNext >= 0 ? normal() : null;
  let out = tf.tidy(() => {
    const atNext = kz
      ? tf.add(tf.mul(known.x0, Math.sqrt(abNext)), tf.mul(kz, Math.sqrt(1 - abNext)))
      : known.x0;
    return tf.where(known.redraw, x, atNext);
  });
  kz?.dispose();
  x.dispose();
  if (jumpBack) {
    const ratio = alphaBar(schedule, t) / abNext;
    const back = normal();
    const jumped = tf.tidy(() =>
      tf.add(tf.mul(out, Math.sqrt(ratio)), tf.mul(back, Math.sqrt(Math.max(0, 1 - ratio))))
    );
    back.dispose();
    out.dispose();
    out = jumped;
  }
  return out;
}

/**
 * Runs the reverse process along `timesteps` from the given start (see the module header). With an
 * ε of the data, DDIM η = 0 and a single step from t = 0 it returns x0 itself.
 *
 * @example One deterministic DDIM step from index 0 with ε ≡ 0 returns x_0/√ᾱ_0, clipped
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import "@tensorflow/tfjs-backend-cpu";
 * import { Rng } from "../core/rng.ts";
 * import { makeSchedule } from "../core/schedule.ts";
 * import { reverseLoop } from "./loop.ts";
 * await tf.setBackend("cpu");
 * const s = makeSchedule("linear", 10);
 * const { images, frames } = await reverseLoop(s, {
 *   sampler: "ddim", eta: 0, clip: true, n: 1, batch: 1, size: 1, timesteps: [0], rng: new Rng(1),
 *   noise: () => (x) => tf.zerosLike(x), start: () => Float32Array.of(0.5, 0.5, 0.5), frameEvery: 1,
 * });
 * assert.ok(Math.abs(images[0] - 0.5 / s.sqrtAlphasCumprod[0]) < 1e-6);
 * assert.equal(frames.length, 2);
 * ```
 */
export async function reverseLoop(
  schedule: DiffusionSchedule,
  o: ReverseLoopOptions,
): Promise<ReverseLoopResult> {
  const { n, batch, size, rng } = o;
  const ts = o.timesteps, per = size * size * 3;
  const tries = o.known ? o.known.resample : 1;
  const frameEvery = o.frameEvery ?? 0;
  const frameCount = frameEvery > 0 ? Math.ceil(ts.length / frameEvery) + 1 : 0;
  const images = new Float32Array(n * per);
  const frames = Array.from({ length: frameCount }, () => new Float32Array(n * per));
  const stepsTotal = ts.length * tries * Math.ceil(n / batch);
  let stepsDone = 0;
  const asyncBackend = tf.getBackend() === "webgpu";
  for (let first = 0; first < n; first += batch) {
    const b = Math.min(batch, n - first);
    const shape: [number, number, number, number] = [b, size, size, 3];
    const normal = () => tf.tensor4d(rng.normalArray(b * per), shape);
    let x: tf.Tensor = tf.tensor4d(o.start(first, b, rng.normalArray(b * per)), shape);
    const known = o.known ? knownBatch(o.known, first, b, size) : null;
    const eps = o.noise(first, b);
    const sampler = reverseSampler(o.sampler, schedule, { eta: o.eta, clip: o.clip, steps: ts.length });
    let frame = 0, evaluations = 0;
    const keepFrame = async () => {
      const clipped = tf.clipByValue(x, -1, 1);
      const values = await clipped.data() as Float32Array;
      clipped.dispose();
      frames[frame++].set(values, first * per);
      await o.onFrame?.(values, first, b);
    };
    if (frameCount) await keepFrame();
    for (let i = 0; i < ts.length; i++) {
      const t = ts[i], tNext = i + 1 < ts.length ? ts[i + 1] : -1;
      const tArr = new Array(b).fill(t);
      for (let r = 0; r < tries; r++) {
        const z = sampler.drawsNoise(t) ? normal() : null;
        const e = await eps(x as tf.Tensor4D, tArr);
        const next = sampler.step(x, e, i, t, tNext, z);
        e.dispose();
        x.dispose();
        z?.dispose();
        x = known ? mergeKnown(schedule, known, next, t, tNext, r + 1 < tries, normal) : next;
        evaluations++;
        o.onProgress?.(++stepsDone, stepsTotal);
        if (asyncBackend && evaluations % 10 === 0) await x.data();
      }
      sampler.endStep();
      if (frameCount && ((i + 1) % frameEvery === 0 || i === ts.length - 1) && frame < frameCount) {
        await keepFrame();
      }
    }
    sampler.dispose();
    const out = tf.tidy(() => tf.clipByValue(x, -1, 1));
    images.set(await out.data() as Float32Array, first * per);
    out.dispose();
    x.dispose();
    known?.x0.dispose();
    known?.redraw.dispose();
  }
  return { images, frames };
}
