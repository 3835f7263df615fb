/**
 * One training batch, drawn, and its loss: what a training step differentiates. The draws (images,
 * labels, augmentation, timesteps or σ, noise) are plain arrays, so that a batch can be split between
 * data-parallel workers (`data_parallel.ts`) and every part computes the same loss as the whole would.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { ForwardContext } from "../model/context.ts";
import type { DiffusionModel } from "../model/model.ts";
import { edmDenoise } from "../model/edm.ts";
import { AUGMENT_DIM } from "../model/augment_conditioning.ts";
import { qSampleTensor } from "../core/q_sample.ts";
import type { DiffusionSchedule } from "../core/schedule.ts";
import { FlatLayout } from "./flat.ts";

/** The draws of one training batch of `n` images (NHWC, `size`×`size`×3, in [−1, 1]). */
export interface TrainBatch {
  /** Images in the batch. */
  n: number;
  /** Image side in pixels. */
  size: number;
  /** The clean images, n·size·size·3. */
  x0: Float32Array;
  /** ε, as many as `x0`. */
  eps: Float32Array;
  /** One timestep per image (ε-models), or null. */
  t: Int32Array | null;
  /** One σ per image (EDM models, in double precision as drawn), or null. */
  sigma: Float64Array | null;
  /** Per-image loss weights (EDM's λ(σ), Min-SNR), or null for the plain mean. */
  weights: Float32Array | null;
  /** Label indices, [field][image] (−1: dropped), or undefined for an unconditional model. */
  labels: Int32Array[] | undefined;
  /** Augmentation parameters, n·AUGMENT_DIM, or undefined when the model has no such input. */
  augment: Float32Array | undefined;
}

/**
 * Images `from` to `to` (exclusive) of a batch, sharing no memory with it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sliceBatch } from "./batch_loss.ts";
 * const b = {
 *   n: 2, size: 1, x0: Float32Array.of(1, 2, 3, 4, 5, 6), eps: new Float32Array(6),
 *   t: Int32Array.of(7, 9), sigma: null, weights: null, labels: undefined, augment: undefined,
 * };
 * const s = sliceBatch(b, 1, 2);
 * assert.deepEqual([...s.x0], [4, 5, 6]);
 * assert.deepEqual([...s.t!], [9]);
 * ```
 */
export function sliceBatch(b: TrainBatch, from: number, to: number): TrainBatch {
  const px = b.size * b.size * 3;
  return {
    n: to - from,
    size: b.size,
    x0: b.x0.slice(from * px, to * px),
    eps: b.eps.slice(from * px, to * px),
    t: b.t ? b.t.slice(from, to) : null,
    sigma: b.sigma ? b.sigma.slice(from, to) : null,
    weights: b.weights ? b.weights.slice(from, to) : null,
    labels: b.labels?.map((f) => f.slice(from, to)),
    augment: b.augment?.slice(from * AUGMENT_DIM, to * AUGMENT_DIM),
  };
}

/**
 * The batch's training loss as a scalar tensor: the mean of ‖ε − ε_θ(x_t, t)‖² for an ε-model, of
 * λ(σ)·‖D(x0 + σ·ε; σ) − x0‖² for an EDM one, each image weighted by `weights` when given.
 * Call it inside `tf.variableGrads` to differentiate it.
 */
export function batchLoss(
  model: DiffusionModel,
  schedule: DiffusionSchedule,
  ctx: ForwardContext,
  b: TrainBatch,
): tf.Scalar {
  const shape: [number, number, number, number] = [b.n, b.size, b.size, 3];
  const noise = tf.tensor4d(b.eps, shape);
  let sq: tf.Tensor;
  if (b.sigma) {
    const sigma = [...b.sigma];
    const clean = tf.tensor4d(b.x0, shape);
    const x = tf.add(clean, tf.mul(noise, tf.tensor4d(Float32Array.from(sigma), [b.n, 1, 1, 1])));
    const d = edmDenoise(model, ctx, x as tf.Tensor4D, sigma, b.labels, b.augment);
    sq = tf.square(tf.sub(d, clean));
  } else {
    const xt = qSampleTensor(schedule, tf.tensor4d(b.x0, shape), b.t!, noise);
    const pred = model.forward(ctx, xt, b.t!, b.labels, b.augment);
    sq = tf.square(tf.sub(pred, noise));
  }
  return (b.weights ? tf.mean(tf.mul(sq, tf.tensor4d(b.weights, [b.n, 1, 1, 1]))) : tf.mean(sq)) as tf.Scalar;
}

/** One part's gradient, flattened in the parameters' order, and its loss. */
export interface FlatGradients {
  /** ∂loss/∂θ for every parameter, back to back in the model's parameter order. */
  grads: Float32Array;
  /** The part's loss (its own mean). */
  loss: number;
}

/**
 * The gradient of {@linkcode batchLoss} with respect to every parameter, read back as one flat array
 * in the model's parameter order (what a data-parallel worker sends, `data_parallel.ts`).
 */
export async function batchGradients(
  model: DiffusionModel,
  schedule: DiffusionSchedule,
  ctx: ForwardContext,
  b: TrainBatch,
): Promise<FlatGradients> {
  const vars = [...model.params.values()];
  const { value, grads } = tf.variableGrads(() => batchLoss(model, schedule, ctx, b), vars);
  const flat = new FlatLayout(model.params).flatten(vars.map((v) => grads[v.name]));
  tf.dispose(grads);
  try {
    const [g, loss] = await Promise.all([flat.data() as Promise<Float32Array>, value.data()]);
    return { grads: g, loss: loss[0] };
  } finally {
    tf.dispose([flat, value]);
  }
}
