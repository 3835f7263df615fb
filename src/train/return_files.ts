/**
 * What a remote training run brings back when only a few small files can travel: the EMA weights as
 * an F16 sampling checkpoint split into parts under a size limit, the last sample grid and the loss
 * history.
 *
 * @module
 */
import { basename, dirname, join } from "node:path";
import { loadCheckpoint, samplingCheckpoint } from "../checkpoint/format.ts";
import { saveSplitCheckpoint } from "../checkpoint/split.ts";
import { atomicWriteFile } from "../platform/io.ts";

/** Options of {@linkcode exportForReturn}. */
export interface ReturnOptions {
  /** Largest file in bytes (default 16 MiB). */
  maxBytes?: number;
  /** Base name of the checkpoint parts in the folder (default `ema`). */
  name?: string;
}

/**
 * Writes into `outDir` the sampling checkpoint of a run's checkpoint (EMA weights and data mean,
 * stored as F16, in parts of at most `maxBytes`), plus the newest `samples-*.png` grid and `loss.csv`
 * of the checkpoint's run folder when they exist. Returns the written paths; load the checkpoint
 * with `loadCheckpoint(paths[0])`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { saveCheckpoint } from "../checkpoint/format.ts";
 * import { exportForReturn } from "./return_files.ts";
 * const run = await Deno.makeTempDir(), out = await Deno.makeTempDir();
 * await saveCheckpoint(`${run}/latest.safetensors`, { meta: { model: { preset: "seed", channels: [8, 8, 8], timeDim: 8 },
 *   imageSize: 32, schedule: { kind: "linear", T: 10 }, step: 3, seed: 0, dataHash: null },
 *   tensors: new Map([["params/a", { shape: [1], data: Float32Array.of(1) }], ["ema/a", { shape: [1], data: Float32Array.of(2) }]]) });
 * const files = await exportForReturn(`${run}/latest.safetensors`, out);
 * assert.equal(files.length, 1);
 * assert.ok(files[0].endsWith("ema-00001-of-00001.safetensors"));
 * await Deno.remove(run, { recursive: true });
 * await Deno.remove(out, { recursive: true });
 * ```
 */
export async function exportForReturn(
  checkpoint: string,
  outDir: string,
  options: ReturnOptions = {},
): Promise<string[]> {
  const ckpt = await loadCheckpoint(checkpoint);
  await Deno.mkdir(outDir, { recursive: true });
  const written = await saveSplitCheckpoint(
    join(outDir, options.name ?? "ema"),
    samplingCheckpoint(ckpt, { notes: { ...ckpt.meta.notes, exportedFrom: basename(checkpoint) } }),
    { dtype: "F16", maxBytes: options.maxBytes },
  );
  const runDir = dirname(checkpoint);
  const grids: string[] = [];
  for await (const e of Deno.readDir(runDir)) {
    if (e.isFile && /^samples-\d+\.png$/.test(e.name)) grids.push(e.name);
  }
  grids.sort();
  for (const name of [grids.at(-1), "loss.csv"]) {
    if (!name) continue;
    try {
      const bytes = await Deno.readFile(join(runDir, name));
      await atomicWriteFile(join(outDir, name), bytes);
      written.push(join(outDir, name));
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
  }
  return written;
}
