/**
 * The one schema of the training settings: every field of {@linkcode TrainConfig} and of a recipe's
 * run settings, listed once with its command-line flag, its type, its range and its help line. The
 * library's validation (`validateTrainConfig`), the recipe files (`config_file.ts`), the flags and the
 * usage text of `deno task train` are all read from it, so a range is written in one place.
 *
 * A model's own settings (channels, blocks, …) are listed for their flags and help lines; their
 * ranges are the model's ({@linkcode validateModelConfig} in `model/model.ts`).
 *
 * @module
 */
import { SCHEDULE_KINDS, type ScheduleKind } from "../core/schedule.ts";
import { parseConditionFields } from "../model/labels.ts";
import { MODEL_PRESETS, type ModelConfig, parameterizationOf, PARAMETERIZATIONS } from "../model/model.ts";

/** Everything a training run needs to know; tasks fill it from flags. */
export interface TrainConfig {
  /** Prepared dataset folder. */
  data: string;
  /** The model preset and sizes. */
  model: ModelConfig;
  /** β schedule. */
  schedule: ScheduleKind;
  /** Diffusion steps. */
  T: number;
  /** Images per step. */
  batch: number;
  /** Optimizer steps to reach (total, counting resumed ones). */
  steps: number;
  /** Peak Adam learning rate. */
  lr: number;
  /** Linear warm-up steps. */
  warmup: number;
  /** Linear learning-rate decay over the last this many steps (default 0: none). */
  cooldown?: number;
  /** Global gradient-norm clip (0 = off). */
  gradClip: number;
  /** EMA decay of the average that sampling uses by default (and the progress grids show). */
  ema: number;
  /**
   * More EMA decays kept during the run beside `ema` (default none), each its own average, saved in
   * checkpoints as `ema@<decay>/…` tensors, so that the decay to sample from can be chosen after the
   * run by measurement (`chooseEma` in `checkpoint/ema_choice.ts`). Each costs one pass over the weights per step.
   */
  emaExtra?: number[];
  /** Seed of weights, batches, flips, t, ε and dropout masks. */
  seed: number;
  /**
   * Dropout rate in the residual blocks while training (default 0: none). A regulariser against
   * copying a small training set; sampling never drops.
   */
  dropout?: number;
  /**
   * Label fields to condition on (e.g. `["vendor", "subcategory"]`; default none: unconditional). The
   * vocabulary is built from the dataset's manifest and stored in the model config (`model.labels`).
   */
  condition?: string[];
  /**
   * Probability with which each label field of each example is dropped to its null entry while
   * training (default {@linkcode DEFAULT_COND_DROP}), so one model learns ε_cond and ε_null for
   * classifier-free guidance. Drawn from its own seeded stream, saved in checkpoints.
   */
  condDrop?: number;
  /**
   * Min-SNR-γ loss weighting (e.g. 5): each example's loss is weighed by min(SNR_t, γ)/SNR_t (see
   * `loss_weight.ts`); default none (the notebook's plain mean squared error).
   */
  minSnrGamma?: number;
  /**
   * Probability of non-leaking augmentation per training image (default 0: none; see `augment.ts`).
   * Above 0 it replaces the batch sampler's plain random flips, and the model gets
   * `augmentConditioning` (the augmentation's parameters as an input); sampling asks for none.
   */
  augment?: number;
  /** Where the weights started when the run fine-tunes another one (set by `trainRun`'s `init`). */
  init?: { checkpoint: string; step: number; dataHash: string | null };
}

/** The default probability of dropping a label field to its null entry while training. */
export const DEFAULT_COND_DROP = 0.1;

/** What a field holds. */
export type FieldKind = "int" | "number" | "choice" | "text" | "list" | "model";

/** One training setting: where it is written, what it takes, and what `--help` says of it. */
export interface TrainField {
  /** Its name in a {@linkcode TrainConfig}, a run's `config.json` and a recipe file (`model.x`: a model setting). */
  key: string;
  /** Its command-line flag (without `--`), when it has one. */
  flag?: string;
  /** What the value is. */
  kind: FieldKind;
  /** Smallest value (int, number). */
  min?: number;
  /** Largest value (int, number; default no limit). */
  max?: number;
  /** Whether `min` itself is excluded. */
  minOpen?: boolean;
  /** Whether `max` itself is excluded. */
  maxOpen?: boolean;
  /** The values of a choice. */
  choices?: readonly string[];
  /** What the flag's value is called in the usage text (N, X, LIST, NAME, DIR). */
  arg?: string;
  /** The default when neither a flag nor a recipe sets it and the defaults hold none (shown by `--help`). */
  unset?: string;
  /** The help line; `{default}` stands for the default. */
  help: string;
  /** A run setting of a recipe file (`every`, `minutes`), not a {@linkcode TrainConfig} field. */
  run?: boolean;
}

