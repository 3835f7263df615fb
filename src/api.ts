/**
 * The library's public face: plain typed arrays and the project's own interfaces in, the same
 * out, so that users (and `deno doc`) never need tfjs types.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { type Checkpoint, loadCheckpoint } from "./checkpoint/format.ts";
import type { CheckpointSource, LoadCheckpointOptions } from "./checkpoint/source.ts";
import { type PretrainedModel, pretrainedUrl } from "./checkpoint/pretrained.ts";
import { type LoadedModel, modelFromCheckpoint } from "./model/from_checkpoint.ts";
import { DiffusionModel, type ModelConfig } from "./model/model.ts";
import {
  type Labels,
  type LabelVocabulary,
  type SamplingDefaults,
  withSamplingDefaults,
} from "./model/labels.ts";
import { denoiserForLabels, predictNoise } from "./sample/guidance.ts";
import type { GuidanceInterval } from "./sample/guidance_interval.ts";
import { qSampleTensor } from "./core/q_sample.ts";
import { type DiffusionSchedule, makeSchedule, type ScheduleKind } from "./core/schedule.ts";
import { sampleImages, type SampleOptions, type SampleResult } from "./sample/sample.ts";
import { NoiseWorkers } from "./sample/parallel_noise.ts";
import { requireCpuBackend } from "./backend/parallel_plan.ts";
import {
  DEFAULT_TRAIN_CONFIG,
  type RunOptions,
  type RunResult,
  trainRun,
  withTrainDefaults,
} from "./train/run.ts";
import type { StepReport, TrainConfig } from "./train/trainer.ts";
import { type DatasetManifest, loadEmojiDataset } from "./dataset/mod.ts";
import { sampleGrid } from "./sample/output.ts";
import { decodeImage, encodePng } from "./image/codec.ts";
import { parseColor } from "./image/colour.ts";
import {
  type Denoiser,
  editImages,
  type EditOptions,
  type EditResult,
  type MorphEnd,
  morphImages,
  type MorphOptions,
  type MorphResult,
} from "./sample/edit.ts";
import { imageToModelInput, maskFromRgba } from "./sample/edit_input.ts";

/**
 * What to ask a conditioned model for in an edit ({@linkcode EmojiDiffusion.variations},
 * {@linkcode EmojiDiffusion.inpaint}, {@linkcode EmojiDiffusion.morph}): one label set for every image
 * and a classifier-free guidance weight; both default to the model's own
 * ({@linkcode EmojiDiffusion.samplingDefaults}).
 */
export interface EditConditioning {
  /** Labels (field → value); fields left out take the model's default label, `"*"` any value. */
  labels?: Labels;
  /** Classifier-free guidance weight w (default: the model's own, else 1). */
  guidance?: number;
  /** The timesteps guided, as fractions of T (default: the model's own, else `[0, 1]`, every step). */
  guidanceInterval?: GuidanceInterval;
}

/** A batch of images: NHWC float values (in [−1, 1] for images) and the shape [B, H, W, C]. */
export interface ImageBatch {
  /** B·H·W·C values, row-major NHWC. */
  data: Float32Array;
  /** [batch, height, width, channels]. */
  shape: [number, number, number, number];
}

function checkBatch(b: ImageBatch, what: string): void {
  const n = b.shape.reduce((a, c) => a * c, 1);
  if (b.shape.length !== 4 || !b.shape.every((d) => Number.isInteger(d) && d > 0) || n !== b.data.length) {
    throw new RangeError(`${what}: shape [${b.shape}] does not match ${b.data.length} values`);
  }
}

/**
 * The forward process on plain arrays: x_t = √ᾱ_t·x0 + √(1−ᾱ_t)·ε, one timestep per example,
 * computed on the active tfjs backend; exact (x_t is not clamped).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { initBackend, makeSchedule, qSample } from "../mod.ts";
 * await initBackend("cpu", { log: null });
 * const s = makeSchedule("linear", 500);
 * const x0 = { data: new Float32Array(3), shape: [1, 1, 1, 3] as [number, number, number, number] };
 * const eps = { data: Float32Array.of(1, 1, 1), shape: x0.shape };
 * const xt = await qSample(s, x0, [499], eps);
 * assert.ok(Math.abs(xt.data[0] - s.sqrtOneMinusAlphasCumprod[499]) < 1e-6);
 * ```
 */
