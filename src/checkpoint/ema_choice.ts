/**
 * Training checkpoints that keep several weight averages: the main one under `ema/…` (its decay in
 * `meta.train.ema`) and one per extra decay under `ema@<decay>/…` (a run's `emaExtra`). Which decay
 * samples best is measured after the run; {@linkcode chooseEma} makes the chosen one the checkpoint's
 * `ema/`, which every loader and exporter reads.
 *
 * @module
 */
import { CheckpointError } from "./error.ts";
import type { Checkpoint, StoredTensor } from "./format.ts";

/**
 * The tensor-name prefix of the extra average with EMA decay `decay`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { emaTensorPrefix } from "./ema_choice.ts";
 * assert.equal(emaTensorPrefix(0.9999), "ema@0.9999");
 * ```
 */
export function emaTensorPrefix(decay: number): string {
  return `ema@${decay}`;
}

const EXTRA = /^ema@([0-9.e-]+)\//;

/**
 * The EMA decays a checkpoint keeps averages of: the main one first (when its decay is recorded in
 * `meta.train.ema` and it has `ema/` tensors), then the extra ones in increasing order.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { emaDecays } from "./ema_choice.ts";
 * import type { Checkpoint } from "./format.ts";
 * const t = { shape: [1], data: Float32Array.of(0) };
 * const ckpt = { meta: { train: { ema: 0.999 } }, tensors: new Map([["ema/a", t], ["ema@0.9999/a", t], ["ema@0.9995/a", t]]) };
 * assert.deepEqual(emaDecays(ckpt as unknown as Checkpoint), [0.999, 0.9995, 0.9999]);
 * ```
 */
export function emaDecays(ckpt: Checkpoint): number[] {
  const extras = new Set<number>();
  let main = false;
  for (const name of ckpt.tensors.keys()) {
    const m = EXTRA.exec(name);
    if (m) extras.add(Number(m[1]));
    else if (name.startsWith("ema/")) main = true;
  }
  const recorded = ckpt.meta.train?.ema;
  const first = main && typeof recorded === "number" ? [recorded] : [];
  return [...first, ...[...extras].sort((a, b) => a - b)];
}

/**
 * The checkpoint with the average of EMA decay `decay` as its `ema/` weights and no other average,
 * its `meta.train.ema` set to `decay`: what `samplingCheckpoint`, the loaders and `deno task export`
 * then use. The main decay returns the checkpoint without its extra averages.
 *
 * @throws {CheckpointError} when the checkpoint keeps no average of that decay (the message lists the
 * ones it keeps).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { chooseEma } from "./ema_choice.ts";
 * import type { Checkpoint } from "./format.ts";
 * const ckpt = { meta: { train: { ema: 0.999, emaExtra: [0.9999] } }, tensors: new Map([
 *   ["ema/a", { shape: [1], data: Float32Array.of(1) }], ["ema@0.9999/a", { shape: [1], data: Float32Array.of(2) }]]) };
 * const chosen = chooseEma(ckpt as unknown as Checkpoint, 0.9999);
 * assert.equal(chosen.tensors.get("ema/a")!.data[0], 2);
 * assert.equal(chosen.tensors.has("ema@0.9999/a"), false);
 * assert.equal(chosen.meta.train!.ema, 0.9999);
 * assert.throws(() => chooseEma(ckpt as unknown as Checkpoint, 0.99), /keeps EMA decays 0.999, 0.9999/);
 * ```
 */
export function chooseEma(ckpt: Checkpoint, decay: number): Checkpoint {
  const kept = emaDecays(ckpt);
  if (!kept.includes(decay)) {
    throw new CheckpointError(
      `checkpoint keeps no average with EMA decay ${decay}: it keeps EMA decays ${
        kept.length ? kept.join(", ") : "none"
      }`,
    );
  }
  const extra = `${emaTensorPrefix(decay)}/`;
  const isMain = ckpt.meta.train?.ema === decay && !kept.slice(1).includes(decay);
  const tensors = new Map<string, StoredTensor>();
  for (const [name, t] of ckpt.tensors) {
    if (EXTRA.test(name)) {
      if (!isMain && name.startsWith(extra)) tensors.set(`ema/${name.slice(extra.length)}`, t);
    } else if (!(name.startsWith("ema/") && !isMain)) {
      tensors.set(name, t);
    }
  }
  const { emaExtra: _extra, ...train } = ckpt.meta.train ?? {};
  return { meta: { ...ckpt.meta, train: { ...train, ema: decay } }, tensors };
}
