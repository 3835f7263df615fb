/**
 * A training run on disk: the run folder with checkpoints, sample grids, `loss.csv` and
 * `loss.svg`, a live progress line, and exact resumption.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { dirname, join } from "node:path";
import { loadCheckpoint, saveCheckpoint } from "../checkpoint.ts";
import { ensureDataset } from "../dataset.ts";
import { encodePng } from "../image/codec.ts";
import { makeGrid } from "../image/grid.ts";
import { atomicWriteFile } from "../io.ts";
import { sampleImages } from "../sample/sample.ts";
import { lossCsv, lossCurveSvg, type LossRow } from "./loss_plot.ts";
import { NonFiniteLossError, type StepReport, type TrainConfig, Trainer } from "./trainer.ts";
import { modelConfig } from "../model/model.ts";

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
  /** Images in each progress grid (0 = none). */
  gridImages?: number;
  /** Called after every step. */
  onStep?: (report: StepReport & { smoothed: number; imagesPerSecond: number; etaSeconds: number }) => void;
  /** Where progress lines go (default: stderr, rewritten in place on a terminal). */
  log?: ((line: string) => void) | null;
}

/** The default training configuration (the notebook's schedule and T, CPU-sized batch). */
export const DEFAULT_TRAIN_CONFIG: TrainConfig = {
  data: "data/apple-faces-32",
  model: modelConfig("unet"),
  schedule: "linear",
  T: 500,
  batch: 32,
  steps: 2000,
  lr: 2e-3,
  warmup: 100,
  gradClip: 1,
  ema: 0.999,
  seed: 0,
};

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
}

function fmtDuration(s: number): string {
  if (!Number.isFinite(s)) return "?";
  const m = Math.floor(s / 60), r = Math.round(s % 60);
  return m ? `${m}m${String(r).padStart(2, "0")}s` : `${r}s`;
}

async function readLossCsv(path: string): Promise<(LossRow & { lr: number; imagesPerSecond: number })[]> {
  try {
    const lines = (await Deno.readTextFile(path)).trim().split("\n").slice(1);
    return lines.map((l) => {
      const [step, loss, smoothed, lr, ips] = l.split(",").map(Number);
      return { step, loss, smoothed, lr, imagesPerSecond: ips };
    });
  } catch {
    return [];
  }
}

/**
 * Trains (or resumes) a model and writes the run folder. A NaN/Inf loss stops the run with an
 * error; the last good checkpoint stays in place.
 */
