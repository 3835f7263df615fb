/**
 * Sampling: noise → images with DDPM (every step), DDIM or DPM-Solver++(2M) (S evenly spaced
 * steps, S network evaluations), on the one reverse loop of {@linkcode ./loop.ts}.
 *
 * @module
 */
import type { DiffusionModel } from "../model/model.ts";
import type { NoiseWorkers } from "./parallel_noise.ts";
import type { ParamMap } from "../model/context.ts";
import { Rng } from "../core/rng.ts";
import type { DiffusionSchedule } from "../core/schedule.ts";
import {
  DEFAULT_ETA,
  DEFAULT_GUIDANCE,
  DEFAULT_SAMPLER,
  DEFAULT_STEPS,
  defaultBatch,
  type SamplerName,
  SAMPLERS,
} from "./defaults.ts";
import { labelBatch, LabelError, type Labels, resolveLabels } from "../model/labels.ts";
import { guidedNoise } from "./guidance.ts";
import { checkGuidanceInterval, type GuidanceInterval } from "./guidance_interval.ts";
import { reverseLoop } from "./loop.ts";
import { priorStart } from "./prior.ts";
import { ddimTimesteps } from "./steps.ts";

export { type SamplerName, SAMPLERS };

/** Options of {@linkcode sampleImages}. */
export interface SampleOptions {
  /** Number of images. */
  n: number;
  /** Images per forward pass (default {@linkcode defaultBatch}(n)). */
  batch?: number;
  /** `ddpm` (T steps), `ddim` or `dpm++2m` (default {@linkcode DEFAULT_SAMPLER}). */
  sampler?: SamplerName;
  /** Steps S ≤ T of DDIM and DPM-Solver++ (default {@linkcode DEFAULT_STEPS}; ignored by DDPM). */
  steps?: number;
  /** DDIM η (default {@linkcode DEFAULT_ETA}); DPM-Solver++(2M) is deterministic and takes only 0. */
  eta?: number;
  /** Clip the predicted x0 to [−1, 1] inside each step (default true). */
  clip?: boolean;
  /** Seed of the initial noise and of every z; same seed → same images. */
  seed?: number;
  /**
   * The training set's mean image (H·W·3, NHWC, [−1, 1]), e.g. a checkpoint's `data/mean`: the
   * start is then drawn from N(√ᾱ·mean, (1 − ᾱ)·I) at the first timestep, the forward marginal's
   * mean (see {@linkcode priorStart}), instead of N(0, I). Strongly recommended whenever ᾱ_T is not
   * ≈ 0, as with the default linear schedule.
   */
  dataMean?: Float32Array;
  /** Keep a frame of x_t every this many steps for an animation (0 = none). */
  frameEvery?: number;
  /**
   * Called with each frame as it is kept (see `frameEvery`), for live previews: x_t clipped to
   * [−1, 1] for the `count` images of the batch starting at image `first`. Sampling waits for a
   * returned promise (a page can let itself repaint).
   */
  onFrame?: (frame: Float32Array, first: number, count: number) => void | Promise<void>;
  /**
   * Labels of a conditioned model (see `model.labels`): one set for every image, or one per image (n
   * of them, e.g. one label value per grid row). Fields left out take their null entry.
   */
  labels?: Labels | Labels[];
  /**
   * Classifier-free guidance weight w: ε = ε_null + w·(ε_cond − ε_null), one forward pass of 2B
   * images (default {@linkcode DEFAULT_GUIDANCE}; w = 1 is the conditional model alone, one pass of B).
   */
  guidance?: number;
  /**
   * The timesteps where guidance applies, as fractions of T (default `[0, 1]`: every step); outside
   * them a step is one conditional pass of B images. See {@linkcode GuidanceInterval}.
   */
  guidanceInterval?: GuidanceInterval;
  /** Called after every step of every batch with (images done so far, total steps done, total steps). */
  onProgress?: (stepsDone: number, stepsTotal: number) => void;
  /**
   * Workers to split every batch's network evaluations with ({@linkcode NoiseWorkers}, started for this
   * model and weights): one part on this thread, one on each worker, at the same time; the same images
   * to within float rounding. The caller closes them. Default: none.
   */
  workers?: NoiseWorkers;
}

/** What {@linkcode sampleImages} returns. */
export interface SampleResult {
  /** n×H×W×3 values in [−1, 1], NHWC. */
  images: Float32Array;
  /** Number of images. */
  n: number;
  /** Image side. */
  size: number;
  /** Frames of the reverse process (each n×H×W×3, clipped to [−1, 1]), when asked for. */
  frames: Float32Array[];
  /** Wall-clock seconds. */
  seconds: number;
}

