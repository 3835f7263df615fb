/**
 * The browser's stand-in for `files.ts` (same exports): a page has no file system, so reading a
 * path or writing a file says so; checkpoints come from URLs (`fetch`) or bytes instead. The
 * browser build maps `files.ts` to this module (`web/import_map.json`).
 *
 * @module
 */

/** A missing resource, named like Deno's `Deno.errors.NotFound`. */
export class NotFound extends Error {
  /** Always `"NotFound"`. */
  override name = "NotFound";
}

/**
 * Always throws: a browser has no local files.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readLocalFile } from "./files_browser.ts";
 * let message = "";
 * await readLocalFile("a.safetensors", "a.safetensors").catch((e) => message = e.message);
 * assert.ok(message.includes("URL"));
 * ```
 */
export function readLocalFile(_source: string | URL, shown: string): Promise<Uint8Array> {
  return Promise.reject(
    new Error(`checkpoint "${shown}" is a local file, which a browser cannot read; pass a URL or its bytes`),
  );
}

/**
 * Always throws: a browser cannot write files.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { atomicWriteFile } from "./files_browser.ts";
 * let failed = false;
 * await atomicWriteFile("a.bin", "x").catch(() => failed = true);
 * assert.ok(failed);
 * ```
 */
export function atomicWriteFile(path: string, _data: Uint8Array | string): Promise<void> {
  return Promise.reject(new Error(`cannot write "${path}": a browser has no file system`));
}

/**
 * The error for a resource that does not exist: a {@linkcode NotFound}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { notFoundError } from "./files_browser.ts";
 * assert.equal(notFoundError("gone").name, "NotFound");
 * ```
 */
export function notFoundError(message: string): Error {
  return new NotFound(message);
}

/**
 * Whether `err` is a missing permission: never, in a browser (a refused fetch is a network error).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isPermissionError } from "./files_browser.ts";
 * assert.ok(!isPermissionError(new Error("x")));
 * ```
 */
export function isPermissionError(_err: unknown): boolean {
  return false;
}

/**
 * Whether a path names one part of a split checkpoint: never here, since a browser reads no paths
 * (a URL or bytes go through the one-file reader).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isSplitPart } from "./files_browser.ts";
 * assert.ok(!isSplitPart("unet-00001-of-00002.safetensors"));
 * ```
 */
export function isSplitPart(_path: string): boolean {
  return false;
}

/**
 * Always throws: split checkpoints are read by path, which a browser cannot do.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadSplitParts } from "./files_browser.ts";
 * let failed = false;
 * await loadSplitParts("unet-00001-of-00002.safetensors", () => ({ meta: {}, tensors: new Map() })).catch(() => failed = true);
 * assert.ok(failed);
 * ```
 */
export function loadSplitParts(path: string, _decode: unknown): Promise<never> {
  return Promise.reject(
    new Error(`checkpoint "${path}" is split into local files, which a browser cannot read`),
  );
}
