/**
 * emoji-diffusion: a denoising diffusion model (DDPM) that learns emoji faces and draws new ones
 * from noise, on TensorFlow.js in Deno (WebGPU when there is a GPU, the system BLAS through FFI on a
 * CPU, a trainable wasm backend otherwise). The API takes and returns plain typed arrays.
 *
 * Permissions, imported from JSR (`jsr:@emoji-diffusion/core`), or from a checkout:
 * - `--allow-read`: the wasm backend reads its binary from the installed npm package (in Deno's
 *   cache or `node_modules/`); also checkpoints and datasets read from disk.
 * - `--allow-net=jsr.io`: {@linkcode EmojiDiffusion.pretrained} downloads the shipped model (about
 *   4.5 MB) from where the package was imported; not needed when the library is local files, nor
 *   for checkpoints on disk. Importing from JSR needs no `--allow-import` (jsr.io is allowed by
 *   default); importing from another host needs `--allow-import=<host>` and `--allow-net=<host>`.
 * - `--allow-env --allow-ffi`: PNG (`gridPng`, datasets): imagescript loads a native addon.
 * - `--allow-ffi`: the `native` backend (`initBackend("native")`, and `"auto"` on a machine without a
 *   GPU) calls the system BLAS (OpenBLAS, BLIS, MKL, Accelerate; `EMOJI_DIFFUSION_BLAS` names a path,
 *   read with `--allow-env=EMOJI_DIFFUSION_BLAS`). Without it, `"auto"` says so and uses wasm.
 * - `--allow-write` for the folders you write to (`train`, `prepareDataset`).
 * - Threaded wasm (`wasmThreads` above 1) writes two scripts to the temp folder: `--allow-write
 *   --allow-env` (`TMPDIR`), and `--allow-sys` for `wasmThreads: "auto"` (it reads the CPU load).
 *   Without them it says why and runs on one thread.
 *
 * So 16 emojis from the shipped model need `deno run --allow-read --allow-net=jsr.io main.ts`, and
 * saving them as a PNG adds `--allow-env --allow-ffi --allow-write=<file>`; check those first with
 * {@linkcode requirePermissions}, before the sampling. Imported by path from a clone
 * (`<clone>/mod.ts`), the library resolves its npm imports through the clone's import map: run with
 * `--config <clone>/deno.json`.
 *
 * @example Generate 16 emojis with the shipped model
 * ```ts ignore
 * import { EmojiDiffusion, initBackend } from "jsr:@emoji-diffusion/core";
 * await initBackend("auto");
 * const { images } = await (await EmojiDiffusion.pretrained("apple-faces")).sample({ n: 16, seed: 1 });
 * ```
 *
 * @example Load a checkpoint from a path, a URL or bytes
 * ```ts ignore
 * import { EmojiDiffusion, initBackend } from "jsr:@emoji-diffusion/core";
 * await initBackend("wasm");
 * const fromFile = await EmojiDiffusion.load("data/runs/mine/latest.safetensors");
 * const fromUrl = await EmojiDiffusion.load(new URL("https://example.com/unet.safetensors"), {
 *   onProgress: ({ loaded, total }) => console.error(`${loaded} / ${total ?? "?"} bytes`),
 * });
 * const fromBytes = await EmojiDiffusion.load(await Deno.readFile("unet.safetensors"));
 * ```
 *
 * @example The forward process
 * ```ts
 * import assert from "node:assert/strict";
 * import { initBackend, makeSchedule, qSample } from "./mod.ts";
 * await initBackend("cpu", { log: null });
 * const schedule = makeSchedule("linear", 500);
 * const x0 = { data: new Float32Array(32 * 32 * 3), shape: [1, 32, 32, 3] as [number, number, number, number] };
 * const xt = await qSample(schedule, x0, [250], { data: new Float32Array(32 * 32 * 3).fill(1), shape: x0.shape });
 * assert.ok(Math.abs(xt.data[0] - schedule.sqrtOneMinusAlphasCumprod[250]) < 1e-6);
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
  nativeAvailable,
} from "./src/backend/select.ts";
export {
  BLAS_CANDIDATES,
  BLAS_ENV,
  type BlasCandidate,
  BlasUnavailableError,
} from "./src/backend/native/blas.ts";
export {
  cosineBetaSchedule,
  type DiffusionSchedule,
  linearBetaSchedule,
  makeSchedule,
  SCHEDULE_KINDS,
  scheduleFromBetas,
  type ScheduleKind,
} from "./src/core/schedule.ts";
export {
  type DatasetImages,
  type EditConditioning,
  EmojiDiffusion,
  gridPng,
  type ImageBatch,
  loadDataset,
  type LoadOptions,
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
  type Parameterization,
  type SeedConfig,
  type UNetConfig,
} from "./src/model/model.ts";
export { DEFAULT_TRAIN_CONFIG, type RunOptions, type RunResult } from "./src/train/run.ts";
export type { LossRow } from "./src/train/loss_plot.ts";
export { NonFiniteLossError, type StepReport, type TrainConfig } from "./src/train/trainer.ts";
export { DataParallelError } from "./src/backend/parallel_plan.ts";
export type { NoiseWorkers } from "./src/sample/parallel_noise.ts";
export { FileWriteError, type LockOwner, RunLockedError, RunWriteError, UsageError } from "./src/errors.ts";
export { type LossCsvRow, RunFolder, type RunFolderOptions } from "./src/train/run_folder.ts";
export {
  MissingPermissionError,
  type NeededPermission,
  PNG_PERMISSIONS,
  requirePermissions,
  writePermission,
} from "./src/platform/permissions.ts";
export { type DataPrediction, ddimStep, ddpmStep, dpmSolverStep } from "./src/sample/steps_plain.ts";
export { DEFAULT_GUIDANCE, DEFAULT_SAMPLER, DEFAULT_STEPS } from "./src/sample/defaults.ts";
export {
  ANY_VALUE,
  LABEL_FIELDS,
  LabelError,
  type LabelField,
  type Labels,
  type LabelVocabulary,
  resolveLabels,
  type SamplingDefaults,
} from "./src/model/labels.ts";
export { ddimTimesteps } from "./src/sample/steps.ts";
export { FULL_GUIDANCE_INTERVAL, guidanceAt, type GuidanceInterval } from "./src/sample/guidance_interval.ts";
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
  type DecodeOptions,
  encodeCheckpoint,
  type EncodeOptions,
  loadCheckpoint,
  saveCheckpoint,
  type StoredTensor,
} from "./src/checkpoint/format.ts";
export type { CheckpointSource, LoadCheckpointOptions, LoadProgress } from "./src/checkpoint/source.ts";
export { PRETRAINED_MODELS, type PretrainedModel } from "./src/checkpoint/pretrained.ts";
export {
  DatasetError,
  type DatasetManifest,
  type DatasourceVendor,
  type ManifestAtlas,
  type ManifestImage,
  type ManifestSource,
  prepareDataset,
  type PrepareOptions,
  type PrepareResult,
  type SvgVendor,
  type Vendor,
  VENDORS,
} from "./src/dataset/mod.ts";
export type { Rgb } from "./src/image/colour.ts";
export { Rng, type RngState } from "./src/core/rng.ts";