export async function qSample(
  schedule: DiffusionSchedule,
  x0: ImageBatch,
  t: ArrayLike<number>,
  noise: ImageBatch,
): Promise<ImageBatch> {
  checkBatch(x0, "x0");
  checkBatch(noise, "noise");
  const out = tf.tidy(() =>
    qSampleTensor(schedule, tf.tensor4d(x0.data, x0.shape), t, tf.tensor4d(noise.data, noise.shape))
  );
  const data = await out.data() as Float32Array;
  out.dispose();
  return { data, shape: [...x0.shape] };
}

/** Options of {@linkcode EmojiDiffusion.load} and {@linkcode EmojiDiffusion.pretrained}. */
export interface LoadOptions extends LoadCheckpointOptions {
  /** Use the EMA weights when the checkpoint has them (default true). */
  useEma?: boolean;
}

/**
 * A noise-prediction model ready to sample: built from a preset config (random weights) or loaded
 * from a checkpoint (EMA weights by default).
 *
 * @example Sample from an untrained tiny model
 * ```ts
 * import assert from "node:assert/strict";
 * import { EmojiDiffusion, initBackend } from "../mod.ts";
 * await initBackend("cpu", { log: null });
 * const m = EmojiDiffusion.create({ preset: "unet", channels: 8, channelMult: [1, 2], blocks: 1, attention: false, groups: 4 });
 * const out = await m.sample({ n: 1, steps: 2, seed: 1 });
 * assert.equal(out.images.length, 32 * 32 * 3);
 * m.dispose();
 * ```
 */
export class EmojiDiffusion {
  #loaded: LoadedModel;

  private constructor(loaded: LoadedModel) {
    this.#loaded = loaded;
  }

  /** A model with freshly initialised weights (drawn from `seed`) and a schedule. */
  static create(
    config: ModelConfig,
    options: { seed?: number; schedule?: ScheduleKind; T?: number; imageSize?: number } = {},
  ): EmojiDiffusion {
    return new EmojiDiffusion({
      model: new DiffusionModel(config, options.seed ?? 0, options.imageSize ?? 32),
      schedule: makeSchedule(options.schedule ?? "linear", options.T ?? 500),
      usedEma: false,
      step: 0,
    });
  }

  /**
   * Loads a checkpoint from a path, a URL (`file:`, `http:`, `https:`), its bytes, or a decoded
   * checkpoint, with the same integrity checks for each; EMA weights unless `useEma` is false
   * (`false` alone is short for `{ useEma: false }`). `onProgress` follows a download.
   *
   * @throws {CheckpointError} when the file is corrupt, truncated or does not fit its model config.
   * @throws {Deno.errors.NotFound} when the file (or URL) does not exist.
   */
  static async load(
    source: CheckpointSource | Checkpoint,
    options: boolean | LoadOptions = {},
  ): Promise<EmojiDiffusion> {
    const opts: LoadOptions = typeof options === "boolean" ? { useEma: options } : options;
    const ckpt = typeof source === "string" || source instanceof URL || source instanceof Uint8Array
      ? await loadCheckpoint(source, opts)
      : source;
    return new EmojiDiffusion(modelFromCheckpoint(ckpt, opts.useEma ?? true));
  }

  /**
   * Loads a model shipped with the package by name (see {@linkcode PRETRAINED_MODELS}): read from
   * disk in a checkout, downloaded from where the package was imported from otherwise (e.g. JSR:
   * needs `--allow-net=jsr.io`; about 4.5 MB, `onProgress` follows it).
   *
   * @example
   * ```ts ignore
   * import { EmojiDiffusion, initBackend } from "@emoji-diffusion/core";
   * await initBackend("auto");
   * const { images } = await (await EmojiDiffusion.pretrained("apple-faces")).sample({ n: 16, seed: 1 });
   * ```
   */
  static async pretrained(name: PretrainedModel, options: LoadOptions = {}): Promise<EmojiDiffusion> {
    return await EmojiDiffusion.load(pretrainedUrl(name), options);
  }

