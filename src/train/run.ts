/**
 * A training run on disk: the run folder with checkpoints, sample grids, `loss.csv` and
 * `loss.svg`, a live progress line, and exact resumption.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { basename, dirname, extname, join } from "node:path";
import { type Checkpoint, encodeCheckpoint, loadCheckpoint } from "../checkpoint/format.ts";
import { type EmojiDataset, ensureDataset } from "../dataset/mod.ts";
import { encodePng } from "../image/codec.ts";
import { PROGRESS_GRID_SAMPLING } from "../sample/defaults.ts";
import { makeGrid } from "../image/grid.ts";
import { UsageError } from "../errors.ts";
import { sampleImages } from "../sample/sample.ts";
import { lossCurveSvg, type LossRow } from "./loss_plot.ts";
import { progressGridLayout } from "./progress_grid.ts";
import {
  NonFiniteLossError,
  type StepReport,
  type TrainConfig,
  Trainer,
  validateTrainConfig,
} from "./trainer.ts";
import { modelConfig } from "../model/model.ts";
import { requireCpuBackend, splitSizes } from "../backend/parallel_plan.ts";
import { type LossCsvRow, readLossCsv, RunFolder, type RunFolderOptions } from "./run_folder.ts";

/** Settings of a run besides the math: where it writes and how often. */
export interface RunOptions {
  /** Run folder (checkpoints, grids, loss.csv, loss.svg). */
  out: string;
  /** Write a checkpoint and a sample grid every this many steps (and at the end). */
  every: number;
  /**
   * Checkpoint to continue from (its config wins over `config` except `steps` and a given `cooldown`
   * or `dropout`).
   * When `out` has no loss.csv yet, the one beside the checkpoint seeds the history up to its step.
   */
  resume?: string;
  /** Checkpoint whose weights a new run starts from (fine-tuning; its model config wins). */
  init?: string;
  /**
   * Wall-clock budget of the training loop in minutes, checkpoints and grids included: no new step
   * starts once it is spent, and the run ends with a checkpoint and a grid (`config.steps` stays the cap).
   */
  minutes?: number;
  /**
   * Also write a checkpoint (without a grid) when this many minutes have passed since the last one
   * or the start, so that a long interval of `every` steps does not leave a young run without one
   * (default: none; `deno task train` uses 2).
   */
  checkpointMinutes?: number;
  /**
   * Stops the run: no new step starts once it is aborted, and the run ends with a checkpoint at the
   * step reached (written as every checkpoint is, atomically; no grid). `deno task train` aborts it on
   * SIGINT and SIGTERM.
   */
  signal?: AbortSignal;
  /** Images in each progress grid (0 = none). */
  gridImages?: number;
  /** Keep the newest this many `ckpt-*.safetensors` (default 3); `latest.safetensors` is always kept. */
  keep?: number;
  /** Also keep every checkpoint whose step is a multiple of this (default 0: none). */
  keepEvery?: number;
  /**
   * The run folder of `out`, already opened (locked) by the caller, e.g. to refuse a folder in use
   * before any other work; `trainRun` closes it. Default: opened by `trainRun`.
   */
  folder?: RunFolder;
  /** How files are written (tests inject a full disk here); see {@linkcode RunFolderOptions}. */
  writeAll?: RunFolderOptions["writeAll"];
  /**
   * Split every batch into this many parts, computed at the same time: one on this thread, each other
   * one by a worker with its own tfjs on this thread's CPU backend (see `Trainer.startWorkers`).
   * Default 1: no workers. Not for a GPU backend, a model with BatchNorm, or dropout.
   */
  workers?: number;
  /** BLAS threads of each worker's backend (default 1; its wasm kernels run on one thread). */
  workerThreads?: number;
  /** Folder the workers' threaded wasm build may write its scripts to. */
  tempDir?: string;
  /** Called after every step. */
  onStep?: (report: StepReport & { smoothed: number; imagesPerSecond: number; etaSeconds: number }) => void;
  /** Where messages go (default: stderr; null: nowhere). */
  log?: ((line: string) => void) | null;
  /**
   * Receives the progress line of every step (step, loss, images/s, ETA), e.g. to rewrite it in place
   * on a terminal. Default: every 10th step's line (and the last) goes to `log`.
   */
  progress?: (line: string, step: number, steps: number) => void;
}

