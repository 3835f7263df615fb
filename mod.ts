/**
 * emoji-diffusion: a denoising diffusion model (DDPM) that learns emoji faces and draws new ones
 * from noise, on TensorFlow.js in Deno (WebGPU when there is a GPU, a trainable wasm backend
 * otherwise). The API takes and returns plain typed arrays.
 *
 * Permissions: `--allow-read --allow-env --allow-ffi` (imagescript, used for PNG, loads a native
 * addon), `--allow-write` for the folders you write to, `--allow-sys` for the wasm backend.
 *
 * @example Generate emojis from a checkpoint
 * ```ts ignore
 * import { EmojiDiffusion, initBackend } from "@emoji-diffusion/core";
 * await initBackend("auto");
 * const model = await EmojiDiffusion.load("data/models/apple-faces-unet.safetensors");
 * const { images } = await model.sample({ n: 16, sampler: "ddim", steps: 50, seed: 1 });
 * ```
 *
 * @example The forward process
 * ```ts
 * import { initBackend, makeSchedule, qSample } from "./mod.ts";
 * await initBackend("cpu", { log: null });
 * const schedule = makeSchedule("linear", 500);
 * const x0 = { data: new Float32Array(32 * 32 * 3), shape: [1, 32, 32, 3] as [number, number, number, number] };
 * const xt = await qSample(schedule, x0, [250], { data: new Float32Array(32 * 32 * 3).fill(1), shape: x0.shape });
 * console.assert(Math.abs(xt.data[0] - schedule.sqrtOneMinusAlphasCumprod[250]) < 1e-6);
 * ```
 *
 * @module
 */
export {
  BACKEND_REQUESTS,
  type BackendInfo,
  type BackendName,
  type BackendRequest,
  initBackend,
  type InitBackendOptions,
} from "./src/backend.ts";
export {
  cosineBetaSchedule,
  type DiffusionSchedule,
  linearBetaSchedule,
  makeSchedule,
  SCHEDULE_KINDS,
  scheduleFromBetas,
  type ScheduleKind,
} from "./src/schedule.ts";
export {
  type DatasetImages,
  EmojiDiffusion,
  gridPng,
  type ImageBatch,
  loadDataset,
  qSample,
  sample,
  train,
  type TrainOptions,
} from "./src/api.ts";
export {
  DEFAULT_SEED_CONFIG,
  DEFAULT_UNET_CONFIG,
  MODEL_PRESETS,
  type ModelConfig,
  modelConfig,
  type SeedConfig,
  type UNetConfig,
} from "./src/model/model.ts";
export { DEFAULT_TRAIN_CONFIG, type RunOptions, type RunResult } from "./src/train/run.ts";
export type { LossRow } from "./src/train/loss_plot.ts";
export type { StepReport, TrainConfig } from "./src/train/trainer.ts";
export {
  type DataPrediction,
  ddimStepArray as ddimStep,
  ddpmStepArray as ddpmStep,
  dpmSolverStepArray as dpmSolverStep,
} from "./src/sample/steps_plain.ts";
export { DEFAULT_SAMPLER, DEFAULT_STEPS } from "./src/sample/defaults.ts";
export { ddimTimesteps } from "./src/sample/steps.ts";
export { meanImage, priorStart } from "./src/sample/prior.ts";
export { type SampleOptions, type SampleResult, type SamplerName, SAMPLERS } from "./src/sample/sample.ts";
export {
  type EditOptions,
  type EditResult,
  type EditSamplerOptions,
  editTimesteps,
  type MorphEnd,
  type MorphOptions,
  type MorphResult,
} from "./src/sample/edit.ts";
export { slerp } from "./src/sample/slerp.ts";
export {
  type Checkpoint,
  CheckpointError,
  type CheckpointMeta,
  DATA_MEAN_TENSOR,
  decodeCheckpoint,
  encodeCheckpoint,
  type EncodeOptions,
  loadCheckpoint,
  saveCheckpoint,
  type StoredTensor,
} from "./src/checkpoint.ts";
export {
  type DatasetManifest,
  type ManifestAtlas,
  type ManifestImage,
  type ManifestSource,
  prepareDataset,
  type PrepareOptions,
  type PrepareResult,
  type Vendor,
  VENDORS,
} from "./src/dataset.ts";
export type { Rgb } from "./src/image.ts";
export { Rng, type RngState } from "./src/rng.ts";