/** Validates sampling options against a schedule, throwing a RangeError naming the bad value. */
export function checkSampleOptions(o: SampleOptions, T: number): void {
  if (!Number.isInteger(o.n) || o.n < 1) throw new RangeError(`n must be a positive integer, got ${o.n}`);
  if (o.batch !== undefined && (!Number.isInteger(o.batch) || o.batch < 1)) {
    throw new RangeError(`batch must be a positive integer, got ${o.batch}`);
  }
  const sampler = o.sampler ?? DEFAULT_SAMPLER;
  if (!SAMPLERS.includes(sampler)) {
    throw new RangeError(`unknown sampler "${sampler}": choose one of ${SAMPLERS.join(", ")}`);
  }
  if (sampler !== "ddpm") ddimTimesteps(T, o.steps ?? DEFAULT_STEPS);
  if (o.eta !== undefined && !(o.eta >= 0)) throw new RangeError(`eta must be >= 0, got ${o.eta}`);
  if (sampler === "dpm++2m" && (o.eta ?? 0) !== 0) {
    throw new RangeError(`eta ${o.eta} applies to ddim only: dpm++2m is deterministic (eta 0)`);
  }
  if (o.guidance !== undefined && !Number.isFinite(o.guidance)) {
    throw new RangeError(`guidance must be a finite number, got ${o.guidance}`);
  }
  if (o.guidanceInterval !== undefined) checkGuidanceInterval(o.guidanceInterval);
  if (Array.isArray(o.labels) && o.labels.length !== o.n) {
    throw new RangeError(
      `labels must be one set for all images or one per image (${o.n}), got ${o.labels.length}`,
    );
  }
}

/**
 * Each image's label indices (one list per image, in the vocabulary's field order), or null when no
 * labels were asked for.
 *
 * @throws {LabelError} for labels or guidance given to an unconditional model, an unknown field or value.
 */
export function sampleLabelIndices(model: DiffusionModel, o: SampleOptions): number[][] | null {
  if (o.guidance !== undefined && !model.labels) {
    throw new LabelError(
      `guidance ${o.guidance} given to an unconditional model: it has no labels to guide by`,
    );
  }
  if (o.labels === undefined) return null;
  const sets = Array.isArray(o.labels) ? o.labels : new Array<Labels>(o.n).fill(o.labels);
  const cache = new Map<string, number[]>();
  return sets.map((l) => {
    const key = JSON.stringify(l);
    if (!cache.has(key)) cache.set(key, resolveLabels(model.labels, l));
    return cache.get(key)!;
  });
}

/** The timestep indices a sampler visits, one network evaluation each. */
export function samplerTimesteps(sampler: SamplerName, T: number, steps = DEFAULT_STEPS): number[] {
  return sampler === "ddpm" ? Array.from({ length: T }, (_, i) => T - 1 - i) : ddimTimesteps(T, steps);
}

/** Throws a RangeError unless `dataMean` (when given) is one `size`×`size`×3 image of finite values. */
function checkDataMean(dataMean: Float32Array | undefined, size: number): void {
  if (!dataMean) return;
  if (dataMean.length !== size * size * 3) {
    throw new RangeError(
      `dataMean has ${dataMean.length} values; the model makes ${size}×${size}×3 = ${size * size * 3}`,
    );
  }
  if (!dataMean.every(Number.isFinite)) throw new RangeError("dataMean holds a non-finite value");
}

/**
 * Generates images from noise with a trained model, using `params` (default: the model's own;
 * pass the EMA weights for the good samples).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { initBackend } from "../backend/select.ts";
 * import { DiffusionModel, modelConfig } from "../model/model.ts";
 * import { makeSchedule } from "../core/schedule.ts";
 * import { sampleImages } from "./sample.ts";
 * await initBackend("cpu", { log: null });
 * const model = new DiffusionModel(modelConfig("unet", { channels: 8, channelMult: [1, 1, 1], groups: 4, attention: false }));
 * const out = await sampleImages(model, makeSchedule("linear", 20), { n: 1, steps: 2, seed: 1 });
 * assert.equal(out.images.length, 32 * 32 * 3);
 * ```
 */
export async function sampleImages(
  model: DiffusionModel,
  schedule: DiffusionSchedule,
  options: SampleOptions,
  params: ParamMap = model.params,
): Promise<SampleResult> {
  checkSampleOptions(options, schedule.T);
  const start = performance.now();
  const { n } = options;
  const size = model.imageSize;
  checkDataMean(options.dataMean, size);
  const labelIdx = sampleLabelIndices(model, options);
  const guidance = options.guidance ?? DEFAULT_GUIDANCE;
  const limit = options.guidanceInterval ? { interval: options.guidanceInterval, T: schedule.T } : undefined;
  const ts = samplerTimesteps(options.sampler ?? DEFAULT_SAMPLER, schedule.T, options.steps);
  const pool = options.workers;
  const { images, frames } = await reverseLoop(schedule, {
    sampler: options.sampler ?? DEFAULT_SAMPLER,
    eta: options.eta ?? DEFAULT_ETA,
    clip: options.clip ?? true,
    n,
    batch: Math.min(options.batch ?? defaultBatch(n), n),
    size,
    timesteps: ts,
    rng: new Rng(options.seed ?? 0),
    start: (_first, _b, noise) =>
      options.dataMean ? priorStart(schedule, ts[0], options.dataMean, noise) : noise,
    noise: (first, b) => {
      const rows = labelIdx?.slice(first, first + b);
      const labels = rows && rows.some((r) => r.some((k) => k >= 0))
        ? labelBatch(rows, rows[0].length)
        : undefined;
      return pool
        ? pool.guidedNoise(labels, guidance, limit)
        : guidedNoise(model, labels, guidance, params, limit, schedule);
    },
    frameEvery: options.frameEvery,
    onFrame: options.onFrame,
    onProgress: options.onProgress,
  });
  return { images, n, size, frames, seconds: (performance.now() - start) / 1000 };
}
