/**
 * `deno task train`: trains ε_θ on a prepared emoji set and writes a run folder.
 *
 * @module
 */
import { parseConditionFields } from "../src/model/labels.ts";
import { initBackend, parseBackendRequest } from "../src/backend/select.ts";
import {
  asUsage,
  checkWritableDir,
  choiceFlag,
  intFlag,
  numberFlag,
  parseFlags,
  runCli,
  signalExitCode,
  stopOnSignals,
  threadsFlag,
  UsageError,
} from "../src/cli/flags.ts";
import { loadCheckpoint } from "../src/checkpoint/format.ts";
import {
  MODEL_PRESETS,
  type ModelConfig,
  modelConfig,
  PARAMETERIZATIONS,
  type UNetConfig,
} from "../src/model/model.ts";
import { SCHEDULE_KINDS } from "../src/core/schedule.ts";
import {
  DEFAULT_TRAIN_CONFIG,
  defaultRunFolder,
  fitCooldown,
  resumeCommand,
  resumeDefaults,
  runConfig,
  trainRun,
  withTrainDefaults,
} from "../src/train/run.ts";
import { emaFlag, flagWording, schemaFlag } from "../src/cli/train_flags.ts";
import {
  TRAIN_FIELDS,
  type TrainConfig,
  usageLines,
  validateTrainConfig,
} from "../src/train/config_schema.ts";
import { RunFolder } from "../src/train/run_folder.ts";
import { withAugmentConditioning } from "../src/train/trainer.ts";
import { dataParallelRefusal } from "../src/train/data_parallel.ts";
import { DataParallelError, planParallel } from "../src/backend/parallel_plan.ts";
import { loadTrainRecipe, type TrainRecipe } from "../src/train/config_file.ts";
import { exportForReturn } from "../src/train/return_files.ts";
import { DatasetError, loadEmojiDataset } from "../src/dataset/mod.ts";
import { pathExists } from "../src/platform/io.ts";
import { basename, join } from "node:path";

const D = DEFAULT_TRAIN_CONFIG;
const USAGE = [
  "usage: deno task train [options]   (with no options: the shipped default model's recipe, configs/faces8.json)",
  `  --config FILE       JSON recipe (e.g. configs/faces4-64.json): a run's config.json fields plus
                      "every" and "minutes"; flags given here override it
  --dry-run           print the configuration this command would train (JSON), and stop
  --export-to DIR     at the end, also write DIR/ema-*.safetensors (EMA weights, F16, split into
                      files of at most --part-mib MiB, loadable as one checkpoint), the last grid and loss.csv
  --part-mib N        largest exported file in MiB (default 16)`,
  ...usageLines(D),
  `  --backend NAME      auto | webgpu | native | wasm | cpu (default auto: a hardware GPU, else the
                      system BLAS (native), else wasm)
  --out DIR           run folder (default data/runs/<recipe> with --config, else data/runs/<model>-<schedule>-s<seed>;
                      with --resume, the checkpoint's own folder); a folder with another run's files is refused
  --checkpoint-minutes N
                      also write a checkpoint when N minutes have passed since the last one (default 2)
  --grid N            images in each sample grid (default 16; 0 = no grids)
  --keep N            keep the newest N ckpt-*.safetensors (default 3; latest.safetensors is always there)
  --keep-every K      also keep every checkpoint whose step is a multiple of K (default 0: none)
  --resume FILE       continue from a checkpoint, in its own folder, to its run's --steps, with its settings
                      (given --steps, --cooldown, --dropout, --every, --grid win); a new --out folder starts
                      with the checkpoint's run's loss history
                      Ctrl-C (SIGINT) or SIGTERM writes a checkpoint at the current step and prints the
                      command that resumes it; a second one quits at once
  --init FILE         start a new run from a checkpoint's weights (fine-tune; its model config wins)
  --threads N         CPU threads (wasm and BLAS): auto (default: all CPUs when idle at start, else 1) or N;
                      with several --workers parts, each part's BLAS threads (auto: 1)
  --workers N         data-parallel on a CPU backend: split each batch into N parts computed at the same
                      time, this thread and N-1 workers, each with its own backend; the same run to within
                      float rounding. auto (default): 2 parts of half the CPUs each on the native backend
                      when at least 2 CPUs are idle and the model allows it (not the seed preset, not
                      dropout), else 1`,
].join("\n");

