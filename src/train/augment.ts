/**
 * Non-leaking augmentation (Karras et al. 2022, "Elucidating the Design Space of Diffusion-Based
 * Generative Models", appendix on augmentation regularisation): with probability p each training
 * image is mirrored left ↔ right with probability ½ and shifted by an integer (dx, dy) drawn
 * uniformly from [−2, 2]², the uncovered border filled with the image's own top-left pixel (its
 * background: prepared emoji sets are composited onto one plain colour). The parameters
 * [flip, dx/2, dy/2] go to the network as conditioning (`model/augment_conditioning.ts`); an image
 * that is not augmented, or whose draw is the identity, gets [0, 0, 0], which is what sampling asks
 * for. Every draw comes from one seeded stream, so runs are reproducible and resume exactly.
 *
 * @module
 */
import { AUGMENT_DIM } from "../model/augment_conditioning.ts";
import type { Rng } from "../core/rng.ts";

/** The largest translation in pixels, either way, on each axis. */
export const MAX_SHIFT = 2;

/** One image's augmentation. */
export interface Augmentation {
  /** Mirrored left ↔ right (before the shift). */
  flip: boolean;
  /** Shift to the right in pixels (negative: left), an integer in [−{@linkcode MAX_SHIFT}, {@linkcode MAX_SHIFT}]. */
  dx: number;
  /** Shift down in pixels (negative: up), an integer in [−{@linkcode MAX_SHIFT}, {@linkcode MAX_SHIFT}]. */
  dy: number;
}

/** No augmentation. */
export const NO_AUGMENTATION: Readonly<Augmentation> = { flip: false, dx: 0, dy: 0 };

/**
 * Throws a RangeError unless `p` is a probability in [0, 1].
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkAugmentProbability } from "./augment.ts";
 * checkAugmentProbability(0.15);
 * assert.throws(() => checkAugmentProbability(2), RangeError);
 * ```
 */
export function checkAugmentProbability(p: number): void {
  if (!(p >= 0 && p <= 1)) throw new RangeError(`augment must be a probability in [0, 1], got ${p}`);
}

/**
 * One image's draw: with probability `p` a flip (probability ½) and a shift (each of dx, dy uniform
 * in [−2, 2]); else none. Draws one uniform, and three more when the image is augmented.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Rng } from "../core/rng.ts";
 * import { drawAugmentation, NO_AUGMENTATION } from "./augment.ts";
 * assert.deepEqual(drawAugmentation(new Rng(1), 0), NO_AUGMENTATION);
 * const a = drawAugmentation(new Rng(1), 1);
 * assert.ok(Math.abs(a.dx) <= 2 && Math.abs(a.dy) <= 2);
 * ```
 */
export function drawAugmentation(rng: Rng, p: number): Augmentation {
  checkAugmentProbability(p);
  if (!(rng.uniform() < p)) return { ...NO_AUGMENTATION };
  const flip = rng.uniform() < 0.5;
  const dx = rng.int(2 * MAX_SHIFT + 1) - MAX_SHIFT;
  const dy = rng.int(2 * MAX_SHIFT + 1) - MAX_SHIFT;
  return { flip, dx, dy };
}

/**
 * The network's conditioning of an augmentation: [flip ? 1 : 0, dx/2, dy/2] (all zeros: none).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { augmentationParameters } from "./augment.ts";
 * assert.deepEqual(augmentationParameters({ flip: true, dx: -2, dy: 1 }), [1, -1, 0.5]);
 * ```
 */
export function augmentationParameters(a: Augmentation): number[] {
  return [a.flip ? 1 : 0, a.dx / MAX_SHIFT, a.dy / MAX_SHIFT];
}

/**
 * Writes one HWC image (`size`×`size`×`channels`) augmented by `a` into `out` (which may not alias
 * `src`): out(x, y) = src'(x − dx, y − dy), where src' is `src` mirrored when `a.flip`; pixels that
 * come from outside the image take `src`'s top-left pixel.
 *
 * @example A 3×1 image shifted one pixel right: the new left pixel is the background (its corner)
 * ```ts
 * import assert from "node:assert/strict";
 * import { augmentImage } from "./augment.ts";
 * const out = new Float32Array(3);
 * augmentImage(Float32Array.of(0, 1, 2), out, 3, 1, { flip: false, dx: 1, dy: 0 }, 1);
 * assert.deepEqual(Array.from(out), [0, 0, 1]);
 * augmentImage(Float32Array.of(0, 1, 2), out, 3, 1, { flip: true, dx: 0, dy: 0 }, 1);
 * assert.deepEqual(Array.from(out), [2, 1, 0]);
 * ```
 */
export function augmentImage(
  src: Float32Array,
  out: Float32Array,
  width: number,
  height: number,
  a: Augmentation,
  channels = 3,
): void {
  if (src.length !== width * height * channels || out.length !== src.length) {
    throw new RangeError(`augmentImage needs ${width}×${height}×${channels} values in and out`);
  }
  for (let y = 0; y < height; y++) {
    const sy = y - a.dy;
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * channels;
      let sx = x - a.dx;
      const inside = sx >= 0 && sx < width && sy >= 0 && sy < height;
      if (a.flip) sx = width - 1 - sx;
      const s = inside ? (sy * width + sx) * channels : 0;
      for (let c = 0; c < channels; c++) out[o + c] = src[s + c];
    }
  }
}

/**
 * Augments a batch (B square NHWC images of side `size`, 3 channels) in place, each image with
 * probability `p`, drawing from `rng` in batch order; returns each image's draw and its conditioning
 * (B·3 values, example-major, for `DiffusionModel.forward`'s `augment`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Rng } from "../core/rng.ts";
 * import { augmentBatch } from "./augment.ts";
 * const batch = new Float32Array(2 * 4 * 4 * 3).map((_, i) => i);
 * const { parameters, draws } = augmentBatch(batch, 4, new Rng(3), 0);
 * assert.equal(parameters.length, 6);
 * assert.ok(parameters.every((v) => v === 0) && draws.every((d) => !d.flip && !d.dx && !d.dy));
 * ```
 */
export function augmentBatch(
  batch: Float32Array,
  size: number,
  rng: Rng,
  p: number,
): { parameters: Float32Array; draws: Augmentation[] } {
  const per = size * size * 3;
  if (batch.length % per !== 0) {
    throw new RangeError(`a batch of ${size}×${size}×3 images, got ${batch.length} values`);
  }
  const count = batch.length / per;
  const parameters = new Float32Array(count * AUGMENT_DIM);
  const draws: Augmentation[] = [];
  for (let i = 0; i < count; i++) {
    const a = drawAugmentation(rng, p);
    draws.push(a);
    parameters.set(augmentationParameters(a), i * AUGMENT_DIM);
    if (!a.flip && a.dx === 0 && a.dy === 0) continue;
    const img = batch.subarray(i * per, (i + 1) * per);
    const src = img.slice();
    augmentImage(src, img, size, size, a);
  }
  return { parameters, draws };
}
