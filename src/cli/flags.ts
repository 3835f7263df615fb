/**
 * Shared plumbing for the thin CLIs in `tasks/` (the library never imports it): the error contract
 * of `docs/errors.md` — a usage error prints one line `error: …` and exits 2, a runtime failure
 * prints one line and exits 1 — and flag parsing that names the flag and its range.
 *
 * @module
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { dirname, join, resolve } from "node:path";
import { type Checkpoint, DATA_MEAN_TENSOR } from "../checkpoint/format.ts";
import { UsageError } from "../errors.ts";
import { DatasetError } from "../dataset/manifest.ts";
import { type GuidanceInterval, isGuidanceInterval } from "../sample/guidance_interval.ts";

export { UsageError };

/**
 * The exit status for an error under the contract: 2 for bad input found before any work
 * ({@linkcode UsageError} and its subclasses but a corrupt dataset, a missing input file, a flag the
 * parser rejects), 1 for everything else (corrupt or unreadable files, a full disk, a non-finite
 * loss, an internal RangeError).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { exitCodeFor, UsageError } from "./flags.ts";
 * assert.equal(exitCodeFor(new UsageError("x")), 2);
 * assert.equal(exitCodeFor(new RangeError("x")), 1);
 * ```
 */
export function exitCodeFor(err: unknown): 1 | 2 {
  if (err instanceof DatasetError) return err.corrupt ? 1 : 2;
  const usage = err instanceof UsageError || err instanceof Deno.errors.NotFound ||
    (err as { code?: string })?.code?.startsWith?.("ERR_PARSE_ARGS");
  return usage ? 2 : 1;
}

/**
 * Runs a CLI main function under the error contract: any error prints `error: <message>` on one line
 * and exits with {@linkcode exitCodeFor}'s status. `EMOJI_DIFFUSION_DEBUG=1` adds the stack of a
 * runtime failure.
 */
export async function runCli(main: () => Promise<void>): Promise<void> {
  try {
    await main();
  } catch (err) {
    const code = exitCodeFor(err);
    const message = err instanceof Error ? err.message : String(err);
    console.error(`error: ${message.split("\n")[0]}`);
    if (code !== 2 && Deno.env.get("EMOJI_DIFFUSION_DEBUG")) console.error(err);
    Deno.exit(code);
  }
}

/**
 * `node:util` parseArgs, except that a negative number after a string option is its value
 * (`--eta -1` reads as `--eta=-1`, which the range checks then reject by name) instead of an
 * "ambiguous" error.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseFlags } from "./flags.ts";
 * const { values } = parseFlags({ args: ["--n", "-3"], options: { n: { type: "string" } } });
 * assert.equal(values.n, "-3");
 * ```
 */
export function parseFlags<T extends ParseArgsConfig>(config: T): ReturnType<typeof parseArgs<T>> {
  const args = [...(config.args ?? Deno.args)];
  const strings = new Set(
    Object.entries(config.options ?? {}).filter(([, o]) => o.type === "string").map(([k]) => `--${k}`),
  );
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (strings.has(args[i]) && i + 1 < args.length && /^-(\d|\.\d|Infinity)/.test(args[i + 1])) {
      out.push(`${args[i]}=${args[i + 1]}`);
      i++;
    } else out.push(args[i]);
  }
  return parseArgs({ ...config, args: out } as T);
}

/**
 * Runs a validation that throws a RangeError for a bad value and reports it as a
 * {@linkcode UsageError} with the same message, the RangeError as its `cause` (so a flag's range is a
 * usage error, while a RangeError from deeper inside stays a runtime failure). With `word`, the
 * message of a RangeError or a UsageError is reworded by it (e.g. a setting's name as its flag).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { asUsage } from "./flags.ts";
 * let name = "";
 * try { asUsage(() => { throw new RangeError("bad"); }); } catch (e) { name = (e as Error).name; }
 * assert.equal(name, "UsageError");
 * ```
 */
export function asUsage<T>(check: () => T, prefix = "", word?: (message: string) => string): T {
  try {
    return check();
  } catch (err) {
    if (err instanceof RangeError || (word && err instanceof UsageError)) {
      throw new UsageError(`${prefix}${word ? word(err.message) : err.message}`, { cause: err });
    }
    throw err;
  }
}

