/**
 * Exponential moving average of the weights, used for sampling.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { ParamMap } from "../model/context.ts";

/**
 * The decay used at update `step` (1-based): `min(decay, (1 + step) / (10 + step))`, so that the
 * average is not dominated by the random initial weights in short runs.
 *
 * @example
 * ```ts
 * import { emaDecayAt } from "./ema.ts";
 * console.assert(emaDecayAt(0.999, 1) === 2 / 11);
 * ```
 */
export function emaDecayAt(decay: number, step: number): number {
  return Math.min(decay, (1 + step) / (10 + step));
}

/** A shadow copy of the parameters: ema ← d·ema + (1 − d)·θ after every step. */
export class Ema {
  /** The averaged weights by parameter name. */
  readonly shadow: ParamMap = new Map();

  constructor(readonly params: ParamMap, readonly decay: number) {
    if (!(decay >= 0 && decay < 1)) throw new RangeError(`EMA decay must be in [0, 1), got ${decay}`);
    for (const [name, p] of params) this.shadow.set(name, tf.tidy(() => tf.variable(p.clone(), false)));
  }

  /** Folds the current parameters into the average, for update number `step` (1-based). */
  update(step: number): void {
    const d = emaDecayAt(this.decay, step);
    tf.tidy(() => {
      for (const [name, p] of this.params) {
        const s = this.shadow.get(name)!;
        s.assign(tf.add(tf.mul(s, d), tf.mul(p, 1 - d)));
      }
    });
  }

  /** Releases the shadow variables. */
  dispose(): void {
    for (const t of this.shadow.values()) t.dispose();
  }
}