const int = (min: number, max = Infinity) => ({ kind: "int" as const, min, max });
const num = (min: number, max = Infinity, open: { minOpen?: boolean; maxOpen?: boolean } = {}) => ({
  kind: "number" as const,
  min,
  max,
  ...open,
});

/** The highest EMA decay a run may keep. */
const EMA_MAX = 0.999999;

/** Every training setting, in the order `--help` lists them. */
export const TRAIN_FIELDS: readonly TrainField[] = [
  { key: "data", flag: "data", kind: "text", arg: "DIR", help: "prepared dataset (default {default})" },
  {
    key: "model.preset",
    flag: "model",
    kind: "model",
    choices: MODEL_PRESETS,
    arg: "NAME",
    help: `${MODEL_PRESETS.join(" | ")} (default {default})`,
  },
  {
    key: "model.channels",
    flag: "channels",
    kind: "model",
    arg: "N",
    help: "unet base channels (default {default})",
  },
  {
    key: "model.blocks",
    flag: "blocks",
    kind: "model",
    arg: "N",
    help: "res blocks per level (default {default})",
  },
  {
    key: "model.channelMult",
    flag: "mult",
    kind: "model",
    arg: "LIST",
    help: "unet channel multipliers (default {default})",
  },
  {
    key: "model.attention",
    flag: "attention",
    kind: "model",
    arg: "on|off",
    help: "attention (default {default})",
  },
  {
    key: "model.parameterization",
    flag: "parameterization",
    kind: "model",
    choices: PARAMETERIZATIONS,
    arg: PARAMETERIZATIONS.join("|"),
    unset: "eps",
    help: "unet only: predict the noise ε (default) or train Karras et al.'s (2022) EDM preconditioned " +
      "denoiser with its log-normal σ and loss weighting (docs/recipes.md)",
  },
  {
    key: "schedule",
    flag: "schedule",
    kind: "choice",
    choices: SCHEDULE_KINDS,
    arg: "NAME",
    help: `${SCHEDULE_KINDS.join(" | ")} (default {default})`,
  },
  { key: "T", flag: "T", ...int(2, 100000), arg: "N", help: "diffusion steps (default {default})" },
  { key: "batch", flag: "batch", ...int(1, 4096), arg: "N", help: "images per step (default {default})" },
  {
    key: "steps",
    flag: "steps",
    ...int(1),
    arg: "N",
    help: "total optimizer steps (default {default}); --epochs N: or this many passes over the data",
  },
  {
    key: "lr",
    flag: "lr",
    ...num(0, 1, { minOpen: true }),
    arg: "X",
    help: "Adam learning rate (default {default})",
  },
  { key: "warmup", flag: "warmup", ...int(0), arg: "N", help: "warm-up steps (default {default})" },
  {
    key: "cooldown",
    flag: "cooldown",
    ...int(0),
    arg: "N",
    unset: "0: none",
    help:
      "decay the lr linearly to ~0 over the last N steps (default {default}; a recipe's cooldown longer than " +
      "the --steps or --epochs asked for keeps its share of the recipe's steps)",
  },
  {
    key: "gradClip",
    flag: "grad-clip",
    ...num(0),
    arg: "X",
    help: "global gradient-norm clip, 0 = off (default {default})",
  },
  {
    key: "ema",
    flag: "ema",
    ...num(0, EMA_MAX),
    arg: "LIST",
    help: "EMA decay (default {default}); a list (e.g. 0.999,0.9995,0.9999) also keeps an average for each " +
      "further decay, to choose from after the run (export --ema-decay); with --resume, a list adds its new " +
      "decays, starting from the checkpoint's EMA",
  },
  {
    key: "emaExtra",
    ...num(0, EMA_MAX),
    kind: "list",
    help: "more EMA decays kept beside ema (set by --ema LIST)",
  },
  {
    key: "seed",
    flag: "seed",
    ...int(0),
    arg: "N",
    help: "seed of weights, batches, t and ε (default {default})",
  },
  {
    key: "dropout",
    flag: "dropout",
    ...num(0, 1, { maxOpen: true }),
    arg: "X",
    unset: "0: none",
    help: "dropout rate in the residual blocks while training (default {default})",
  },
  {
    key: "condition",
    flag: "condition",
    kind: "list",
    arg: "LIST",
    unset: "none: unconditional",
    help: "label fields to condition on, from vendor,category,subcategory,name, or none (default {default} " +
      "with the default --data, none with another); sample with --label FIELD=VALUE and --guidance W",
  },
  {
    key: "condDrop",
    flag: "cond-drop",
    ...num(0, 1),
    arg: "X",
    unset: String(DEFAULT_COND_DROP),
    help: "probability of dropping each label to its null entry while training (default {default})",
  },
  {
    key: "minSnrGamma",
    flag: "min-snr-gamma",
    ...num(0, 1e6, { minOpen: true }),
    arg: "G",
    unset: "none",
    help: "weigh each example's loss by min(SNR_t, G)/SNR_t (Min-SNR-γ; default {default})",
  },
  {
    key: "augment",
    flag: "augment",
    ...num(0, 1),
    arg: "P",
    unset: "0: none, and plain random flips",
    help: "non-leaking augmentation (EDM): with probability P per image a random flip and a shift of up to " +
      "2 px, given to the model as conditioning; samples ask for none (default {default})",
  },
  {
    key: "every",
    flag: "every",
    ...int(1),
    arg: "N",
    unset: "250",
    run: true,
    help: "checkpoint + sample grid every N steps (default {default})",
  },
  {
    key: "minutes",
    flag: "minutes",
    ...num(0, 7 * 24 * 60, { minOpen: true }),
    arg: "N",
    run: true,
    help: "stop the training loop after N minutes of wall clock (--steps stays the cap)",
  },
];