/**
 * Checks, before any work, that the folder `dir` (given by `--<flag>`) can be written: the task's
 * `--allow-write` covers it and the file system lets this user create a file in it or, when it does
 * not exist yet, in its nearest existing parent. Creates nothing. An empty `dir` is refused.
 *
 * @example
 * ```ts ignore
 * import { checkWritableDir } from "./flags.ts";
 * await checkWritableDir("out", "data/samples");
 * ```
 */
export async function checkWritableDir(flag: string, dir: string): Promise<void> {
  if (dir.trim() === "") throw new UsageError(`--${flag} must name a folder, got an empty path`);
  const status = await Deno.permissions.query({ name: "write", path: dir });
  if (status.state !== "granted") {
    throw new UsageError(
      `--${flag} ${dir} is outside the folders this task may write (data/): choose an --${flag} under data/`,
    );
  }
  let existing = resolve(dir);
  for (;;) {
    try {
      const stat = await Deno.stat(existing);
      if (!stat.isDirectory) {
        throw new UsageError(
          `--${flag} ${dir}: ${existing} is a file, not a folder; choose another --${flag}`,
        );
      }
      break;
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
      const parent = dirname(existing);
      if (parent === existing) break;
      existing = parent;
    }
  }
  const probe = join(existing, `.write-test-${Deno.pid}-${Math.random().toString(36).slice(2)}`);
  try {
    await Deno.writeFile(probe, new Uint8Array(0), { createNew: true });
    await Deno.remove(probe);
  } catch (err) {
    const reason = err instanceof Error ? err.message.split("\n")[0] : String(err);
    throw new UsageError(`--${flag} ${dir} cannot be written (${reason}): choose another --${flag}`, {
      cause: err,
    });
  }
}

/** Parses an integer flag, or throws a UsageError naming the flag and the valid range. */
export function intFlag(
  name: string,
  value: string | undefined,
  fallback: number,
  min = 1,
  max = Infinity,
): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) {
    const range = max === Infinity ? `an integer >= ${min}` : `an integer in [${min}, ${max}]`;
    throw new UsageError(`--${name} must be ${range}, got "${value}"`);
  }
  return n;
}

/** Parses a number flag, or throws a UsageError naming the flag and the valid range. */
export function numberFlag(
  name: string,
  value: string | undefined,
  fallback: number,
  min = -Infinity,
  max = Infinity,
): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n) || n < min || n > max) {
    throw new UsageError(`--${name} must be a number in [${min}, ${max}], got "${value}"`);
  }
  return n;
}

/** Checks a flag value against a list of choices, or throws a UsageError listing them. */
export function choiceFlag<T extends string>(
  name: string,
  value: string | undefined,
  choices: readonly T[],
  fallback: T,
): T {
  if (value === undefined) return fallback;
  if ((choices as readonly string[]).includes(value)) return value as T;
  throw new UsageError(`--${name} "${value}" is unknown: choose one of ${choices.join(", ")}`);
}

/** Parses `--threads`: `auto` or an integer in [1, 8]; throws a UsageError otherwise. */
export function threadsFlag(value: string | undefined, fallback: number | "auto" = "auto"): number | "auto" {
  if (value === undefined) return fallback;
  if (value === "auto") return "auto";
  return intFlag("threads", value, 1, 1, 8);
}

/** The values of `--prior`. */
export const PRIORS = ["data-mean", "standard"] as const;

/**
 * The data mean `--prior` asks for: the checkpoint's with `data-mean` (the default when it has
 * one), none with `standard` (N(0, I), the notebook's start).
 */
export function chosenDataMean(flag: string | undefined, ckpt: Checkpoint): Float32Array | undefined {
  const mean = ckpt.tensors.get(DATA_MEAN_TENSOR)?.data;
  const prior = choiceFlag("prior", flag, PRIORS, mean ? "data-mean" : "standard");
  if (prior === "standard") return undefined;
  if (!mean) {
    throw new UsageError(
      `--prior data-mean: the checkpoint has no data mean (data/mean); add it with "deno task export --data DIR"`,
    );
  }
  return mean;
}

/** The usage line of `--prior`, shared by sample and eval. */
export const PRIOR_USAGE =
  `  --prior NAME        start of the reverse process: data-mean = N(√ᾱ·mean training image, (1−ᾱ)·I), the
                      forward process's own mean (default when the checkpoint has one) | standard = N(0, I)`;

