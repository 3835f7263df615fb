/**
 * The library's error classes besides the ones that live with their concept ({@linkcode CheckpointError}
 * in `checkpoint.ts`, `DatasetError` in `dataset/manifest.ts`, `NonFiniteLossError` in `train/trainer.ts`).
 *
 * Two kinds: a {@linkcode UsageError} (and its subclasses) is bad input the caller can fix, found before
 * any work starts; every other error is a runtime failure. The CLIs in `tasks/` print either as one line
 * `error: …` and exit 2 for usage errors, 1 otherwise (see `docs/errors.md`).
 *
 * @module
 */

/**
 * Bad input the caller can fix (a value out of range, conflicting options, a missing input), found
 * before any work starts. The message names the option or file and the fix.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { UsageError } from "./errors.ts";
 * const err = new UsageError("--n must be an integer >= 1, got \"-3\"");
 * assert.ok(err instanceof Error);
 * assert.equal(err.name, "UsageError");
 * ```
 */
export class UsageError extends Error {
  /** Always `"UsageError"`. */
  override name = "UsageError";
}

/** The owner of a run folder's lock, as written in `<run>/run.lock`. */
export interface LockOwner {
  /** Process id of the owner. */
  pid: number;
  /** When the owner took the lock (ISO 8601). */
  startedAt: string;
  /** The host it ran on. */
  host: string;
}

/**
 * A run folder that another live process is training into. A usage error: choose another folder or
 * wait for the other run.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { RunLockedError, UsageError } from "./errors.ts";
 * const err = new RunLockedError("data/runs/a", { pid: 1, startedAt: "", host: "h" });
 * assert.ok(err instanceof UsageError);
 * assert.ok(err.message.includes("pid 1"));
 * ```
 */
export class RunLockedError extends UsageError {
  /** Always `"RunLockedError"`. */
  override name = "RunLockedError";
  /** The run folder. */
  readonly dir: string;
  /** Who holds its lock. */
  readonly owner: LockOwner;
  /**
   * Creates the error for a run folder and the owner of its lock.
   *
   * @param dir The run folder.
   * @param owner Who holds its lock.
   */
  constructor(dir: string, owner: LockOwner) {
    super(
      `run folder ${dir} is in use by another training run (pid ${owner.pid} on ${owner.host}, started ` +
        `${owner.startedAt}); wait for it to finish or choose another run folder`,
    );
    this.dir = dir;
    this.owner = owner;
  }
}

/**
 * A file that could not be written (disk full, permission lost, …): names the file, the reason and
 * what was kept. Every task's writes go through `atomicWriteFile`, which throws it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FileWriteError } from "./errors.ts";
 * const err = new FileWriteError("data/samples/grid.png", "No space left on device (os error 28)", "nothing else was written");
 * assert.equal(err.message, "could not write data/samples/grid.png: No space left on device (os error 28); nothing else was written");
 * ```
 */
export class FileWriteError extends Error {
  /** Always `"FileWriteError"` (`"RunWriteError"` for a run's file). */
  override name = "FileWriteError";
  /** The file that could not be written. */
  readonly path: string;
  /** Why (the first line of the system's message). */
  readonly reason: string;
  /**
   * Creates the error for a file, the reason and what was kept.
   *
   * @param path The file that could not be written.
   * @param reason Why (the system's message).
   * @param kept What is intact, e.g. `the last complete checkpoint is … (step 20)`.
   * @param options `cause`: the system's error.
   */
  constructor(path: string, reason: string, kept: string, options?: ErrorOptions) {
    const why = reason.split("\n")[0];
    super(`could not write ${path}: ${why}; ${kept}`, options);
    this.path = path;
    this.reason = why;
  }
}

/**
 * A file of a run that could not be written (disk full, permission lost, …): names the file, the
 * reason and what was kept.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { RunWriteError } from "./errors.ts";
 * const err = new RunWriteError("data/runs/a/ckpt-000040.safetensors", "No space left on device", "nothing");
 * assert.ok(err.message.startsWith("could not write data/runs/a/ckpt-000040.safetensors"));
 * ```
 */
export class RunWriteError extends FileWriteError {
  /** Always `"RunWriteError"`. */
  override name = "RunWriteError";
}