export async function trainRun(config: TrainConfig, options: RunOptions): Promise<RunResult> {
  const log = options.log === undefined ? (l: string) => console.error(l) : options.log;
  let resumeCkpt = null;
  if (options.resume) {
    resumeCkpt = await loadCheckpoint(options.resume);
    const saved = resumeCkpt.meta.train as Partial<TrainConfig> | undefined;
    // The run's length, its end-of-run decay and its dropout are what a resume usually changes.
    const cooldown = config.cooldown ?? saved?.cooldown;
    const dropout = config.dropout ?? saved?.dropout;
    config = { ...config, ...saved, model: resumeCkpt.meta.model, steps: config.steps, cooldown, dropout };
  }
  let initCkpt = null;
  if (options.init) {
    if (options.resume) throw new RangeError("give --resume or --init, not both");
    initCkpt = await loadCheckpoint(options.init);
    const { step, dataHash } = initCkpt.meta;
    config = { ...config, model: initCkpt.meta.model, init: { checkpoint: options.init, step, dataHash } };
  }
  const dataset = await ensureDataset(config.data);
  if (initCkpt && initCkpt.meta.imageSize !== dataset.size) {
    throw new RangeError(
      `--init checkpoint is for ${initCkpt.meta.imageSize}px images, ${config.data} has ${dataset.size}px`,
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
        throw new RangeError(
          `checkpoint was trained on data ${resumeCkpt.meta.dataHash.slice(0, 12)}…, not ${config.data}`,
        );
      }
      trainer.restore(resumeCkpt);
      log?.(`resumed from ${options.resume} at step ${trainer.step}`);
    } else if (initCkpt) {
      trainer.initFrom(initCkpt);
      log?.(`weights from ${options.init} (step ${initCkpt.meta.step}); optimizer and step start fresh`);
    }
    await Deno.mkdir(options.out, { recursive: true });
    await atomicWriteFile(join(options.out, "config.json"), JSON.stringify(config, null, 2) + "\n");
    const csvPath = join(options.out, "loss.csv");
    // resuming into a new folder carries the loss history of the run the checkpoint came from
    let history = await readLossCsv(csvPath);
    if (history.length === 0 && options.resume) {
      history = await readLossCsv(join(dirname(options.resume), "loss.csv"));
    }
    history = history.filter((r) => r.step <= trainer.step);
    const rows: (LossRow & { lr: number; imagesPerSecond: number })[] = [];
    let smoothed = history.at(-1)?.smoothed ?? NaN;
    const start = performance.now();
    let savingMs = 0; // checkpoint and grid time, excluded from images/s
    const startStep = trainer.step;
    const every = Math.max(1, options.every);
    let latest = options.resume ?? "";
    const save = async () => {
      const ckpt = await trainer.toCheckpoint(dataHash);
      const name = `ckpt-${String(trainer.step).padStart(6, "0")}.safetensors`;
      await saveCheckpoint(join(options.out, name), ckpt);
      await saveCheckpoint(join(options.out, "latest.safetensors"), ckpt);
      latest = join(options.out, "latest.safetensors");
      const all = [...history, ...rows];
      await atomicWriteFile(csvPath, lossCsv(all));
      await atomicWriteFile(join(options.out, "loss.svg"), lossCurveSvg(all));
      const n = options.gridImages ?? 16;
      if (n > 0) {
        const res = await sampleImages(trainer.model, trainer.schedule, {
          n,
          sampler: "ddim",
          steps: 25,
          seed: 1234,
          dataMean: trainer.dataMean,
        }, trainer.ema.shadow);
        const side = Math.ceil(Math.sqrt(n));
        const grid = makeGrid(res.images, Math.ceil(n / side), side, dataset.size, { gutter: 1, scale: 2 });
        await atomicWriteFile(
          join(options.out, `samples-${String(trainer.step).padStart(6, "0")}.png`),
          await encodePng(grid.rgba, grid.width, grid.height),
        );
      }
    };
    const isTty = Deno.stderr.isTerminal();
    const deadline = options.minutes === undefined ? Infinity : start + options.minutes * 60_000;
    let savedAt = -1;
    while (trainer.step < config.steps) {
      if (performance.now() >= deadline) {
        log?.(`stopping at step ${trainer.step}: the ${options.minutes}-minute budget is spent`);
        break;
      }
      let report: StepReport;
      try {
        report = await trainer.trainStep();
      } catch (err) {
        if (err instanceof NonFiniteLossError) {
          const kept = latest ? `; the last good checkpoint is ${latest}` : "";
          throw new NonFiniteLossError(`${err.message}${kept}`);
        }
        throw err;
      }
      smoothed = Number.isNaN(smoothed) ? report.loss : 0.98 * smoothed + 0.02 * report.loss;
      const elapsed = (performance.now() - start - savingMs) / 1000;
      const done = trainer.step - startStep;
      const ips = done * config.batch / elapsed;
      const eta = (config.steps - trainer.step) * config.batch / ips;
      rows.push({ step: report.step, loss: report.loss, smoothed, lr: report.lr, imagesPerSecond: ips });
      options.onStep?.({ ...report, smoothed, imagesPerSecond: ips, etaSeconds: eta });
      if (log && (isTty || trainer.step % 10 === 0 || trainer.step === config.steps)) {
        const line = `step ${trainer.step}/${config.steps}  loss ${smoothed.toFixed(4)}  ` +
          `${ips.toFixed(1)} img/s  ETA ${fmtDuration(eta)}`;
        if (isTty) Deno.stderr.writeSync(new TextEncoder().encode(`\r${line}\x1b[K`));
        else log(line);
      }
      if (trainer.step % every === 0 || trainer.step === config.steps) {
        const t0 = performance.now();
        await save();
        savedAt = trainer.step;
        savingMs += performance.now() - t0;
        // live tensors after a checkpoint: flat from one interval to the next when nothing leaks
        log?.(`checkpoint at step ${trainer.step}; ${tf.memory().numTensors} live tensors`);
        if (isTty) Deno.stderr.writeSync(new TextEncoder().encode("\n"));
      }
    }
    if (trainer.step === startStep || savedAt !== trainer.step) await save();
    const seconds = (performance.now() - start - savingMs) / 1000;
    return {
      checkpoint: latest,
      steps: trainer.step,
      rows,
      imagesPerSecond: (trainer.step - startStep) * config.batch / Math.max(seconds, 1e-9),
    };
  } finally {
    trainer.dispose();
  }
}