/**
 * The schema entry of a field, by its key.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { trainField } from "./config_schema.ts";
 * assert.equal(trainField("gradClip").flag, "grad-clip");
 * ```
 */
export function trainField(key: string): TrainField {
  const f = TRAIN_FIELDS.find((f) => f.key === key);
  if (!f) throw new RangeError(`no training setting "${key}"`);
  return f;
}

/**
 * Whether a number is in a field's range (and an integer, for an `int` field).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { inRange, trainField } from "./config_schema.ts";
 * assert.ok(inRange(trainField("lr"), 1));
 * assert.ok(!inRange(trainField("lr"), 0));
 * assert.ok(!inRange(trainField("batch"), 1.5));
 * ```
 */
export function inRange(f: TrainField, v: unknown): v is number {
  if (typeof v !== "number" || !Number.isFinite(v)) return false;
  if (f.kind === "int" && !Number.isInteger(v)) return false;
  const min = f.min ?? -Infinity, max = f.max ?? Infinity;
  return (f.minOpen ? v > min : v >= min) && (f.maxOpen ? v < max : v <= max);
}

/**
 * A field's range in words, as every error message says it: "an integer >= 1", "an integer in
 * [1, 4096]", "a number in (0, 1]", "a number >= 0". With `noun: false`, a number's range alone
 * ("in [0, 1)"), as the library's messages say it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { rangeText, trainField } from "./config_schema.ts";
 * assert.equal(rangeText(trainField("batch")), "an integer in [1, 4096]");
 * assert.equal(rangeText(trainField("lr")), "a number in (0, 1]");
 * assert.equal(rangeText(trainField("dropout"), false), "in [0, 1)");
 * ```
 */
export function rangeText(f: TrainField, noun = true): string {
  const min = f.min ?? -Infinity, max = f.max ?? Infinity;
  if (f.kind === "int") return max === Infinity ? `an integer >= ${min}` : `an integer in [${min}, ${max}]`;
  const what = noun ? "a number " : "";
  if (max === Infinity) return `${what}${f.minOpen ? ">" : ">="} ${min}`;
  return `${what}in ${f.minOpen ? "(" : "["}${min}, ${max}${f.maxOpen ? ")" : "]"}`;
}

