/**
 * The file-system side of the library in Deno: reading a checkpoint from a path or a `file:` URL,
 * split checkpoints by path, atomic writes, and Deno's error classes. The platform-neutral core (checkpoint parsing, the
 * model, schedules, samplers) reaches files only through this module; the browser build replaces
 * it with `files_browser.ts` (see `web/import_map.json`), which has the same exports.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
export { atomicWriteFile } from "./io.ts";
export { isSplitPart, loadSplitParts } from "../checkpoint/parts.ts";

/**
 * Reads a local file given as a path or a `file:` URL; a missing file is a `Deno.errors.NotFound`
 * whose message names it as `shown` and says how to make one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readLocalFile } from "./files.ts";
 * const bytes = await readLocalFile(new URL(import.meta.url), "this module");
 * assert.ok(bytes.length > 0);
 * ```
 */
export async function readLocalFile(source: string | URL, shown: string): Promise<Uint8Array> {
  const path = source instanceof URL ? fileURLToPath(source) : source;
  try {
    return await Deno.readFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new Deno.errors.NotFound(
        `checkpoint "${shown}" does not exist; train one with: deno task train`,
        {
          cause: err,
        },
      );
    }
    throw err;
  }
}

/**
 * The error for a resource that does not exist: `Deno.errors.NotFound`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { notFoundError } from "./files.ts";
 * assert.ok(notFoundError("gone") instanceof Deno.errors.NotFound);
 * ```
 */
export function notFoundError(message: string): Error {
  return new Deno.errors.NotFound(message);
}

/**
 * Whether `err` is a missing permission (`Deno.errors.NotCapable`), whose own message is clearer
 * than any rewording.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isPermissionError } from "./files.ts";
 * assert.ok(!isPermissionError(new Error("x")));
 * ```
 */
export function isPermissionError(err: unknown): boolean {
  return err instanceof Deno.errors.NotCapable;
}