type TrainFlagValues = Record<string, string | undefined> & { help?: boolean; "dry-run"?: boolean };

/** The flags that are not training settings of the schema. */
const RUN_FLAGS = [
  "epochs",
  "backend",
  "out",
  "grid",
  "keep",
  "keep-every",
  "resume",
  "init",
  "threads",
  "workers",
  "config",
  "export-to",
  "part-mib",
  "checkpoint-minutes",
];

function parseTrainFlags(): TrainFlagValues {
  const strings = [...TRAIN_FIELDS.flatMap((f) => f.flag ? [f.flag] : []), ...RUN_FLAGS];
  return parseFlags({
    args: Deno.args,
    options: Object.fromEntries(
      strings.map((k) => [k, { type: "string" }] as [string, { type: "string" | "boolean" }]).concat(
        ["help", "dry-run"].map((k) => [k, { type: "boolean" }]),
      ),
    ),
    strict: true,
  }).values as TrainFlagValues;
}

async function main(): Promise<void> {
  const v = parseTrainFlags();
  if (v.help) return console.log(USAGE);
  const composed = await composeConfig(v);
  const { recipe, config } = composed;
  const inputs = await checkInputs(v, recipe);
  const run = await runSettings(v, recipe, composed);
  // the configuration this command would train, as the run's config.json will record it
  const shown = run.resumeCkpt
    ? runConfig(config, { resume: run.resumeCkpt })
    : withAugmentConditioning(config);
  const refusal = dataParallelRefusal(shown.model, shown.dropout ?? 0);
  if (refusal && typeof run.workers === "number" && run.workers > 1) {
    throw new UsageError(`--workers ${run.workers}: ${refusal}; train with --workers 1`);
  }
  if (v["dry-run"]) {
    console.error(`run folder: ${run.out}`);
    return console.log(JSON.stringify(shown, null, 2));
  }
  await trainAndReport(v, config, inputs, { ...run, splittable: refusal === null });
}

/**
 * The training configuration: flags, then the recipe file (`--config`), then the defaults
 * (`withTrainDefaults`: their label fields go with their data set). The defaults' optional settings
 * (label fields, cooldown, augmentation, extra EMA decays) apply only to a plain run: a recipe, a
 * resumed or a fine-tuned run (`--resume`, `--init`) leaves out what it does not set.
 */
async function composeConfig(v: TrainFlagValues) {
  let recipe: TrainRecipe = { config: {} };
  if (v.config !== undefined) recipe = await loadTrainRecipe(v.config, `--config ${v.config}`);
  const { condition: _c, condDrop: _d, cooldown: _k, augment: _a, emaExtra: _e, ...required } = D;
  const plain = v.config === undefined && v.resume === undefined && v.init === undefined;
  const model = modelFromFlags(v, recipe.config.model ?? D.model);
  if (v.steps !== undefined && v.epochs !== undefined) {
    throw new UsageError("give --steps or --epochs, not both");
  }
  // the settings the flags give; cooldown and dropout stay undefined unless given, so that a resumed
  // run keeps its checkpoint's
  const asked: Partial<TrainConfig> = {
    data: v.data,
    model,
    schedule: v.schedule === undefined
      ? undefined
      : choiceFlag("schedule", v.schedule, SCHEDULE_KINDS, "linear"),
    T: schemaFlag("T", v.T, undefined),
    batch: schemaFlag("batch", v.batch, undefined),
    steps: schemaFlag("steps", v.steps, undefined),
    lr: schemaFlag("lr", v.lr, undefined),
    warmup: schemaFlag("warmup", v.warmup, undefined),
    cooldown: schemaFlag("cooldown", v.cooldown, undefined),
    gradClip: schemaFlag("gradClip", v["grad-clip"], undefined),
    ...(v.ema !== undefined ? emaFlag(v.ema, D) : {}),
    dropout: schemaFlag("dropout", v.dropout, undefined),
    seed: schemaFlag("seed", v.seed, undefined),
    condition: v.condition === undefined ? undefined : conditionFlag(v.condition),
    condDrop: schemaFlag("condDrop", v["cond-drop"], undefined),
    minSnrGamma: schemaFlag("minSnrGamma", v["min-snr-gamma"], undefined),
    augment: schemaFlag("augment", v.augment, undefined),
  };
  for (const k of Object.keys(asked) as (keyof TrainConfig)[]) if (asked[k] === undefined) delete asked[k];
  // precedence: flags, then the recipe file, then the defaults (whose label fields and cooldown apply
  // to a plain run only: a recipe, a resumed or a fine-tuned run leaves out what it does not set)
  const config: TrainConfig = plain
    ? withTrainDefaults(asked)
    : { ...required, ...recipe.config, ...asked } as TrainConfig;
  return { recipe, config, model, recipeSteps: recipe.config.steps ?? D.steps };
}