  /** The model's preset and sizes. */
  get config(): ModelConfig {
    return structuredClone(this.#loaded.model.config);
  }

  /** The β schedule it samples with. */
  get schedule(): DiffusionSchedule {
    return this.#loaded.schedule;
  }

  /** Image side. */
  get imageSize(): number {
    return this.#loaded.model.imageSize;
  }

  /** Training steps behind the weights (0 for a fresh model). */
  get step(): number {
    return this.#loaded.step;
  }

  /** Number of trainable scalars. */
  get parameterCount(): number {
    return this.#loaded.model.parameterCount;
  }

  /**
   * The label vocabulary (field → values) of a model trained with `--condition`, or undefined for an
   * unconditional one. {@linkcode EmojiDiffusion.sample} takes `labels` from it and a `guidance` weight.
   *
   * @example Ask a (tiny, untrained) conditioned model for one vendor, with guidance
   * ```ts
   * import assert from "node:assert/strict";
   * import { EmojiDiffusion, initBackend } from "../mod.ts";
   * await initBackend("cpu", { log: null });
   * const m = EmojiDiffusion.create({
   *   preset: "unet", channels: 8, channelMult: [1, 2], blocks: 1, attention: false, groups: 4,
   *   labels: { vendor: ["apple", "google"], subcategory: ["face-smiling"] },
   * });
   * assert.equal(m.labels?.vendor.join(), "apple,google");
   * const out = await m.sample({ n: 1, steps: 2, seed: 1, labels: { vendor: "apple" }, guidance: 2 });
   * assert.equal(out.images.length, 32 * 32 * 3);
   * m.dispose();
   * ```
   */
  get labels(): LabelVocabulary | undefined {
    return structuredClone(this.#loaded.model.labels);
  }

  /**
   * The model's own sampling defaults from its checkpoint (labels for the fields a call leaves out, the
   * guidance weight), or undefined. The shipped default model draws Apple's faces unless asked for
   * another vendor: `{ labels: { vendor: "apple" }, guidance: … }`.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { EmojiDiffusion } from "../mod.ts";
   * const m = EmojiDiffusion.create({ preset: "unet", channels: 8, channelMult: [1, 2], blocks: 1, attention: false, groups: 4 });
   * assert.equal(m.samplingDefaults, undefined); // a fresh model has none
   * m.dispose();
   * ```
   */
  get samplingDefaults(): SamplingDefaults | undefined {
    return structuredClone(this.#loaded.sampling);
  }

  /** Labels and guidance with the model's defaults filled in (labels only for a conditioned model). */
  #conditioning<
    O extends { labels?: Labels | Labels[]; guidance?: number; guidanceInterval?: GuidanceInterval },
  >(options: O): O {
    return withSamplingDefaults(options, this.#loaded.model.labels, this.#loaded.sampling);
  }

  /** The denoiser the edits use: the model itself, or the model asked for the labels with guidance. */
  #denoiser(options: EditConditioning): Denoiser {
    const o = this.#conditioning(options);
    const limit = o.guidanceInterval
      ? { interval: o.guidanceInterval, T: this.#loaded.schedule.T }
      : undefined;
    return denoiserForLabels(this.#loaded.model, o.labels, o.guidance, limit, this.#loaded.schedule);
  }

  /** Forward FLOPs per image. */
  flopsPerImage(): number {
    return this.#loaded.model.flopsPerImage();
  }

  /** ε_θ(x_t, t) for a batch, one timestep index per example (an `edm` model's ε̂ from its denoiser). */
  async predictNoise(xt: ImageBatch, t: ArrayLike<number>): Promise<ImageBatch> {
    checkBatch(xt, "x_t");
    const { model, schedule } = this.#loaded;
    const out = tf.tidy(() =>
      predictNoise(model, tf.tensor4d(xt.data, xt.shape), t, model.params, undefined, schedule)
    );
    const data = await out.data() as Float32Array;
    out.dispose();
    return { data, shape: [...xt.shape] };
  }

  /**
   * The training set's mean image stored in the checkpoint (`data/mean`), or undefined (a fresh
   * model, an old checkpoint). {@linkcode EmojiDiffusion.sample} starts from it by default.
   */
  get dataMean(): Float32Array | undefined {
    return this.#loaded.dataMean?.slice();
  }

  /**
   * Generates images from noise (the sampler and steps of `DEFAULT_SAMPLER`, `DEFAULT_STEPS` by
   * default); see {@linkcode SampleOptions}. The start is
   * drawn around the checkpoint's data mean when it has one; pass `dataMean: undefined` for N(0, I).
   * A conditioned model's {@linkcode EmojiDiffusion.samplingDefaults} fill the label fields and the
   * guidance that `options` leave out (`labels: { vendor: "*" }` asks for any vendor).
   */
  sample(options: SampleOptions): Promise<SampleResult> {
    const withMean = this.#loaded.dataMean ? { dataMean: this.#loaded.dataMean, ...options } : options;
    return sampleImages(this.#loaded.model, this.#loaded.schedule, this.#conditioning(withMean));
  }

  /**
   * Starts `count` workers that hold this model on the CPU backend in use, for data-parallel
   * sampling: pass them as `workers` to {@linkcode EmojiDiffusion.sample}, and each batch's network
   * evaluations are split between this thread and them (the same images to within float rounding;
   * on `native` with two idle cores about 1.7× faster). Close them when done.
   *
   * @throws {DataParallelError} on a GPU backend, or when a worker cannot start.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { EmojiDiffusion, initBackend } from "../mod.ts";
   * await initBackend("cpu", { log: null });
   * const m = EmojiDiffusion.create({ preset: "unet", channels: 8, channelMult: [1, 2], blocks: 1, attention: false, groups: 4 });
   * const workers = await m.startWorkers(1);
   * try {
   *   const { images } = await m.sample({ n: 2, steps: 2, seed: 1, workers });
   *   assert.equal(images.length, 2 * 32 * 32 * 3);
   * } finally {
   *   workers.close();
   * }
   * m.dispose();
   * ```
   */
  async startWorkers(count = 1, options: { threads?: number } = {}): Promise<NoiseWorkers> {
    const backend = requireCpuBackend();
    return await NoiseWorkers.start(count, this.#loaded.model, this.#loaded.schedule, {
      backend,
      ...options,
    });
  }

  /**
   * An image file's bytes (PNG or JPEG) as a model input for {@linkcode EmojiDiffusion.variations},
   * {@linkcode EmojiDiffusion.inpaint} and {@linkcode EmojiDiffusion.morph}: composited over
   * `background` (default black, the shipped model's), centre-cropped and area-resized to the
   * model's size exactly as `deno task prepare` makes training images; size·size·3 values in [−1, 1].
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { EmojiDiffusion } from "../mod.ts";
   * import { encodePng } from "./image/codec.ts";
   * const m = EmojiDiffusion.create({ preset: "unet", channels: 8, channelMult: [1, 2], blocks: 1, attention: false, groups: 4 });
   * const white = await encodePng(new Uint8Array(64 * 64 * 4).fill(255), 64, 64);
   * const x = await m.imageInput(white);
   * assert.equal(x.length, 32 * 32 * 3);
   * assert.ok(x.every((v) => v === 1));
   * m.dispose();
   * ```
   */
  async imageInput(bytes: Uint8Array, background = "black"): Promise<Float32Array> {
    const img = await decodeImage(bytes);
    return imageToModelInput(img.rgba, img.width, img.height, this.imageSize, parseColor(background));
  }

  /**
   * A mask file's bytes as an inpainting mask (size·size values, 1 = redraw where the picture is
   * white, 0 = keep), resized to the model's size like {@linkcode EmojiDiffusion.imageInput}.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { EmojiDiffusion } from "../mod.ts";
   * import { encodePng } from "./image/codec.ts";
   * const m = EmojiDiffusion.create({ preset: "unet", channels: 8, channelMult: [1, 2], blocks: 1, attention: false, groups: 4 });
   * const mask = await m.maskInput(await encodePng(new Uint8Array(32 * 32 * 4).fill(255), 32, 32));
   * assert.equal(mask.length, 32 * 32);
   * assert.ok(mask.every((v) => v === 1));
   * m.dispose();
   * ```
   */
  async maskInput(bytes: Uint8Array): Promise<Uint8Array> {
    const img = await decodeImage(bytes);
    return maskFromRgba(img.rgba, img.width, img.height, this.imageSize);
  }

  /**
   * Variations of images (SDEdit): each of the inputs (count·size·size·3 values in [−1, 1], e.g. from
   * {@linkcode EmojiDiffusion.imageInput}) is noised to `strength` (in (0, 1]; small keeps more of the
   * input) and denoised `n` times; see {@linkcode EditOptions}. Returns the outputs input-major.
   *
   * @example Two variations of a grey square with a tiny untrained model
   * ```ts
   * import assert from "node:assert/strict";
   * import { EmojiDiffusion, initBackend } from "../mod.ts";
   * await initBackend("cpu", { log: null });
   * const m = EmojiDiffusion.create({ preset: "unet", channels: 8, channelMult: [1, 2], blocks: 1, attention: false, groups: 4 }, { T: 20 });
   * const out = await m.variations(new Float32Array(32 * 32 * 3), { strength: 0.5, n: 2, steps: 4, seed: 1 });
   * assert.equal(out.n, 2);
   * assert.equal(out.images.length, 2 * 32 * 32 * 3);
   * assert.equal(out.evaluations, 2);
   * m.dispose();
   * ```
   */
  variations(images: Float32Array, options: EditOptions & EditConditioning): Promise<EditResult> {
    return editImages(this.#denoiser(options), this.#loaded.schedule, images, options);
  }

  /**
   * Inpainting (RePaint): redraws where `mask` (size·size, 1 = redraw, e.g. from
   * {@linkcode EmojiDiffusion.maskInput}) is set and keeps every other pixel of the inputs exactly.
   * `strength` defaults to 1 (the redrawn part starts from pure noise), `resample` to 3 tries per step.
   *
   * @example Redraw the top half of a grey square with a tiny untrained model
   * ```ts
   * import assert from "node:assert/strict";
   * import { EmojiDiffusion, initBackend } from "../mod.ts";
   * await initBackend("cpu", { log: null });
   * const m = EmojiDiffusion.create({ preset: "unet", channels: 8, channelMult: [1, 2], blocks: 1, attention: false, groups: 4 }, { T: 20 });
   * const mask = new Uint8Array(32 * 32).fill(1, 0, 16 * 32);
   * const out = await m.inpaint(new Float32Array(32 * 32 * 3), mask, { steps: 2, resample: 1 });
   * assert.ok(out.images.subarray(16 * 32 * 3).every((v) => v === 0)); // the kept half, exactly
   * m.dispose();
   * ```
   */
  inpaint(
    images: Float32Array,
    mask: ArrayLike<number>,
    options: Omit<EditOptions, "mask" | "strength"> & { strength?: number } & EditConditioning = {},
  ): Promise<EditResult> {
    return editImages(this.#denoiser(options), this.#loaded.schedule, images, {
      resample: 3,
      ...options,
      strength: options.strength ?? 1,
      mask,
    });
  }

  /**
   * A morph between two ends, each a seed (the start `sample({ seed, n: 1 })` draws) or an image
   * (size·size·3 in [−1, 1], inverted with DDIM): spherical interpolation of the starting noise,
   * then deterministic sampling (`ddim` η = 0 or `dpm++2m`). Starts around the checkpoint's data mean
   * when it has one, like {@linkcode EmojiDiffusion.sample}; see {@linkcode MorphOptions}.
   *
   * @example A 3-frame morph between seeds 1 and 2 with a tiny untrained model
   * ```ts
   * import assert from "node:assert/strict";
   * import { EmojiDiffusion, initBackend } from "../mod.ts";
   * await initBackend("cpu", { log: null });
   * const m = EmojiDiffusion.create({ preset: "unet", channels: 8, channelMult: [1, 2], blocks: 1, attention: false, groups: 4 }, { T: 20 });
   * const out = await m.morph(1, 2, { frames: 3, steps: 2 });
   * const first = await m.sample({ n: 1, seed: 1, steps: 2 });
   * assert.equal(out.frames, 3);
   * assert.ok(out.images.subarray(0, 32 * 32 * 3).every((v, i) => Math.abs(v - first.images[i]) < 1e-5));
   * m.dispose();
   * ```
   */
  morph(a: MorphEnd, b: MorphEnd, options: MorphOptions & EditConditioning = {}): Promise<MorphResult> {
    const withMean = this.#loaded.dataMean ? { dataMean: this.#loaded.dataMean, ...options } : options;
    return morphImages(this.#denoiser(options), this.#loaded.schedule, a, b, withMean);
  }

  /** Releases the weights. */
  dispose(): void {
    this.#loaded.model.dispose();
  }
}

/** Options of {@linkcode train}. */
export interface TrainOptions extends Partial<Omit<RunOptions, "onStep">> {
  /** Called after every optimizer step with the step's numbers. */
  onStep?: (report: StepReport & { smoothed: number; imagesPerSecond: number; etaSeconds: number }) => void;
}

/**
 * Trains a model (the defaults of `deno task train`, overridden by `config`; see `withTrainDefaults`) and writes the run
 * folder (`out`, default `data/runs/library`): checkpoints, sample grids, loss.csv and loss.svg.
 *
 * @example Train for a few steps with a callback
 * ```ts ignore
 * import { initBackend, train } from "../mod.ts";
 * await initBackend("wasm");
 * const losses: number[] = [];
 * await train({ steps: 3, batch: 4 }, { out: "data/runs/example", onStep: (s) => losses.push(s.loss) });
 * ```
 */
export function train(config: Partial<TrainConfig> = {}, options: TrainOptions = {}): Promise<RunResult> {
  return trainRun(withTrainDefaults(config), {
    out: options.out ?? "data/runs/library",
    every: options.every ?? Math.max(1, config.steps ?? DEFAULT_TRAIN_CONFIG.steps),
    gridImages: options.gridImages,
    resume: options.resume,
    init: options.init,
    onStep: options.onStep,
    log: options.log === undefined ? null : options.log,
    signal: options.signal,
    checkpointMinutes: options.checkpointMinutes,
  });
}

/**
 * Generates images with a model: the function form of {@linkcode EmojiDiffusion.sample}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { EmojiDiffusion, initBackend, sample } from "../mod.ts";
 * await initBackend("cpu", { log: null });
 * const m = EmojiDiffusion.create({ preset: "unet", channels: 8, channelMult: [1, 2], blocks: 1, attention: false, groups: 4 });
 * const out = await sample(m, { n: 2, sampler: "ddim", steps: 2, seed: 3 });
 * assert.equal(out.n, 2);
 * assert.ok(out.images.every((v) => v >= -1 && v <= 1));
 * m.dispose();
 * ```
 */
export function sample(model: EmojiDiffusion, options: SampleOptions): Promise<SampleResult> {
  return model.sample(options);
}

/** A loaded dataset as plain data. */
export interface DatasetImages {
  /** Number of images. */
  count: number;
  /** Image side. */
  size: number;
  /** NHWC floats in [−1, 1], count·size·size·3 values. */
  images: Float32Array;
  /** The verified manifest. */
  manifest: DatasetManifest | null;
}

/**
 * Loads and verifies a prepared dataset (manifest, atlas hash) as plain arrays.
 *
 * @throws {DatasetError} when there is no dataset in `dir` or (with `corrupt`) its files fail their checks.
 *
 * @example
 * ```ts ignore
 * import { loadDataset } from "../mod.ts";
 * const ds = await loadDataset("data/apple-faces-32");
 * console.log(ds.count, ds.size);
 * ```
 */
export async function loadDataset(dir: string): Promise<DatasetImages> {
  const ds = await loadEmojiDataset(dir);
  return { count: ds.count, size: ds.size, images: ds.images, manifest: ds.manifest };
}

/**
 * Lays out n images (NHWC floats in [−1, 1]) as a √n × √n grid with 1-pixel gutters, upscaled
 * `scale`×, and encodes it as PNG bytes. Needs `--allow-ffi --allow-env --allow-read`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { gridPng } from "../mod.ts";
 * const png = await gridPng(new Float32Array(4 * 2 * 2 * 3), 4, 2, 1);
 * assert.equal(png[1], 0x50); // "PNG"
 * ```
 */
export async function gridPng(images: Float32Array, n: number, size: number, scale = 2): Promise<Uint8Array> {
  const grid = sampleGrid(images, n, size, scale);
  return await encodePng(grid.rgba, grid.width, grid.height);
}
