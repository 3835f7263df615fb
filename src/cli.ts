/**
 * Shared plumbing for the thin CLIs in `tasks/`: flag errors become one line and exit code 2.
 *
 * @module
 */

/** A bad flag or bad input the user can fix; the CLI prints its message and exits 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/**
 * Runs a CLI main function: usage problems (UsageError, RangeError, TypeError from flag parsing,
 * NotFound) print `error: <message>` on one line and exit 2; other failures exit 1.
 */
export async function runCli(main: () => Promise<void>): Promise<void> {
  try {
    await main();
  } catch (err) {
    const usage = err instanceof UsageError || err instanceof RangeError ||
      err instanceof Deno.errors.NotFound || (err as { code?: string })?.code?.startsWith?.("ERR_PARSE_ARGS");
    const message = err instanceof Error ? err.message : String(err);
    console.error(`error: ${message.split("\n")[0]}`);
    if (!usage && Deno.env.get("EMOJI_DIFFUSION_DEBUG")) console.error(err);
    Deno.exit(usage ? 2 : 1);
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
