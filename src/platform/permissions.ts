/**
 * Checking Deno permissions before any work: a program that samples for half a minute and then
 * cannot save its PNG should say so at its first line instead.
 *
 * @module
 */

/** A permission a piece of work needs, and the `deno run` flag that grants it. */
export interface NeededPermission {
  /** What Deno is asked (`Deno.permissions.query`). */
  descriptor: Deno.PermissionDescriptor;
  /** The flag that grants it, e.g. `--allow-ffi`. */
  flag: string;
}

/**
 * What encoding a PNG (`gridPng`, datasets) needs: imagescript loads a native addon.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PNG_PERMISSIONS } from "./permissions.ts";
 * assert.deepEqual(PNG_PERMISSIONS.map((p) => p.flag), ["--allow-ffi", "--allow-env"]);
 * ```
 */
export const PNG_PERMISSIONS: readonly NeededPermission[] = [
  { descriptor: { name: "ffi" }, flag: "--allow-ffi" },
  { descriptor: { name: "env" }, flag: "--allow-env" },
];

/**
 * The permission to write one file or folder, as a {@linkcode NeededPermission}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { writePermission } from "./permissions.ts";
 * assert.equal(writePermission("emojis.png").flag, "--allow-write=emojis.png");
 * ```
 */
export function writePermission(path: string): NeededPermission {
  return { descriptor: { name: "write", path }, flag: `--allow-write=${path}` };
}

/**
 * Permissions that are not granted, found by {@linkcode requirePermissions}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MissingPermissionError } from "./permissions.ts";
 * const err = new MissingPermissionError(["--allow-ffi"], "saving a PNG");
 * assert.equal(err.message, "saving a PNG needs --allow-ffi: run deno with --allow-ffi (and the rest it asks for)");
 * ```
 */
export class MissingPermissionError extends Error {
  /** Always `"MissingPermissionError"`. */
  override name = "MissingPermissionError";
  /** The flags that would grant what is missing. */
  readonly flags: string[];
  /**
   * Creates the error for what is missing and what it was needed for.
   *
   * @param flags The flags that would grant it.
   * @param what What needs them, e.g. `saving a PNG`.
   */
  constructor(flags: string[], what: string) {
    super(`${what} needs ${flags.join(" ")}: run deno with ${flags.join(" ")} (and the rest it asks for)`);
    this.flags = flags;
  }
}

/**
 * Checks, without prompting, that every permission in `needs` is granted, and throws one error listing
 * the flags of those that are not; call it before the work whose end needs them.
 *
 * @throws {MissingPermissionError} naming the missing flags and `what` needs them.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PNG_PERMISSIONS, requirePermissions } from "./permissions.ts";
 * // the tests run with --allow-ffi --allow-env
 * await requirePermissions(PNG_PERMISSIONS, "saving a PNG");
 * await assert.rejects(
 *   requirePermissions([{ descriptor: { name: "run", command: "no-such-tool" }, flag: "--allow-run" }], "x"),
 *   /^MissingPermissionError: x needs --allow-run/,
 * );
 * ```
 */
export async function requirePermissions(needs: readonly NeededPermission[], what: string): Promise<void> {
  const missing: string[] = [];
  for (const need of needs) {
    if ((await Deno.permissions.query(need.descriptor)).state !== "granted") missing.push(need.flag);
  }
  if (missing.length) throw new MissingPermissionError(missing, what);
}