/**
 * The default training configuration: the recipe of the shipped default model, `faces8`
 * (`configs/faces8.json`, `data/models/faces8/`): the notebook's linear schedule and T, a CPU-sized
 * batch, conditioned on vendor and subcategory, on the faces of the eight styles, with non-leaking
 * augmentation and three EMA decays kept.
 */
export const DEFAULT_TRAIN_CONFIG: TrainConfig = {
  data: "data/all-faces-32",
  model: modelConfig("unet"),
  condition: ["vendor", "subcategory"],
  condDrop: 0.1,
  augment: 0.15,
  schedule: "linear",
  T: 500,
  batch: 16,
  steps: 28200,
  lr: 2e-3,
  warmup: 100,
  gradClip: 1,
  ema: 0.999,
  emaExtra: [0.9995, 0.9999],
  seed: 0,
  cooldown: 4000,
};

/**
 * The configuration with a cooldown longer than its steps scaled to the same share of `baseSteps`
 * (the steps of the recipe or defaults the cooldown came from); unchanged otherwise.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULT_TRAIN_CONFIG, fitCooldown } from "./run.ts";
 * assert.equal(fitCooldown({ ...DEFAULT_TRAIN_CONFIG, steps: 2820 }, 28200).cooldown, 400);
 * assert.equal(fitCooldown({ ...DEFAULT_TRAIN_CONFIG, steps: 5000 }, 28200).cooldown, 4000);
 * ```
 */
export function fitCooldown(config: TrainConfig, baseSteps: number): TrainConfig {
  if ((config.cooldown ?? 0) <= config.steps) return config;
  return { ...config, cooldown: Math.round(config.cooldown! * config.steps / baseSteps) };
}

/**
 * A full configuration from the settings `given` and the `defaults` ({@linkcode DEFAULT_TRAIN_CONFIG}):
 * the defaults' label fields go with the defaults' data set only (another `data` without `condition`
 * trains unconditionally), and the defaults' cooldown is fitted to fewer steps ({@linkcode fitCooldown}).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { withTrainDefaults } from "./run.ts";
 * assert.deepEqual(withTrainDefaults({}).condition, ["vendor", "subcategory"]);
 * assert.equal(withTrainDefaults({ data: "data/mine" }).condition, undefined);
 * assert.equal(withTrainDefaults({ steps: 2820 }).cooldown, 400);
 * ```
 */
export function withTrainDefaults(
  given: Partial<TrainConfig>,
  defaults: TrainConfig = DEFAULT_TRAIN_CONFIG,
): TrainConfig {
  const otherData = given.data !== undefined && given.data !== defaults.data && given.condition === undefined;
  const { condition: _c, condDrop: _d, ...unlabelled } = defaults;
  const config = { ...(otherData ? unlabelled : defaults), ...given };
  return given.cooldown === undefined ? fitCooldown(config, defaults.steps) : config;
}

/** What {@linkcode trainRun} returns. */
export interface RunResult {
  /** Path of the final checkpoint. */
  checkpoint: string;
  /** Steps done in total. */
  steps: number;
  /** Loss rows of this invocation. */
  rows: LossRow[];
  /** Training images per second over this invocation. */
  imagesPerSecond: number;
  /** Why the run ended before `config.steps`: its `signal` was aborted, or its `minutes` were spent. */
  stopped?: "signal" | "minutes";
}

/**
 * The run settings besides the math that each checkpoint of {@linkcode trainRun} records (in
 * `meta.notes.run`), so that a resume continues with them unless told otherwise.
 */
export interface SavedRunSettings {
  /** Checkpoint and grid every this many steps. */
  every?: number;
  /** Images in each progress grid. */
  gridImages?: number;
  /** Step checkpoints kept. */
  keep?: number;
  /** Every checkpoint whose step is a multiple of this is also kept. */
  keepEvery?: number;
  /** Minutes between checkpoints written on time. */
  checkpointMinutes?: number;
}

/**
 * The run settings a checkpoint of {@linkcode trainRun} recorded (see {@linkcode SavedRunSettings});
 * only fields of the right type are returned, so a checkpoint without them gives `{}`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { savedRunSettings } from "./run.ts";
 * assert.deepEqual(savedRunSettings({ notes: { run: { every: 50, gridImages: "x" } } }), { every: 50 });
 * assert.deepEqual(savedRunSettings({}), {});
 * ```
 */
