/**
 * Conversions between the model's floats and bytes. Float images are in [−1, 1]
 * (`v = u8 / 127.5 − 1`, the notebook's ToTensor + Normalize(0.5, 0.5)); {@linkcode floatToRgb8} is its
 * exact inverse, with clipping.
 *
 * @module
 */

/**
 * Rounds and clamps values in [0, 255] to bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { roundToBytes } from "./pixels.ts";
 * assert.equal(roundToBytes([-3, 127.5, 300]).join(), "0,128,255");
 * ```
 */
export function roundToBytes(values: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = Math.min(255, Math.max(0, Math.round(values[i])));
  return out;
}

/**
 * Maps bytes to the model's range: `v = u8 / 127.5 − 1`, so 0 → −1 and 255 → 1.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { rgb8ToFloat } from "./pixels.ts";
 * assert.equal(rgb8ToFloat(Uint8Array.of(0, 255)).join(), "-1,1");
 * ```
 */
export function rgb8ToFloat(
  bytes: ArrayLike<number>,
  out: Float32Array = new Float32Array(bytes.length),
): Float32Array {
  for (let i = 0; i < bytes.length; i++) out[i] = bytes[i] / 127.5 - 1;
  return out;
}

/**
 * Maps model values to bytes: clip to [−1, 1], then `round((x + 1)·127.5)`. NaN becomes 0.
 * The exact inverse of {@linkcode rgb8ToFloat} on its outputs.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { floatToRgb8 } from "./pixels.ts";
 * assert.equal(floatToRgb8([-2, -1, 0, 1, 5]).join(), "0,0,128,255,255");
 * ```
 */
export function floatToRgb8(values: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const x = values[i];
    out[i] = x >= 1 ? 255 : x > -1 ? Math.round((x + 1) * 127.5) : 0;
  }
  return out;
}

/**
 * Reads a tensor (or anything with an async `data()`, e.g. a `tf.Tensor` in [−1, 1]) and converts it
 * with {@linkcode floatToRgb8}. Never calls `dataSync()`; does not dispose the tensor.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import "@tensorflow/tfjs-backend-cpu";
 * import { tensorToRgb8 } from "./pixels.ts";
 * await tf.setBackend("cpu");
 * const t = tf.tensor4d([-1, 0, 1], [1, 1, 1, 3]);
 * assert.equal((await tensorToRgb8(t)).join(), "0,128,255");
 * t.dispose();
 * ```
 */
export async function tensorToRgb8(tensor: { data(): Promise<ArrayLike<number>> }): Promise<Uint8Array> {
  return floatToRgb8(await tensor.data());
}

/**
 * Mirrors one HWC image left ↔ right into `out` (which may not alias `src`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { flipHorizontal } from "./pixels.ts";
 * const out = new Float32Array(6);
 * flipHorizontal(Float32Array.of(1, 2, 3, 4, 5, 6), out, 1, 2, 3);
 * assert.equal(out.join(), "4,5,6,1,2,3");
 * ```
 */
export function flipHorizontal(
  src: Float32Array,
  out: Float32Array,
  height: number,
  width: number,
  channels: number,
): void {
  for (let y = 0; y < height; y++) {
    const row = y * width * channels;
    for (let x = 0; x < width; x++) {
      const s = row + (width - 1 - x) * channels, o = row + x * channels;
      for (let c = 0; c < channels; c++) out[o + c] = src[s + c];
    }
  }
}
