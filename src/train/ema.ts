/**
 * Exponential moving average of the weights, used for sampling.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { ParamMap } from "../model/context.ts";
import { FlatLayout } from "./flat.ts";

/**
 * The decay used at update `step` (1-based): `min(decay, (1 + step) / (10 + step))`, so that the
 * average is not dominated by the random initial weights in short runs.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { emaDecayAt } from "./ema.ts";
 * assert.equal(emaDecayAt(0.999, 1), 2 / 11);
 * ```
 */
export function emaDecayAt(decay: number, step: number): number {
  return Math.min(decay, (1 + step) / (10 + step));
}

/**
 * A shadow copy of the parameters, ema ← d·ema + (1 − d)·θ after every step, kept as one flat
 * buffer (the parameters back to back). The Adam optimizer folds it into its fused update; `update`
 * does it alone.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import "@tensorflow/tfjs-backend-cpu";
 * import { Ema } from "./ema.ts";
 * await tf.setBackend("cpu");
 * const p = tf.variable(tf.tensor1d([1, 2]));
 * const ema = new Ema(new Map([["p", p]]), 0.5);
 * p.assign(tf.tensor1d([3, 6]));
 * ema.update(100); // 0.5·[1, 2] + 0.5·[3, 6]
 * assert.equal((await ema.shadow.get("p")!.data()).join(), "2,4");
 * ema.dispose();
 * p.dispose();
 * ```
 */
export class Ema {
  /** Where each parameter sits in the flat average. */
  readonly layout: FlatLayout;
  #flat: tf.Tensor1D;
  #view: ParamMap | null = null;

  constructor(readonly params: ParamMap, readonly decay: number) {
    if (!(decay >= 0 && decay < 1)) throw new RangeError(`EMA decay must be in [0, 1), got ${decay}`);
    this.layout = new FlatLayout(params);
    this.#flat = this.layout.flatten([...params.values()]);
  }

  /** The flat average (owned by the EMA; replaced by every update). */
  get flat(): tf.Tensor1D {
    return this.#flat;
  }

  /** The averaged weights by parameter name: copies owned by the EMA, valid until the next update. */
  get shadow(): ParamMap {
    return this.#view ??= this.layout.toParamMap(this.#flat);
  }

  /** The decay used at update `step`. */
  decayAt(step: number): number {
    return emaDecayAt(this.decay, step);
  }

  /** Replaces the average with `flat` (taking ownership of it). */
  setFlat(flat: tf.Tensor1D): void {
    if (flat.size !== this.layout.total) {
      throw new RangeError(`EMA needs ${this.layout.total} values, got ${flat.size}`);
    }
    if (flat !== this.#flat) this.#flat.dispose();
    this.#flat = flat;
    this.#dropView();
  }

  /** Replaces the average with values in {@linkcode layout} order. */
  load(values: Float32Array): void {
    this.setFlat(tf.tensor1d(values));
  }

  #dropView(): void {
    for (const t of this.#view?.values() ?? []) t.dispose();
    this.#view = null;
  }

  /**
   * Folds the current parameters into the average, for update number `step` (1-based). `flat`, the
   * parameters already flattened in {@linkcode layout} order (not taken over), saves flattening them
   * again when several averages update from one step.
   */
  update(step: number, flat?: tf.Tensor1D): void {
    const d = this.decayAt(step);
    this.setFlat(
      tf.tidy(() =>
        tf.add(
          tf.mul(this.#flat, d),
          tf.mul(flat ?? this.layout.flatten([...this.params.values()]), 1 - d),
        )
      ),
    );
  }

  /** Releases the average. */
  dispose(): void {
    this.#dropView();
    this.#flat.dispose();
  }
}
