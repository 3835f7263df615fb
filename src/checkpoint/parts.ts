/**
 * The parts of a split checkpoint on the file system: their names
 * (`<base>-00001-of-00003.safetensors`) and reading all the parts that one of them belongs to into
 * one checkpoint. It imports nothing of the checkpoint format (`loadCheckpoint` hands over its
 * decoder), so that the format can reach it through `platform/files.ts` without an import cycle; the
 * browser build replaces that module with `files_browser.ts`, which cannot read parts.
 *
 * @module
 */
import { basename, dirname, join } from "node:path";
import { CheckpointError } from "./error.ts";

const PART_RE = /^(.*)-(\d{5})-of-(\d{5})\.safetensors$/;

/**
 * The path of part `index` (1-based) of `count` for a base path without extension.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { splitPartPath } from "./split.ts";
 * assert.equal(splitPartPath("out/ema", 2, 3), "out/ema-00002-of-00003.safetensors");
 * ```
 */
export function splitPartPath(base: string, index: number, count: number): string {
  const pad = (n: number) => String(n).padStart(5, "0");
  return `${base}-${pad(index)}-of-${pad(count)}.safetensors`;
}

/**
 * Whether a path names one part of a split checkpoint.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isSplitPart } from "./split.ts";
 * assert.ok(isSplitPart("ema-00001-of-00002.safetensors"));
 * assert.ok(!isSplitPart("ema.safetensors"));
 * ```
 */
export function isSplitPart(path: string): boolean {
  return PART_RE.test(basename(path));
}

/** What joining needs of a decoded part: its metadata and its named tensors. */
export interface CheckpointPart<Meta, Tensor> {
  /** The metadata, the same in every part. */
  meta: Meta;
  /** This part's share of the tensors. */
  tensors: Map<string, Tensor>;
}

/**
 * Reads every part of the split checkpoint that `path` (any one part) belongs to, decodes each with
 * `decode` and joins them: all parts must be present, decode cleanly, carry the same metadata and no
 * tensor twice; otherwise a {@linkcode CheckpointError} names the problem. `loadSplitCheckpoint`
 * (`checkpoint_split.ts`) is this with the checkpoint decoder.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeCheckpoint } from "./format.ts";
 * import { loadSplitParts } from "./parts.ts";
 * await assert.rejects(loadSplitParts("no/such/ema-00001-of-00002.safetensors", decodeCheckpoint), {
 *   name: "CheckpointError",
 *   message: "split checkpoint part 1 of 2 is missing: no/such/ema-00001-of-00002.safetensors",
 * });
 * ```
 */
export async function loadSplitParts<Meta, Tensor>(
  path: string,
  decode: (bytes: Uint8Array, name: string) => CheckpointPart<Meta, Tensor>,
): Promise<CheckpointPart<Meta, Tensor>> {
  const m = PART_RE.exec(basename(path));
  if (!m) throw new CheckpointError(`"${path}" is not a part of a split checkpoint (<base>-00001-of-0000N)`);
  const count = Number(m[3]);
  if (count < 1 || Number(m[2]) < 1 || Number(m[2]) > count) {
    throw new CheckpointError(`"${path}" has an impossible part number`);
  }
  const base = join(dirname(path), m[1]);
  let joined: CheckpointPart<Meta, Tensor> | null = null;
  let metaJson = "";
  for (let i = 1; i <= count; i++) {
    const partPath = splitPartPath(base, i, count);
    let bytes: Uint8Array;
    try {
      bytes = await Deno.readFile(partPath);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) {
        throw new CheckpointError(`split checkpoint part ${i} of ${count} is missing: ${partPath}`, {
          cause: err,
        });
      }
      throw err;
    }
    const part = decode(bytes, `checkpoint part "${partPath}"`);
    const json = JSON.stringify(part.meta);
    if (!joined) {
      joined = { meta: part.meta, tensors: new Map() };
      metaJson = json;
    } else if (json !== metaJson) {
      throw new CheckpointError(
        `split checkpoint part ${i} of ${count} belongs to another checkpoint: ${partPath}`,
      );
    }
    for (const [name, t] of part.tensors) {
      if (joined.tensors.has(name)) {
        throw new CheckpointError(`split checkpoint has tensor "${name}" twice (part ${i}: ${partPath})`);
      }
      joined.tensors.set(name, t);
    }
  }
  return joined!;
}
