/**
 * Checkpoints split into several files, for transports with a size limit per file: each part is
 * a complete checkpoint file (same format, same metadata, a share of the tensors) named
 * `<base>-00001-of-00003.safetensors`, and loading any part loads them all as one checkpoint.
 *
 * @module
 */
import {
  type Checkpoint,
  decodeCheckpoint,
  encodeCheckpoint,
  type EncodeOptions,
  type StoredTensor,
} from "./format.ts";
import { atomicWriteFile } from "../platform/io.ts";
import { isSplitPart, loadSplitParts, splitPartPath } from "./parts.ts";

export { isSplitPart, splitPartPath };

/** Room kept for each part's JSON header (tensor table and metadata) when sizing parts. */
const HEADER_ALLOWANCE = 256 * 1024;

/** Options of {@linkcode splitCheckpoint} and {@linkcode saveSplitCheckpoint}. */
export interface SplitOptions extends EncodeOptions {
  /** Largest file in bytes (default 16 MiB). */
  maxBytes?: number;
}

/**
 * Splits a checkpoint into parts whose encoded files stay under `maxBytes`, keeping tensor order;
 * every part carries the full metadata. A single tensor too large for a part is a RangeError.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { Checkpoint } from "./format.ts";
 * import { splitCheckpoint } from "./split.ts";
 * const tensors = new Map(Array.from({ length: 4 }, (_, i) => [`ema/w${i}`, { shape: [100000], data: new Float32Array(100000) }]));
 * const ckpt: Checkpoint = { meta: { model: { preset: "seed", channels: [8, 8, 8], timeDim: 8 }, imageSize: 32,
 *   schedule: { kind: "linear", T: 10 }, step: 0, seed: 0, dataHash: null }, tensors };
 * assert.equal(splitCheckpoint(ckpt, { maxBytes: 1_200_000 }).length, 2);
 * ```
 */
export function splitCheckpoint(ckpt: Checkpoint, options: SplitOptions = {}): Checkpoint[] {
  const maxBytes = options.maxBytes ?? 16 * 2 ** 20;
  const width = (options.dtype ?? "F32") === "F32" ? 4 : 2;
  const budget = maxBytes - HEADER_ALLOWANCE - 8;
  if (budget <= 0) throw new RangeError(`maxBytes ${maxBytes} leaves no room for tensors`);
  const parts: Map<string, StoredTensor>[] = [new Map()];
  let used = 0;
  for (const [name, t] of ckpt.tensors) {
    const bytes = t.data.length * width;
    if (bytes > budget) {
      throw new RangeError(`tensor "${name}" (${bytes} bytes) does not fit in a part of ${maxBytes} bytes`);
    }
    if (used + bytes > budget && parts.at(-1)!.size > 0) {
      parts.push(new Map());
      used = 0;
    }
    parts.at(-1)!.set(name, t);
    used += bytes;
  }
  return parts.map((tensors) => ({ meta: ckpt.meta, tensors }));
}

/**
 * Writes a checkpoint as parts of at most `maxBytes` each (atomically, one by one) and returns their
 * paths; `base` is the path without `-0000i-of-0000n.safetensors`. Stale parts of an earlier save
 * with another count are left alone: load by one of the returned paths.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { Checkpoint } from "./format.ts";
 * import { saveSplitCheckpoint } from "./split.ts";
 * const dir = await Deno.makeTempDir();
 * const ckpt: Checkpoint = { meta: { model: { preset: "seed", channels: [8, 8, 8], timeDim: 8 }, imageSize: 32,
 *   schedule: { kind: "linear", T: 10 }, step: 0, seed: 0, dataHash: null },
 *   tensors: new Map([["ema/a", { shape: [2], data: Float32Array.of(1, 2) }]]) };
 * const paths = await saveSplitCheckpoint(`${dir}/ema`, ckpt, { dtype: "F16" });
 * assert.equal(paths.length, 1);
 * assert.ok(paths[0].endsWith("ema-00001-of-00001.safetensors"));
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function saveSplitCheckpoint(
  base: string,
  ckpt: Checkpoint,
  options: SplitOptions = {},
): Promise<string[]> {
  const parts = splitCheckpoint(ckpt, options);
  const paths: string[] = [];
  for (let i = 0; i < parts.length; i++) {
    const bytes = encodeCheckpoint(parts[i], options);
    if (bytes.length > (options.maxBytes ?? 16 * 2 ** 20)) {
      throw new RangeError(`part ${i + 1} came out at ${bytes.length} bytes, over the limit`);
    }
    const path = splitPartPath(base, i + 1, parts.length);
    await atomicWriteFile(path, bytes);
    paths.push(path);
  }
  return paths;
}

/**
 * Loads every part of the split checkpoint that `path` (any one part) belongs to and joins them:
 * all parts must be present, decode cleanly (each has its own checksum), carry the same metadata
 * and no tensor twice; otherwise a {@linkcode CheckpointError} names the problem.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { Checkpoint } from "./format.ts";
 * import { loadSplitCheckpoint, saveSplitCheckpoint } from "./split.ts";
 * const dir = await Deno.makeTempDir();
 * const tensors = new Map(Array.from({ length: 3 }, (_, i) => [`ema/w${i}`, { shape: [200000], data: new Float32Array(200000).fill(i) }]));
 * const ckpt: Checkpoint = { meta: { model: { preset: "seed", channels: [8, 8, 8], timeDim: 8 }, imageSize: 32,
 *   schedule: { kind: "linear", T: 10 }, step: 7, seed: 0, dataHash: null }, tensors };
 * const paths = await saveSplitCheckpoint(`${dir}/ema`, ckpt, { maxBytes: 1_200_000 });
 * const back = await loadSplitCheckpoint(paths[1]);
 * assert.equal(paths.length, 3);
 * assert.equal(back.tensors.size, 3);
 * assert.equal(back.tensors.get("ema/w2")!.data[0], 2);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function loadSplitCheckpoint(path: string): Promise<Checkpoint> {
  return await loadSplitParts(path, decodeCheckpoint);
}