/** The model the flags ask for, from the recipe's (or the defaults') `base`. */
function modelFromFlags(v: TrainFlagValues, base: ModelConfig): ModelConfig {
  const preset = choiceFlag("model", v.model, MODEL_PRESETS, base.preset);
  // ranges are the model config's own (validateModelConfig), worded by the flags
  const mult = v.mult?.split(",").map((s) => intFlag("mult", s.trim(), 1));
  const baseUnet = base.preset === "unet" ? base : modelConfig("unet") as UNetConfig;
  const attention =
    choiceFlag("attention", v.attention, ["on", "off"] as const, baseUnet.attention ? "on" : "off") ===
      "on";
  const parameterization = choiceFlag(
    "parameterization",
    v.parameterization,
    PARAMETERIZATIONS,
    baseUnet.parameterization ?? "eps",
  );
  if (preset === "seed" && v.parameterization !== undefined && parameterization !== "eps") {
    throw new UsageError(
      `--parameterization ${parameterization} is an option of the unet preset: use --model unet, or drop it`,
    );
  }
  const { parameterization: _p, ...unetBase } = baseUnet;
  return asUsage(
    () =>
      preset === "unet"
        ? modelConfig("unet", {
          ...unetBase,
          // "eps" is the default and stays out of the config, as in every checkpoint from before the option
          ...(parameterization === "edm" ? { parameterization } : {}),
          channels: intFlag("channels", v.channels, baseUnet.channels, 1),
          blocks: intFlag("blocks", v.blocks, baseUnet.blocks, 1),
          ...(mult ? { channelMult: mult } : {}),
          attention,
        })
        : modelConfig("seed"),
    "",
    modelFlagWording,
  );
}

/** A model-config message as the flags word it: `--channels`, `--blocks`, `--mult`. */
function modelFlagWording(message: string): string {
  return message.replace(/^channels /, "--channels ").replace(/^blocks /, "--blocks ")
    .replace(/^channel multipliers /, "--mult values ");
}

/** `--condition LIST`: label fields, or `none` for an unconditional model. */
function conditionFlag(value: string): string[] {
  if (value.trim() === "none") return [];
  return asUsage(() => parseConditionFields(value), "", flagWording);
}

/** The run's other flags, and every input file and folder, checked before any work. */
async function checkInputs(v: TrainFlagValues, recipe: TrainRecipe) {
  const minutes = v.minutes === undefined ? recipe.minutes : schemaFlag("minutes", v.minutes, 0);
  const partMib = intFlag("part-mib", v["part-mib"], 16, 1, 4096);
  if (v["export-to"] !== undefined && v["export-to"].trim() === "") {
    throw new UsageError("--export-to must name a folder");
  }
  if (v.out !== undefined && v.out.trim() === "") {
    throw new UsageError("--out must name a folder (e.g. --out data/runs/mine)");
  }
  if (v["export-to"] !== undefined) await checkWritableDir("export-to", v["export-to"]);
  const backendRequest = asUsage(() => parseBackendRequest(v.backend ?? "auto"), "--backend: ");
  if (v.resume !== undefined && !(await pathExists(v.resume))) {
    throw new UsageError(
      `--resume "${v.resume}" does not exist; point it at a .safetensors checkpoint of a run`,
    );
  }
  if (v.init !== undefined && !(await pathExists(v.init))) {
    throw new UsageError(`--init "${v.init}" does not exist; point it at a .safetensors checkpoint`);
  }
  if (v.init !== undefined && v.resume !== undefined) {
    throw new UsageError("give --resume or --init, not both");
  }
  if (v.data !== undefined && !(await pathExists(join(v.data, "manifest.json")))) {
    throw new UsageError(
      `--data "${v.data}" has no manifest.json; prepare it with: deno task prepare --out ${v.data}`,
    );
  }
  if (
    v.data === undefined && recipe.config.data !== undefined &&
    !(await pathExists(join(recipe.config.data, "manifest.json")))
  ) {
    throw new UsageError(
      `--config ${v.config}: "data" folder "${recipe.config.data}" has no manifest.json; prepare it with: ` +
        `deno task prepare --out ${recipe.config.data}`,
    );
  }
  return { minutes, partMib, backendRequest };
}