export function savedRunSettings(meta: { notes?: Record<string, unknown> }): SavedRunSettings {
  const run = meta.notes?.run;
  if (!run || typeof run !== "object") return {};
  const out: SavedRunSettings = {};
  for (const key of ["every", "gridImages", "keep", "keepEvery", "checkpointMinutes"] as const) {
    const v = (run as Record<string, unknown>)[key];
    if (typeof v === "number" && Number.isFinite(v) && v >= 0) out[key] = v;
  }
  return out;
}

function fmtDuration(s: number): string {
  if (!Number.isFinite(s)) return "?";
  const m = Math.floor(s / 60), r = Math.round(s % 60);
  return m ? `${m}m${String(r).padStart(2, "0")}s` : `${r}s`;
}

/**
 * The run folder a new run writes when none is given: `data/runs/<recipe>` for a run from a recipe file
 * (`configs/apple-faces.json` → `data/runs/apple-faces`, with `-s<seed>` when the seed is not the
 * recipe's), else `data/runs/<model>-<schedule>-s<seed>`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULT_TRAIN_CONFIG, defaultRunFolder } from "./run.ts";
 * assert.equal(defaultRunFolder(DEFAULT_TRAIN_CONFIG, { path: "configs/apple-faces.json" }), "data/runs/apple-faces");
 * assert.equal(defaultRunFolder({ ...DEFAULT_TRAIN_CONFIG, seed: 3 }, { path: "configs/apple-faces.json", seed: 0 }),
 *   "data/runs/apple-faces-s3");
 * assert.equal(defaultRunFolder(DEFAULT_TRAIN_CONFIG), "data/runs/unet-linear-s0");
 * ```
 */
export function defaultRunFolder(config: TrainConfig, recipe?: { path: string; seed?: number }): string {
  if (!recipe) return `data/runs/${config.model.preset}-${config.schedule}-s${config.seed}`;
  const name = basename(recipe.path, extname(recipe.path)) || "recipe";
  const own = recipe.seed ?? DEFAULT_TRAIN_CONFIG.seed;
  return `data/runs/${name}${config.seed === own ? "" : `-s${config.seed}`}`;
}

/**
 * What a resume of `checkpoint` continues with when nothing else is said: the checkpoint's own folder,
 * its run's step total (`meta.train.steps`) and the run settings it recorded
 * ({@linkcode savedRunSettings}).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resumeDefaults } from "./run.ts";
 * const d = resumeDefaults("data/runs/a/latest.safetensors", { train: { steps: 2600 }, notes: { run: { every: 200 } } });
 * assert.deepEqual(d, { out: "data/runs/a", steps: 2600, every: 200 });
 * ```
 */
export function resumeDefaults(
  checkpoint: string,
  meta: { train?: Record<string, unknown>; notes?: Record<string, unknown> },
): SavedRunSettings & { out: string; steps?: number } {
  const steps = meta.train?.steps;
  return {
    out: dirname(checkpoint),
    ...(typeof steps === "number" && Number.isInteger(steps) && steps >= 1 ? { steps } : {}),
    ...savedRunSettings(meta),
  };
}

/** A command-line word quoted for a POSIX shell when it needs to be. */
function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", "'\\''")}'`;
}

/**
 * The command that continues a stopped run from `checkpoint` (in its own folder, to its own step
 * total), with `flags` that the checkpoint does not record (e.g. `--backend wasm`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resumeCommand } from "./run.ts";
 * assert.equal(resumeCommand("data/runs/a b/latest.safetensors", ["--backend", "wasm"]),
 *   "deno task train --resume 'data/runs/a b/latest.safetensors' --backend wasm");
 * ```
 */
export function resumeCommand(checkpoint: string, flags: readonly string[] = []): string {
  return ["deno", "task", "train", "--resume", checkpoint, ...flags].map(shellWord).join(" ");
}

