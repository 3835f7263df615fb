/**
 * The training flags of `deno task train`, read from the one schema of the training settings
 * ({@linkcode TRAIN_FIELDS}): each flag parsed and range-checked as the schema says, the usage lines
 * written from it, and a library message about a setting worded by its flag.
 *
 * @module
 */
import { inRange, rangeText, TRAIN_FIELDS, trainField } from "../train/config_schema.ts";
import { UsageError } from "../errors.ts";

/**
 * A number flag of the schema field `key`, parsed and checked against its range; `fallback` when the
 * flag is not given.
 *
 * @throws {UsageError} naming the flag and its range, e.g. `--lr must be a number in (0, 1], got "-1"`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { schemaFlag } from "./train_flags.ts";
 * assert.equal(schemaFlag("batch", "8", 16), 8);
 * assert.equal(schemaFlag("batch", undefined, 16), 16);
 * assert.throws(() => schemaFlag("lr", "-1", 0.002), { message: '--lr must be a number in (0, 1], got "-1"' });
 * ```
 */
export function schemaFlag<T extends number | undefined>(
  key: string,
  value: string | undefined,
  fallback: T,
): number | T {
  if (value === undefined) return fallback;
  const f = trainField(key);
  const n = value.trim() === "" ? NaN : Number(value);
  if (!inRange(f, n)) throw new UsageError(`--${f.flag ?? key} must be ${rangeText(f)}, got "${value}"`);
  return n;
}

/**
 * Parses `--ema`: one EMA decay, or a comma-separated list whose first decay is the main average and
 * the others are kept beside it (`emaExtra`); `fallback` when not given. Each decay is in the range of
 * the schema's `ema`, and they must differ.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { emaFlag } from "./train_flags.ts";
 * assert.deepEqual(emaFlag("0.999,0.9999", { ema: 0.995 }), { ema: 0.999, emaExtra: [0.9999] });
 * assert.deepEqual(emaFlag(undefined, { ema: 0.995 }), { ema: 0.995 });
 * assert.throws(() => emaFlag("0.999,0.999", { ema: 0.995 }), /--ema decays must differ/);
 * ```
 */
export function emaFlag(
  value: string | undefined,
  fallback: { ema: number; emaExtra?: number[] },
): { ema: number; emaExtra?: number[] } {
  if (value === undefined) {
    return { ema: fallback.ema, ...(fallback.emaExtra ? { emaExtra: fallback.emaExtra } : {}) };
  }
  const decays = value.split(",").map((d) => schemaFlag("ema", d.trim(), 0));
  if (new Set(decays).size !== decays.length) {
    throw new UsageError(`--ema decays must differ, got "${value}"`);
  }
  return { ema: decays[0], ...(decays.length > 1 ? { emaExtra: decays.slice(1) } : {}) };
}

/** How `trainRun`'s messages name its run options, and the flags that set them. */
const RUN_WORDS: [RegExp, string][] = [
  [/\banother run folder\b/g, "another --out"],
  [/\brun folder (?=[^\s,;:])/g, "--out "],
  [/(?<![\w"/.-])resume(?![\w"/.-])/g, "--resume"],
  [/(?<![\w"/.-])init(?![\w"/.-])/g, "--init"],
];

/**
 * A library message about training settings with each setting's name replaced by its flag, as the
 * CLI says it (`minSnrGamma …: drop minSnrGamma` → `--min-snr-gamma …: drop --min-snr-gamma`), and the
 * run folder and the checkpoints a run starts from by `--out`, `--resume` and `--init`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { flagWording } from "./train_flags.ts";
 * assert.equal(flagWording("dropout must be in [0, 1), got 1"), "--dropout must be in [0, 1), got 1");
 * assert.equal(flagWording("cooldown must be <= steps (40)"), "--cooldown must be <= --steps (40)");
 * assert.equal(flagWording('not "seed": drop dropout'), 'not "seed": drop --dropout');
 * assert.equal(flagWording("run folder d holds x: choose another run folder, or continue with resume d/a"),
 *   "--out d holds x: choose another --out, or continue with --resume d/a");
 * assert.equal(flagWording("run folder data/runs/a is in use"), "--out data/runs/a is in use");
 * ```
 */
export function flagWording(message: string): string {
  let out = message;
  for (const [words, flag] of RUN_WORDS) out = out.replace(words, flag);
  for (const f of TRAIN_FIELDS) {
    if (!f.flag || f.key.includes(".") || f.key === "T") continue;
    out = out.replace(new RegExp(`(?<![\\w"/.-])${f.key}(?![\\w"/.-])`, "g"), `--${f.flag}`);
  }
  return out;
}
