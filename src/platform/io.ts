/**
 * File helpers: atomic writes (temp file, fsync, rename) so that nothing half-written is left.
 *
 * @module
 */
import { basename, dirname } from "node:path";
import { FileWriteError } from "../errors.ts";

/** What an atomic write that failed leaves: nothing of the new file. */
const NO_PARTIAL = "no partial file was left";

/**
 * Whether `EMOJI_DIFFUSION_FAULT=enospc-file@<name>` asks the write of a file named `<name>` to fail
 * half-way as a full disk does (tests only). Read only where the environment may be read without a
 * prompt.
 */
function fullDiskWanted(path: string): boolean {
  const variable = "EMOJI_DIFFUSION_FAULT";
  try {
    if (Deno.permissions.querySync?.({ name: "env", variable }).state !== "granted") return false;
    return Deno.env.get(variable) === `enospc-file@${basename(path)}`;
  } catch {
    return false;
  }
}

/**
 * Writes `data` to `path` atomically: a temp file in the same folder, fsync, then rename.
 * Creates the parent folder. On failure the temp file is removed and `path` is untouched.
 *
 * @throws {FileWriteError} naming `path` and the reason (a full disk, …); a missing permission keeps
 * Deno's own error.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { atomicWriteFile } from "./io.ts";
 * const dir = await Deno.makeTempDir();
 * await atomicWriteFile(`${dir}/a.txt`, new TextEncoder().encode("hi"));
 * assert.equal(await Deno.readTextFile(`${dir}/a.txt`), "hi");
 * ```
 */
export async function atomicWriteFile(path: string, data: Uint8Array | string): Promise<void> {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const tmp = `${path}.tmp-${Deno.pid}-${Math.random().toString(36).slice(2)}`;
  try {
    await Deno.mkdir(dirname(path), { recursive: true });
    const file = await Deno.open(tmp, { write: true, create: true, truncate: true });
    try {
      const end = fullDiskWanted(path) ? bytes.length >> 1 : bytes.length;
      let off = 0;
      while (off < end) off += await file.write(bytes.subarray(off, end));
      if (end < bytes.length) throw new Error("No space left on device (os error 28)");
      await file.sync();
    } finally {
      file.close();
    }
    await Deno.rename(tmp, path);
  } catch (err) {
    await Deno.remove(tmp).catch(() => {});
    if (err instanceof Deno.errors.NotCapable || err instanceof FileWriteError) throw err;
    throw new FileWriteError(path, String((err as Error)?.message ?? err), NO_PARTIAL, { cause: err });
  }
}

/**
 * The files one command writes, each atomically ({@linkcode atomicWriteFile}): when one cannot be
 * written, the error names it and the files written before it, so that a full disk says what is there.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { OutputFiles } from "./io.ts";
 * const dir = await Deno.makeTempDir();
 * const files = new OutputFiles();
 * await files.write(`${dir}/a.txt`, "a");
 * const err = await files.write(`${dir}/a.txt/b.txt`, "b").catch((e) => e);
 * assert.match(err.message, /^could not write .*b\.txt: .*; no partial file was left; written before it: .*a\.txt$/);
 * assert.deepEqual(files.written, [`${dir}/a.txt`]);
 * ```
 */
export class OutputFiles {
  /** The files written so far, in order. */
  readonly written: string[] = [];

  /**
   * Writes one file atomically and records it.
   *
   * @throws {FileWriteError} naming the file and the ones written before it.
   */
  async write(path: string, data: Uint8Array | string): Promise<void> {
    try {
      await atomicWriteFile(path, data);
    } catch (err) {
      if (!(err instanceof FileWriteError)) throw err;
      const n = this.written.length;
      const before = n === 0
        ? "nothing was written before it"
        : `written before it: ${this.written.slice(0, 3).join(", ")}${n > 3 ? ` and ${n - 3} more` : ""}`;
      throw new FileWriteError(path, err.reason, `${NO_PARTIAL}; ${before}`, { cause: err });
    }
    this.written.push(path);
  }
}

/** Whether a path exists (file or folder). */
export async function pathExists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}