/**
 * The configuration a run trains, from the one asked for and the checkpoint it continues or starts
 * from. A resumed run trains its checkpoint's model with its checkpoint's settings, except what a
 * resume usually changes: the run's length (`steps`), its end-of-run decay (`cooldown`) and its
 * `dropout` (each kept from the checkpoint unless given), and more EMA decays to keep (a given
 * `emaExtra` adds `ema` and its decays to the checkpoint's own). A fine-tuned run (`init`) trains the
 * checkpoint's model with the settings asked for, and records where its weights came from.
 *
 * @example A resume keeps the checkpoint's batch but takes the new length
 * ```ts
 * import assert from "node:assert/strict";
 * import { runConfig } from "./run.ts";
 * import { DEFAULT_TRAIN_CONFIG } from "./run.ts";
 * import type { Checkpoint } from "../checkpoint/format.ts";
 * const resume = { meta: { model: DEFAULT_TRAIN_CONFIG.model, train: { ...DEFAULT_TRAIN_CONFIG, batch: 16 } },
 *   tensors: new Map() } as unknown as Checkpoint;
 * const c = runConfig({ ...DEFAULT_TRAIN_CONFIG, batch: 64, steps: 5000 }, { resume });
 * assert.equal(c.batch, 16);
 * assert.equal(c.steps, 5000);
 * ```
 */
export function runConfig(
  config: TrainConfig,
  from: { resume?: Checkpoint; init?: { path: string; checkpoint: Checkpoint } } = {},
): TrainConfig {
  if (from.resume) {
    const saved = from.resume.meta.train as Partial<TrainConfig> | undefined;
    const cooldown = config.cooldown ?? saved?.cooldown;
    const dropout = config.dropout ?? saved?.dropout;
    // decays asked for on resume (a list: emaExtra set) join the checkpoint's kept averages
    const main = saved?.ema ?? config.ema;
    const asked = config.emaExtra === undefined ? [] : [config.ema, ...config.emaExtra];
    const emaExtra = [...new Set([...saved?.emaExtra ?? [], ...asked])].filter((d) => d !== main);
    return {
      ...config,
      ...saved,
      model: from.resume.meta.model,
      steps: config.steps,
      cooldown,
      dropout,
      ...(emaExtra.length ? { emaExtra } : {}),
    };
  }
  if (from.init) {
    const { step, dataHash } = from.init.checkpoint.meta;
    return {
      ...config,
      model: from.init.checkpoint.meta.model,
      init: { checkpoint: from.init.path, step, dataHash },
    };
  }
  return config;
}

/**
 * Trains (or resumes) a model and writes the run folder, which it locks for the time of the run
 * (see {@linkcode RunFolder}). `loss.csv` grows by one row per step; a resumed run keeps the rows up
 * to its checkpoint's step.
 *
 * @throws {RunLockedError} when another live process trains into `options.out`.
 * @throws {UsageError} for conflicting options (`resume` and `init`), invalid settings (the resumed
 * ones included), a checkpoint that does not fit the data, or an `out` folder that holds another run's
 * checkpoints (a run continues only by `resume` from its own folder).
 * @throws {CheckpointError} when `resume` or `init` is not a readable checkpoint.
 * @throws {NonFiniteLossError} when the loss is NaN or infinite; it names the last good checkpoint.
 * @throws {RunWriteError} when a file of the run cannot be written (disk full); it names the file
 * and what was kept.
 */
export async function trainRun(config: TrainConfig, options: RunOptions): Promise<RunResult> {
  const log = options.log === undefined ? (l: string) => console.error(l) : options.log;
  if (options.init && options.resume) {
    await options.folder?.close();
    throw new UsageError("give resume or init, not both");
  }
  const run = options.folder ?? await RunFolder.open(options.out, {
    keep: options.keep,
    keepEvery: options.keepEvery,
    log,
    writeAll: options.writeAll,
  });
  try {
    return await trainInto(run, config, options, log);
  } finally {
    await run.close();
  }
}

/** What the setup phase hands to the loop and the saves: the trainer and what every checkpoint needs. */
interface RunSetup {
  run: RunFolder;
  /** The configuration the run trains (a resumed or fine-tuned run's, from its checkpoint). */
  config: TrainConfig;
  trainer: Trainer;
  dataset: EmojiDataset;
  dataHash: string | null;
  /** Loss rows from before this invocation (a resumed run's). */
  history: LossCsvRow[];
  /** The progress grid's layout, or null for no grids. */
  layout: ReturnType<typeof progressGridLayout> | null;
  /** What every checkpoint records of the run's settings. */
  settings: SavedRunSettings;
}

