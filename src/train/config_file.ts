/**
 * Training recipes as files: a JSON object with the fields of {@linkcode TrainConfig} (the same
 * shape as a run's `config.json`) plus the run settings `every` and `minutes`, validated field by
 * field so that a typo is a one-line error before any work starts.
 *
 * @module
 */
import { parseConditionFields } from "../model/labels.ts";
import {
  DEFAULT_SEED_CONFIG,
  DEFAULT_UNET_CONFIG,
  type ModelConfig,
  validateModelConfig,
} from "../model/model.ts";
import { SCHEDULE_KINDS } from "../core/schedule.ts";
import { UsageError } from "../errors.ts";
import {
  inRange,
  rangeText,
  TRAIN_FIELDS,
  type TrainConfig,
  type TrainField,
  trainField,
} from "./config_schema.ts";

/**
 * A recipe file that cannot be used, with the field and the fix in its one-line message: a usage
 * error (the CLI exits 2), since the file was named by the caller.
 */
export class TrainRecipeError extends UsageError {
  /** Always `"TrainRecipeError"`. */
  override name = "TrainRecipeError";
}

/** What a recipe file holds: training fields and run settings, each optional. */
export interface TrainRecipe {
  /** The {@linkcode TrainConfig} fields the file sets. */
  config: Partial<TrainConfig>;
  /** Checkpoint and sample grid every this many steps. */
  every?: number;
  /** Wall-clock budget of the training loop in minutes (stops early when reached). */
  minutes?: number;
}

type Check = (key: string, v: unknown) => unknown;

/** The check of a number field of the schema: its range, named as the schema says it. */
const inSchemaRange = (f: TrainField): Check => (key, v) => {
  if (!inRange(f, v)) {
    throw new TrainRecipeError(`"${key}" must be ${rangeText(f)}, got ${JSON.stringify(v)}`);
  }
  return v;
};

/** The checks of the fields that are not plain numbers. */
const SPECIAL: Record<string, Check> = {
  data: (key, v) => {
    if (typeof v !== "string" || v.trim() === "") {
      throw new TrainRecipeError(`"${key}" must be a dataset folder (a non-empty string)`);
    }
    return v;
  },
  model: (key, v) => parseModel(key, v),
  schedule: (key, v) => {
    if (!(SCHEDULE_KINDS as readonly unknown[]).includes(v)) {
      throw new TrainRecipeError(
        `"${key}" must be one of ${SCHEDULE_KINDS.join(", ")}, got ${JSON.stringify(v)}`,
      );
    }
    return v;
  },
  emaExtra: (key, v) => {
    if (!Array.isArray(v)) {
      throw new TrainRecipeError(`"${key}" must list EMA decays, e.g. [0.9995, 0.9999]`);
    }
    return v.map((d, i) => inSchemaRange(trainField("emaExtra"))(`${key}[${i}]`, d));
  },
  condition: (key, v) => {
    if (!Array.isArray(v) || !v.every((f) => typeof f === "string")) {
      throw new TrainRecipeError(`"${key}" must list label fields, e.g. ["vendor", "subcategory"]`);
    }
    try {
      return v.length ? parseConditionFields(v.join(",")) : [];
    } catch (err) {
      throw new TrainRecipeError(`"${key}": ${(err as Error).message.replace(/^condition:? ?/, "")}`, {
        cause: err,
      });
    }
  },
};

/** Every field a recipe may set, from the schema: its check, and whether it is a run setting. */
const FIELDS: Record<string, { check: Check; run: boolean }> = Object.fromEntries(
  TRAIN_FIELDS.filter((f) => f.key === "model.preset" || !f.key.startsWith("model.")).map((f) => {
    const key = f.key === "model.preset" ? "model" : f.key;
    return [key, { check: SPECIAL[key] ?? inSchemaRange(f), run: f.run ?? false }];
  }),
);