/** Where and how the run goes: a resumed run's folder, step total and settings unless flags say otherwise. */
async function runSettings(
  v: TrainFlagValues,
  recipe: TrainRecipe,
  { config, model, recipeSteps }: Awaited<ReturnType<typeof composeConfig>>,
) {
  const from = v.resume ?? v.init;
  // a resumed run continues in its checkpoint's folder, to its own step total, with its own settings
  const resumeCkpt = v.resume !== undefined ? await loadCheckpoint(v.resume) : null;
  const resumed = resumeCkpt && v.resume !== undefined ? resumeDefaults(v.resume, resumeCkpt.meta) : null;
  const every = schemaFlag("every", v.every, recipe.every ?? resumed?.every ?? 250);
  const gridImages = intFlag("grid", v.grid, resumed?.gridImages ?? 16, 0, 256);
  const keep = intFlag("keep", v.keep, resumed?.keep ?? 3, 1);
  const keepEvery = intFlag("keep-every", v["keep-every"], resumed?.keepEvery ?? 0, 0);
  const checkpointMinutes = numberFlag(
    "checkpoint-minutes",
    v["checkpoint-minutes"],
    resumed?.checkpointMinutes ?? 2,
    1e-6,
    7 * 24 * 60,
  );
  if (
    resumed?.steps !== undefined && v.steps === undefined && v.epochs === undefined && !recipe.config.steps
  ) {
    config.steps = resumed.steps;
  }
  const modelFlags = ["model", "channels", "blocks", "mult", "attention", "parameterization"].filter((k) =>
    v[k] !== undefined
  );
  if (from !== undefined && modelFlags.length > 0) {
    // a resumed or fine-tuned run trains its checkpoint's model: model flags that say otherwise are refused
    const saved = (resumeCkpt ?? await loadCheckpoint(from)).meta.model;
    if (JSON.stringify(saved) !== JSON.stringify(model)) {
      throw new UsageError(
        `${modelFlags.map((k) => `--${k}`).join(", ")} describe another model than the checkpoint ` +
          `${from} (${saved.preset}${"channels" in saved ? `, channels ${saved.channels}` : ""}): ` +
          `drop them, --${v.resume !== undefined ? "resume" : "init"} trains the checkpoint's model`,
      );
    }
  }
  if (v.epochs !== undefined) {
    const epochs = intFlag("epochs", v.epochs, 1, 1);
    const count = (await loadEmojiDataset(config.data).catch(() => null))?.count ?? 118;
    config.steps = Math.ceil(epochs * count / config.batch);
  }
  if (
    from === undefined && v.cooldown === undefined && (v.steps !== undefined || v.epochs !== undefined) &&
    (config.cooldown ?? 0) > config.steps
  ) {
    // a recipe's cooldown longer than the run asked for keeps its share of the recipe's steps
    config.cooldown = fitCooldown(config, recipeSteps).cooldown;
  }
  const workers: number | "auto" = v.workers === undefined || v.workers === "auto"
    ? "auto"
    : intFlag("workers", v.workers, 1, 1, 16);
  const threads = threadsFlag(v.threads);
  if (from === undefined) asUsage(() => validateTrainConfig(config), "", flagWording);
  const out = v.out ?? resumed?.out ??
    defaultRunFolder(
      config,
      v.config !== undefined ? { path: v.config, seed: recipe.config.seed } : undefined,
    );
  return { from, resumeCkpt, every, gridImages, keep, keepEvery, checkpointMinutes, threads, workers, out };
}