/** What the loop has done so far: this invocation's rows, the latest checkpoint, time spent saving. */
interface RunProgress {
  rows: LossCsvRow[];
  smoothed: number;
  latest: string;
  start: number;
  startStep: number;
  savingMs: number;
  savedAt: number;
  stopped?: RunResult["stopped"];
}

/** Trains in an opened run folder: setup, the loop, and the last save. */
async function trainInto(
  run: RunFolder,
  config: TrainConfig,
  options: RunOptions,
  log: ((line: string) => void) | null,
): Promise<RunResult> {
  const setup = await setUpRun(run, config, options, log);
  try {
    const progress = await trainLoop(setup, options, log);
    return await finishRun(setup, progress);
  } finally {
    setup.trainer.dispose();
  }
}

/**
 * The configuration the run trains and the checkpoints it starts from, checked before any work:
 * a resumed or fine-tuned run's settings come from its checkpoint ({@linkcode runConfig}).
 */
async function runStart(config: TrainConfig, options: RunOptions) {
  const resumeCkpt = options.resume ? await loadCheckpoint(options.resume) : null;
  const initCkpt = options.init ? await loadCheckpoint(options.init) : null;
  config = runConfig(config, {
    resume: resumeCkpt ?? undefined,
    init: initCkpt && options.init ? { path: options.init, checkpoint: initCkpt } : undefined,
  });
  const started = resumeCkpt ? "resumed" : "fine-tuned";
  if ((resumeCkpt || initCkpt) && config.condition?.length && !config.model.labels) {
    throw new UsageError(
      `condition ${config.condition.join(",")}: the checkpoint's model is unconditional, and a ` +
        `${started} run trains the checkpoint's model; start a new run instead`,
    );
  }
  if ((resumeCkpt || initCkpt) && (config.augment ?? 0) > 0 && !config.model.augmentConditioning) {
    throw new UsageError(
      `augment ${config.augment}: the checkpoint's model has no augmentation input, and a ` +
        `${started} run trains the checkpoint's model; start a new run instead`,
    );
  }
  try {
    validateTrainConfig(config); // the settings a resumed run ends up with, before any work
  } catch (err) {
    if (err instanceof RangeError) throw new UsageError(err.message, { cause: err });
    throw err;
  }
  return { config, resumeCkpt, initCkpt };
}

/**
 * The setup phase: the run's configuration, its data and its trainer (restored from a resumed
 * checkpoint, or started from a fine-tuned one's weights), `config.json`, the loss history so far and
 * the progress grids' layout. Disposes the trainer when a step of it fails.
 */
async function setUpRun(
  run: RunFolder,
  asked: TrainConfig,
  options: RunOptions,
  log: ((line: string) => void) | null,
): Promise<RunSetup> {
  await run.checkNewOrResumed(options.resume);
  const { config, resumeCkpt, initCkpt } = await runStart(asked, options);
  const dataset = await ensureDataset(config.data);
  if (initCkpt && initCkpt.meta.imageSize !== dataset.size) {
    throw new UsageError(
      `init checkpoint is for ${initCkpt.meta.imageSize}px images, ${config.data} has ${dataset.size}px`,
    );
  }
  const dataHash = dataset.manifest?.atlas.sha256 ?? null;
  const trainer = new Trainer(config, dataset);
  // the model this run really trains: a resumed or fine-tuned run's comes from its checkpoint
  log?.(
    `model: ${config.model.preset}, ${trainer.model.parameterCount.toLocaleString("en-US")} parameters, ` +
      `${(trainer.model.flopsPerImage() / 1e9).toFixed(3)} GFLOP per image (forward)`,
  );
  try {
    if (resumeCkpt) {
      if (resumeCkpt.meta.dataHash && dataHash && resumeCkpt.meta.dataHash !== dataHash) {
        throw new UsageError(
          `checkpoint was trained on data ${resumeCkpt.meta.dataHash.slice(0, 12)}…, not ${config.data}`,
        );
      }
      const { seededEma } = trainer.restore(resumeCkpt);
      log?.(`resumed from ${options.resume} at step ${trainer.step}`);
      for (const d of seededEma) {
        log?.(`EMA ${d} is new: it starts from the checkpoint's EMA (${config.ema})`);
      }
    } else if (initCkpt) {
      trainer.initFrom(initCkpt);
      log?.(`weights from ${options.init} (step ${initCkpt.meta.step}); optimizer and step start fresh`);
    }
    await startWorkers(trainer, options, log);
    await run.writeFile("config.json", JSON.stringify(trainer.config, null, 2) + "\n");
    const history = await lossHistory(run, trainer.step, options);
    const gridImages = options.gridImages ?? 16;
    const layout = gridImages > 0 ? progressGridLayout(trainer.model.labels, gridImages) : null;
    if (layout?.rowsBy) {
      const { field, values } = layout.rowsBy;
      log?.(`sample grids: one row per ${field} (${values.join(", ")}), other labels any value`);
    }
    const settings: SavedRunSettings = {
      every: Math.max(1, options.every),
      gridImages,
      keep: run.keep,
      keepEvery: run.keepEvery,
      ...(options.checkpointMinutes !== undefined ? { checkpointMinutes: options.checkpointMinutes } : {}),
    };
    return { run, config, trainer, dataset, dataHash, history, layout, settings };
  } catch (err) {
    trainer.dispose();
    throw err;
  }
}