function parseModel(key: string, v: unknown): ModelConfig {
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    throw new TrainRecipeError(`"${key}" must be an object such as {"preset": "unet", "channels": 64}`);
  }
  const m = v as Record<string, unknown>;
  const preset = m.preset ?? "unet";
  const defaults: Record<string, unknown> | undefined = preset === "unet"
    ? DEFAULT_UNET_CONFIG as unknown as Record<string, unknown>
    : preset === "seed"
    ? DEFAULT_SEED_CONFIG as unknown as Record<string, unknown>
    : undefined;
  if (!defaults) {
    throw new TrainRecipeError(`"${key}.preset" must be "unet" or "seed", got ${JSON.stringify(preset)}`);
  }
  const known = new Set([
    ...Object.keys(defaults),
    "labels",
    "augmentConditioning",
    ...(preset === "unet" ? ["attentionResolutions", "parameterization"] : []),
  ]);
  for (const k of Object.keys(m)) {
    if (!known.has(k)) {
      throw new TrainRecipeError(
        `"${key}.${k}" is not a ${preset} setting: use ${[...known].join(", ")}`,
      );
    }
  }
  const config = { ...structuredClone(defaults), ...m, preset } as unknown as ModelConfig;
  try {
    validateModelConfig(config);
  } catch (err) {
    throw new TrainRecipeError(`"${key}": ${(err as Error).message}`, { cause: err });
  }
  return config;
}

/**
 * Parses and validates a recipe file's text. Unknown fields, wrong types and out-of-range values
 * throw a {@linkcode TrainRecipeError} naming the field; a partial model is completed from its
 * preset's defaults. `init`, which a run writes for the record, is refused: pass `--init` instead.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseTrainRecipe } from "./config_file.ts";
 * const r = parseTrainRecipe('{"batch": 64, "model": {"channels": 64}, "minutes": 9}');
 * assert.equal(r.config.batch, 64);
 * assert.equal(r.minutes, 9);
 * assert.equal(r.config.model?.preset, "unet");
 * ```
 */
export function parseTrainRecipe(text: string): TrainRecipe {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new TrainRecipeError(`not valid JSON (${(err as Error).message.split("\n")[0]})`, { cause: err });
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new TrainRecipeError("must hold one JSON object of training settings");
  }
  const recipe: TrainRecipe = { config: {} };
  const config = recipe.config as Record<string, unknown>;
  for (const [key, value] of Object.entries(raw as Record<string, unknown>)) {
    if (key === "init") {
      throw new TrainRecipeError(
        `"init" is a run's record of where it started: remove it and give the checkpoint as init`,
      );
    }
    const field = Object.hasOwn(FIELDS, key) ? FIELDS[key] : undefined;
    if (!field) throw new TrainRecipeError(`unknown field "${key}": use ${Object.keys(FIELDS).join(", ")}`);
    const target = field.run ? recipe as unknown as Record<string, unknown> : config;
    target[key] = field.check(key, value);
  }
  return recipe;
}

/**
 * Reads and validates a recipe file; a missing or invalid file throws a {@linkcode TrainRecipeError}
 * whose message starts with `shown` (the path, or how the caller names it, e.g. `--config <path>`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadTrainRecipe } from "./config_file.ts";
 * await assert.rejects(loadTrainRecipe("no-such-recipe.json"), {
 *   name: "TrainRecipeError",
 *   message: "no-such-recipe.json does not exist; give a JSON recipe such as configs/faces4-64.json",
 * });
 * ```
 */
export async function loadTrainRecipe(path: string, shown: string = path): Promise<TrainRecipe> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    const why = err instanceof Deno.errors.NotFound
      ? "does not exist"
      : `cannot be read (${(err as Error).message})`;
    throw new TrainRecipeError(`${shown} ${why}; give a JSON recipe such as configs/faces4-64.json`, {
      cause: err,
    });
  }
  try {
    return parseTrainRecipe(text);
  } catch (err) {
    throw new TrainRecipeError(`${shown}: ${(err as Error).message}`, { cause: err });
  }
}