/** A field's default as `--help` shows it: the defaults' value, else what applies when it is unset. */
function defaultText(f: TrainField, defaults: TrainConfig): string {
  const [head, sub] = f.key.split(".");
  const value = sub !== undefined
    ? (defaults.model as unknown as Record<string, unknown>)[sub]
    : (defaults as unknown as Record<string, unknown>)[head];
  if (value === undefined) return f.unset ?? "none";
  if (typeof value === "boolean") return value ? "on" : "off";
  return Array.isArray(value) ? value.join(",") : String(value);
}

/**
 * The usage lines of every field that has a flag, with the defaults of `defaults` filled in: the
 * flag and its argument, then the help line, wrapped to the usage text's width.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULT_TRAIN_CONFIG } from "./run.ts";
 * import { usageLines } from "./config_schema.ts";
 * const lines = usageLines(DEFAULT_TRAIN_CONFIG);
 * assert.ok(lines.some((l) => l.startsWith("  --batch N") && l.includes(`(default ${DEFAULT_TRAIN_CONFIG.batch})`)));
 * ```
 */
export function usageLines(defaults: TrainConfig, width = 110): string[] {
  const lines: string[] = [];
  for (const f of TRAIN_FIELDS) {
    if (!f.flag) continue;
    const head = `  --${f.flag}${f.arg ? ` ${f.arg}` : ""}`;
    const words = f.help.replace("{default}", defaultText(f, defaults)).split(" ");
    let line = head.length < 22 ? head.padEnd(22) : head;
    if (head.length >= 22) {
      lines.push(line);
      line = "".padEnd(22);
    }
    for (const w of words) {
      if (line.length + w.length + 1 > width && line.trim() !== "") {
        lines.push(line.trimEnd());
        line = "".padEnd(22);
      }
      line += (line.endsWith(" ") ? "" : " ") + w;
    }
    lines.push(line.trimEnd());
  }
  return lines;
}

/**
 * Throws a RangeError naming the first invalid training setting, by its name in the config: a value
 * outside its range in {@linkcode TRAIN_FIELDS}, a cooldown longer than the run, repeated EMA decays,
 * unknown label fields, and settings the model cannot take.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULT_TRAIN_CONFIG } from "./run.ts";
 * import { validateTrainConfig } from "./config_schema.ts";
 * validateTrainConfig(DEFAULT_TRAIN_CONFIG);
 * assert.throws(() => validateTrainConfig({ ...DEFAULT_TRAIN_CONFIG, dropout: 1 }), /dropout must be in \[0, 1\)/);
 * ```
 */
export function validateTrainConfig(c: TrainConfig): void {
  const values = c as unknown as Record<string, unknown>;
  for (const f of TRAIN_FIELDS) {
    if (f.run || (f.kind !== "int" && f.kind !== "number" && f.key !== "emaExtra")) continue;
    const v = values[f.key];
    if (v === undefined && !REQUIRED.has(f.key)) continue;
    for (const x of f.kind === "list" ? v as unknown[] : [v]) {
      if (!inRange(f, x)) throw new RangeError(`${f.key} must be ${rangeText(f, false)}, got ${x}`);
    }
  }
  if ((c.cooldown ?? 0) > c.steps) {
    throw new RangeError(`cooldown must be <= steps (${c.steps}), got ${c.cooldown}`);
  }
  if (new Set([c.ema, ...c.emaExtra ?? []]).size !== 1 + (c.emaExtra?.length ?? 0)) {
    throw new RangeError(`EMA decays must differ, got ${[c.ema, ...c.emaExtra ?? []].join(", ")}`);
  }
  if (c.condition !== undefined && c.condition.length > 0) parseConditionFields(c.condition.join(","));
  if (c.minSnrGamma !== undefined && parameterizationOf(c.model) === "edm") {
    throw new RangeError(
      "minSnrGamma weighs the ε loss; an edm model has its own weighting λ(σ): drop minSnrGamma",
    );
  }
  if ((c.dropout ?? 0) > 0 && c.model.preset !== "unet") {
    throw new RangeError(`dropout is built into the unet preset only, not "${c.model.preset}": drop dropout`);
  }
}

/** The numeric fields every {@linkcode TrainConfig} has. */
const REQUIRED = new Set(["T", "batch", "steps", "lr", "warmup", "gradClip", "ema", "seed"]);