/** Starts the run's data-parallel workers (none for `workers` ≤ 1) on this thread's CPU backend. */
async function startWorkers(
  trainer: Trainer,
  options: RunOptions,
  log: ((line: string) => void) | null,
): Promise<void> {
  const sizes = splitSizes(trainer.config.batch, options.workers ?? 1);
  if (sizes.length <= 1) return;
  const backend = requireCpuBackend();
  await trainer.startWorkers(sizes.length - 1, backend, {
    threads: options.workerThreads ?? 1,
    ...(options.tempDir !== undefined ? { tempDir: options.tempDir } : {}),
  });
  log?.(
    `data-parallel: each batch of ${trainer.config.batch} in ${sizes.length} parts (${sizes.join(" + ")}), ` +
      `this thread and ${sizes.length - 1} worker${sizes.length > 2 ? "s" : ""} on ${backend}`,
  );
}

/**
 * The loss rows up to `step` the run continues from (a resume into a new folder carries the history
 * of the run its checkpoint came from), written to the run's `loss.csv`.
 */
async function lossHistory(run: RunFolder, step: number, options: RunOptions): Promise<LossCsvRow[]> {
  let history = await readLossCsv(join(options.out, "loss.csv"));
  if (history.length === 0 && options.resume) {
    history = await readLossCsv(join(dirname(options.resume), "loss.csv"));
  }
  history = history.filter((r) => r.step <= step);
  await run.startLossLog(history);
  return history;
}

/** Writes a checkpoint at the trainer's step, the loss curve and, with `grid`, a progress grid. */
async function saveCheckpoint(s: RunSetup, p: RunProgress, grid: boolean): Promise<void> {
  const { run, trainer, layout } = s;
  const ckpt = await trainer.toCheckpoint(s.dataHash, { notes: { run: s.settings } });
  await run.writeCheckpoint(trainer.step, encodeCheckpoint(ckpt));
  p.latest = run.latest;
  const rows = [...s.history, ...p.rows];
  await run.rewriteLossLog(rows);
  await run.writeFile("loss.svg", lossCurveSvg(rows));
  if (!layout || !grid) return;
  const res = await sampleImages(trainer.model, trainer.schedule, {
    n: layout.labels?.length ?? s.settings.gridImages!,
    ...PROGRESS_GRID_SAMPLING,
    dataMean: trainer.dataMean,
    labels: layout.labels,
  }, trainer.ema.shadow);
  const image = makeGrid(res.images, layout.rows, layout.cols, s.dataset.size, { gutter: 1, scale: 2 });
  await run.writeFile(
    `samples-${String(trainer.step).padStart(6, "0")}.png`,
    await encodePng(image.rgba, image.width, image.height),
  );
}

/** Why the loop should stop before the next step (a signal, the minutes spent), or undefined. */
function stopReason(
  step: number,
  deadline: number,
  options: RunOptions,
  log: ((line: string) => void) | null,
): RunResult["stopped"] {
  if (options.signal?.aborted) {
    log?.(`stopping at step ${step}: interrupted; writing its checkpoint`);
    return "signal";
  }
  if (performance.now() >= deadline) {
    log?.(`stopping at step ${step}: the ${options.minutes}-minute budget is spent`);
    return "minutes";
  }
}

