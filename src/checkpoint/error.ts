/**
 * The error of a checkpoint that cannot be read, on its own so that the modules that read checkpoint
 * bytes (`checkpoint_source.ts`, the split-part reader) throw it without importing the format.
 *
 * @module
 */

/**
 * A checkpoint that cannot be read (missing tensors, corrupt, truncated, of another model), with the
 * reason: a runtime failure.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CheckpointError, decodeCheckpoint } from "./format.ts";
 * let caught: unknown;
 * try { decodeCheckpoint(new Uint8Array(16)); } catch (e) { caught = e; }
 * assert.ok(caught instanceof CheckpointError);
 * ```
 */
export class CheckpointError extends Error {
  /** Always `"CheckpointError"`. */
  override name = "CheckpointError";
}