/**
 * Parses repeated `--NAME FIELD=VALUE` flags (e.g. `--label vendor=google`) into labels; a field
 * given twice is refused. Values are checked against a model's vocabulary later (`resolveLabels`).
 *
 * @throws {UsageError} for a flag without `=` or a field given twice.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { labelFlags } from "./flags.ts";
 * assert.equal(labelFlags("label", ["vendor=google", "subcategory=face-smiling"]).vendor, "google");
 * ```
 */
export function labelFlags(name: string, flags: readonly string[]): Record<string, string> {
  // no prototype: `__proto__` or `constructor` is a field like any other, for the vocabulary to refuse
  const out: Record<string, string> = Object.create(null);
  for (const f of flags) {
    const eq = f.indexOf("=");
    if (eq <= 0) throw new UsageError(`--${name} must be FIELD=VALUE (e.g. vendor=google), got "${f}"`);
    const field = f.slice(0, eq), value = f.slice(eq + 1);
    if (Object.hasOwn(out, field)) throw new UsageError(`--${name} ${field} is given twice`);
    out[field] = value;
  }
  return out;
}

/**
 * Parses `--NAME LO,HI`, two fractions 0 ≤ LO ≤ HI ≤ 1 (e.g. `--guidance-interval 0,0.6`).
 *
 * @throws {UsageError} naming the flag and the expected form.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { intervalFlag } from "./flags.ts";
 * assert.equal(intervalFlag("guidance-interval", "0,0.6")?.[1], 0.6);
 * assert.equal(intervalFlag("guidance-interval", undefined), undefined);
 * ```
 */
export function intervalFlag(name: string, value: string | undefined): GuidanceInterval | undefined {
  if (value === undefined) return undefined;
  const parts = value.split(",").map((p) => p.trim());
  const interval = parts.map(Number);
  if (parts.some((p) => p === "") || !isGuidanceInterval(interval)) {
    throw new UsageError(`--${name} must be LO,HI with 0 <= LO <= HI <= 1 (fractions of T), got "${value}"`);
  }
  return interval;
}

/** What {@linkcode stopOnSignals} returns. */
export interface SignalStop {
  /** Aborted by the first SIGINT or SIGTERM. */
  signal: AbortSignal;
  /** The signal received, or null. */
  readonly received: Deno.Signal | null;
  /** Removes the listeners. */
  dispose(): void;
}

/**
 * Turns the first SIGINT (Ctrl-C) or SIGTERM into an abort of the returned signal, with `notice` on
 * stderr, so that a long task can stop cleanly (e.g. training writes a checkpoint); a second one ends
 * the process at once with status 128 + the signal's number.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { stopOnSignals } from "./flags.ts";
 * const stop = stopOnSignals("stopping");
 * assert.equal(stop.signal.aborted, false);
 * stop.dispose();
 * ```
 */
export function stopOnSignals(notice: string): SignalStop {
  const controller = new AbortController();
  let received: Deno.Signal | null = null;
  const listeners: [Deno.Signal, () => void][] = [];
  for (const [name, number] of [["SIGINT", 2], ["SIGTERM", 15]] as const) {
    const listener = () => {
      if (received) Deno.exit(128 + number);
      received = name;
      console.error(`\n${notice} (${name}; again to quit at once, without it)`);
      controller.abort(name);
    };
    try {
      Deno.addSignalListener(name, listener);
      listeners.push([name, listener]);
    } catch { /* a platform without this signal */ }
  }
  return {
    signal: controller.signal,
    get received() {
      return received;
    },
    dispose() {
      for (const [name, listener] of listeners) Deno.removeSignalListener(name, listener);
      listeners.length = 0;
    },
  };
}

/**
 * Exit status of a task stopped by a signal: 128 + its number (130 for SIGINT, 143 for SIGTERM).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { signalExitCode } from "./flags.ts";
 * assert.equal(signalExitCode("SIGINT"), 130);
 * ```
 */
export function signalExitCode(signal: Deno.Signal): number {
  return 128 + (signal === "SIGINT" ? 2 : signal === "SIGTERM" ? 15 : 0);
}
