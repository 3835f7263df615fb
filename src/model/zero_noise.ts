/**
 * The untrained reference for free: the `unet` preset zero-initialises its output conv, so a fresh
 * model predicts ε ≡ 0 for every input. Sampling it needs no network evaluations at all, which turns a
 * DDPM-500 reference run from an hour of CPU into a second, with the identical result.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { DiffusionModel } from "./model.ts";
import type { ParamMap } from "./context.ts";

/**
 * Whether `model`'s last layer (`out`, a conv) has all-zero weights and bias, i.e. its prediction
 * is exactly 0 whatever the input.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { initBackend } from "../backend/select.ts";
 * import { DiffusionModel, modelConfig } from "./model.ts";
 * import { predictsZeroNoise } from "./zero_noise.ts";
 * await initBackend("cpu", { log: null });
 * const fresh = new DiffusionModel(modelConfig("unet", { channels: 8, channelMult: [1, 2], groups: 4 }));
 * assert.ok(await predictsZeroNoise(fresh));
 * fresh.dispose();
 * ```
 */
export async function predictsZeroNoise(model: DiffusionModel): Promise<boolean> {
  const w = model.params.get("out.w"), b = model.params.get("out.b");
  if (!w || !b) return false;
  for (const v of [w, b]) {
    const data = await v.data();
    if (data.some((x) => x !== 0)) return false;
  }
  return true;
}

/**
 * A model whose ε-prediction is 0 for every input, computed without running the network: what a
 * freshly initialised `unet` computes (check with {@linkcode predictsZeroNoise}).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import { initBackend } from "../backend/select.ts";
 * import { modelConfig } from "./model.ts";
 * import { ZeroNoiseModel } from "./zero_noise.ts";
 * await initBackend("cpu", { log: null });
 * const m = new ZeroNoiseModel(modelConfig("unet", { channels: 8, channelMult: [1, 2], groups: 4 }));
 * const eps = m.predict(tf.ones([2, 32, 32, 3]), [1, 2]);
 * assert.ok((await eps.data()).every((x) => x === 0));
 * tf.dispose(eps);
 * m.dispose();
 * ```
 */
export class ZeroNoiseModel extends DiffusionModel {
  /** Returns zeros shaped like `x` (after the same input checks as the network). */
  override predict(x: tf.Tensor4D, t: ArrayLike<number>, _params?: ParamMap): tf.Tensor4D {
    this.checkInput(x, t);
    return tf.zerosLike(x);
  }
}