/** Locks the run folder, trains with a progress line, and prints how it ended (and how to resume). */
async function trainAndReport(
  v: TrainFlagValues,
  config: Awaited<ReturnType<typeof composeConfig>>["config"],
  { minutes, partMib, backendRequest }: Awaited<ReturnType<typeof checkInputs>>,
  { every, gridImages, keep, keepEvery, checkpointMinutes, threads, workers, splittable, out }:
    & Awaited<ReturnType<typeof runSettings>>
    & { splittable: boolean },
): Promise<void> {
  await checkWritableDir("out", out);
  const plan = await inFlagWords(planParallel({ request: backendRequest, threads, workers, splittable }));
  // the run folder is locked before anything else starts: a second run into it is refused at once
  const folder = await inFlagWords(RunFolder.open(out, { keep, keepEvery }));
  try {
    await inFlagWords(folder.checkNewOrResumed(v.resume));
    // several parts: each runs its wasm kernels on one thread and its products on `threads` BLAS threads
    await initBackend(
      backendRequest,
      plan.workers > 1
        ? { wasmThreads: 1, blasThreads: plan.threads as number, tempDir: "data/.cache" }
        : { wasmThreads: plan.threads, tempDir: "data/.cache" },
    );
  } catch (err) {
    await folder.close();
    throw err;
  }
  // On a terminal the progress line is rewritten in place, and a message first ends it with a newline.
  const tty = Deno.stderr.isTerminal();
  let open = false;
  const log = (line: string) => {
    if (open) console.error();
    open = false;
    console.error(line);
  };
  const progress = (line: string, step: number, steps: number) => {
    if (tty) {
      Deno.stderr.writeSync(new TextEncoder().encode(`\r${line}\x1b[K`));
      open = true;
    } else if (step % 10 === 0 || step === steps) log(line);
  };
  log(`run folder: ${out} (Ctrl-C writes a checkpoint and prints the command that resumes it)`);
  const stop = stopOnSignals("stopping after this step: writing a checkpoint");
  let result;
  try {
    result = await inFlagWords(trainRun(config, {
      out,
      log,
      progress,
      folder,
      every,
      checkpointMinutes,
      minutes,
      gridImages,
      keep,
      keepEvery,
      resume: v.resume,
      init: v.init,
      signal: stop.signal,
      workers: plan.workers,
      workerThreads: plan.threads === "auto" ? 1 : plan.threads,
      tempDir: "data/.cache",
    }));
  } finally {
    stop.dispose();
  }
  if (open) console.error();
  // the flags a checkpoint does not record, so that the command resumes this very run
  const resumeFlags = [
    ...(v.backend !== undefined ? ["--backend", v.backend] : []),
    ...(v.threads !== undefined ? ["--threads", v.threads] : []),
    ...(v.workers !== undefined ? ["--workers", v.workers] : []),
    ...(v["export-to"] !== undefined ? ["--export-to", v["export-to"]] : []),
  ];
  if (result.stopped === "signal") {
    console.log(`stopped at step ${result.steps} of ${config.steps}; checkpoint: ${result.checkpoint}`);
    console.log(`resume with: ${resumeCommand(result.checkpoint, resumeFlags)}`);
    Deno.exit(signalExitCode(stop.received ?? "SIGINT"));
  }
  console.log(
    `trained to step ${result.steps} at ${
      result.imagesPerSecond.toFixed(1)
    } images/s; checkpoint: ${result.checkpoint}`,
  );
  if (result.stopped === "minutes") {
    console.log(`resume with: ${resumeCommand(result.checkpoint, resumeFlags)}`);
  }
  if (v["export-to"] !== undefined) {
    const files = await exportForReturn(result.checkpoint, v["export-to"], { maxBytes: partMib * 2 ** 20 });
    console.log(
      `exported ${files.length} files to ${v["export-to"]}: ${files.map((f) => basename(f)).join(", ")}`,
    );
  }
}

/** The library's usage errors about the run worded by this task's flags (`flagWording`). */
async function inFlagWords<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (err) {
    if (err instanceof DataParallelError && err.refused) {
      throw new UsageError(`--workers: ${err.message}; train with --workers 1`, { cause: err });
    }
    // a corrupt dataset's DatasetError is a runtime failure: it keeps its class
    const worded = err instanceof UsageError && !(err instanceof DatasetError)
      ? flagWording(err.message)
      : null;
    if (worded !== null && worded !== (err as Error).message) throw new UsageError(worded, { cause: err });
    throw err;
  }
}

if (import.meta.main) await runCli(main);