/** One optimizer step; a non-finite loss names the last good checkpoint. */
async function step(trainer: Trainer, latest: string): Promise<StepReport> {
  try {
    return await trainer.trainStep();
  } catch (err) {
    if (err instanceof NonFiniteLossError) {
      const kept = latest ? `; the last good checkpoint is ${latest}` : "";
      throw new NonFiniteLossError(`${err.message}${kept}`, { cause: err });
    }
    throw err;
  }
}

/**
 * The loop phase: steps until `config.steps`, a signal or the minutes; a loss row and a progress line
 * per step, and a checkpoint every `every` steps (with a grid) or `checkpointMinutes` (without).
 */
async function trainLoop(
  s: RunSetup,
  options: RunOptions,
  log: ((line: string) => void) | null,
): Promise<RunProgress> {
  const { trainer, config, run } = s;
  const start = performance.now();
  const p: RunProgress = {
    rows: [],
    smoothed: s.history.at(-1)?.smoothed ?? NaN,
    latest: options.resume ?? "",
    start,
    startStep: trainer.step,
    savingMs: 0, // checkpoint and grid time, excluded from images/s
    savedAt: -1,
  };
  const every = s.settings.every!;
  const progress = options.progress ??
    ((line: string, step: number) => {
      if (step % 10 === 0 || step === config.steps) log?.(line);
    });
  const deadline = options.minutes === undefined ? Infinity : start + options.minutes * 60_000;
  const saveInterval = options.checkpointMinutes === undefined
    ? Infinity
    : options.checkpointMinutes * 60_000;
  let lastSave = start;
  while (trainer.step < config.steps) {
    p.stopped = stopReason(trainer.step, deadline, options, log);
    if (p.stopped) break;
    const report = await step(trainer, p.latest);
    p.smoothed = Number.isNaN(p.smoothed) ? report.loss : 0.98 * p.smoothed + 0.02 * report.loss;
    const elapsed = (performance.now() - start - p.savingMs) / 1000;
    const ips = (trainer.step - p.startStep) * config.batch / elapsed;
    const eta = (config.steps - trainer.step) * config.batch / ips;
    const row = {
      step: report.step,
      loss: report.loss,
      smoothed: p.smoothed,
      lr: report.lr,
      imagesPerSecond: ips,
    };
    p.rows.push(row);
    run.appendLoss(row);
    options.onStep?.({ ...report, smoothed: p.smoothed, imagesPerSecond: ips, etaSeconds: eta });
    progress(
      `step ${trainer.step}/${config.steps}  loss ${p.smoothed.toFixed(4)}  ` +
        `${ips.toFixed(1)} img/s  ETA ${fmtDuration(eta)}`,
      trainer.step,
      config.steps,
    );
    const onSteps = trainer.step % every === 0 || trainer.step === config.steps;
    if (onSteps || performance.now() - lastSave >= saveInterval) {
      const t0 = performance.now();
      await saveCheckpoint(s, p, onSteps);
      p.savedAt = trainer.step;
      lastSave = performance.now();
      p.savingMs += lastSave - t0;
      // live tensors after a checkpoint: flat from one interval to the next when nothing leaks
      log?.(`checkpoint at step ${trainer.step}; ${tf.memory().numTensors} live tensors`);
    }
    // a signal is delivered by the event loop: let it run between steps
    if (options.signal) await new Promise((r) => setTimeout(r, 0));
  }
  return p;
}

/** The save phase: a last checkpoint unless the loop just wrote one, and the run's result. */
async function finishRun(s: RunSetup, p: RunProgress): Promise<RunResult> {
  const { trainer } = s;
  if (trainer.step === p.startStep || p.savedAt !== trainer.step) {
    await saveCheckpoint(s, p, p.stopped !== "signal");
  }
  const seconds = (performance.now() - p.start - p.savingMs) / 1000;
  return {
    checkpoint: p.latest,
    steps: trainer.step,
    rows: p.rows,
    imagesPerSecond: (trainer.step - p.startStep) * s.config.batch / Math.max(seconds, 1e-9),
    ...(p.stopped ? { stopped: p.stopped } : {}),
  };
}
