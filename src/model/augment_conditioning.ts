/**
 * Augmentation conditioning (Karras et al. 2022, "Elucidating the Design Space of Diffusion-Based
 * Generative Models", appendix on augmentation regularisation): the parameters of the augmentation
 * a training image went through are a second input of the network, so that it learns the
 * augmented images as a distribution of their own instead of as data. Sampling asks for no
 * augmentation (all zeros), so the samples never show one: the augmentation does not leak.
 *
 * A model whose config sets `augmentConditioning` has one more weight, `augment.w`
 * ([{@linkcode AUGMENT_DIM}, timeDim], zero-initialised, no bias): a dense layer from the
 * augmentation's parameters into the time embedding, added where the label embeddings are. With
 * zeros in, it adds exactly nothing, so "no augmentation" is the network of the other weights.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { ForwardContext, ParamBuilder } from "./context.ts";

/**
 * Parameters of one augmentation, in this order: horizontal flip (1 or 0), then the translation
 * dx/2 and dy/2 (dx, dy integers in [−2, 2], positive = right, down). All zeros: none.
 */
export const AUGMENT_DIM = 3;

/** The name of the augmentation layer's weight. */
export const AUGMENT_WEIGHT = "augment.w";

/**
 * Declares the zero-initialised augmentation layer ([{@linkcode AUGMENT_DIM}, `timeDim`]).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ParamBuilder } from "./context.ts";
 * import { Rng } from "../core/rng.ts";
 * import { declareAugmentConditioning } from "./augment_conditioning.ts";
 * const b = new ParamBuilder(new Rng(0));
 * declareAugmentConditioning(b, 8);
 * const w = b.params.get("augment.w")!;
 * assert.deepEqual(w.shape, [3, 8]);
 * assert.ok((await w.data()).every((v) => v === 0));
 * ```
 */
export function declareAugmentConditioning(b: ParamBuilder, timeDim: number): void {
  b.constant(AUGMENT_WEIGHT, [AUGMENT_DIM, timeDim], 0);
}

/**
 * The augmentation embedding [B, timeDim] of `augment` (B·{@linkcode AUGMENT_DIM} parameters,
 * example-major): augment · `augment.w`.
 *
 * @throws {RangeError} unless `augment` holds {@linkcode AUGMENT_DIM} finite numbers per example.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { initBackend } from "../backend/select.ts";
 * import { ForwardContext, ParamBuilder } from "./context.ts";
 * import { Rng } from "../core/rng.ts";
 * import { augmentEmbedding, declareAugmentConditioning } from "./augment_conditioning.ts";
 * await initBackend("cpu", { log: null });
 * const b = new ParamBuilder(new Rng(0));
 * declareAugmentConditioning(b, 4);
 * b.params.get("augment.w")!.assign(b.params.get("augment.w")!.add(1));
 * const ctx = new ForwardContext(b.params, b.state, false);
 * const e = augmentEmbedding(ctx, Float32Array.of(1, 0.5, -1), 1);
 * assert.deepEqual(Array.from(await e.data()), [0.5, 0.5, 0.5, 0.5]);
 * ```
 */
export function augmentEmbedding(
  ctx: ForwardContext,
  augment: ArrayLike<number>,
  batch: number,
): tf.Tensor2D {
  if (augment.length !== batch * AUGMENT_DIM) {
    throw new RangeError(
      `need ${AUGMENT_DIM} augmentation parameters per example: ${augment.length} for ${batch}`,
    );
  }
  for (let i = 0; i < augment.length; i++) {
    if (!Number.isFinite(augment[i])) {
      throw new RangeError(`augmentation parameters must be finite, got ${augment[i]}`);
    }
  }
  const w = ctx.p(AUGMENT_WEIGHT) as unknown as tf.Tensor2D;
  ctx.flops += 2 * batch * AUGMENT_DIM * w.shape[1];
  return tf.matMul(tf.tensor2d(Float32Array.from(augment), [batch, AUGMENT_DIM]), w);
}
