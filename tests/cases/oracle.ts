/**
 * An oracle ε-model for the sampler tests: it knows x0, so its noise prediction is exact and every
 * deterministic sampler must return x0.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { ForwardContext } from "../../src/model/context.ts";
import { DiffusionModel } from "../../src/model/model.ts";
import { makeSchedule } from "../../src/core/schedule.ts";
import { TINY_UNET } from "../helpers.ts";

/** A model whose ε-prediction is exactly the noise that turns a known x0 into x_t. */
export class OracleModel extends DiffusionModel {
  constructor(readonly x0: tf.Tensor4D, readonly schedule = makeSchedule("linear", 100)) {
    super(TINY_UNET, 0, 8);
  }
  override forward(_ctx: ForwardContext, x: tf.Tensor4D, t: ArrayLike<number>): tf.Tensor4D {
    const k = t[0];
    return tf.div(
      tf.sub(x, tf.mul(this.x0, this.schedule.sqrtAlphasCumprod[k])),
      this.schedule.sqrtOneMinusAlphasCumprod[k],
    );
  }
}
