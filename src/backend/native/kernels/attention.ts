/**
 * The inference attention kernel (`EmojiDiffusionAttention`, softmax(Q·Kᵀ·scale)·V from a fused
 * [B, n, 3c] qkv tensor) on the system BLAS: per example, two products that read q, k and v in place
 * (row stride 3c) and a softmax between them.
 *
 * @module
 */
import { ATTENTION_KERNEL } from "../../wasm/attention.ts";
import { asWasmBackend, type KernelArgs, type WasmKernelFunc } from "../../wasm/internals.ts";
import type { Blas } from "../blas.ts";
import type { NativeKernelConfig } from "../helpers.ts";

/** Softmax of each row of the [rows, n] matrix `s`, in place. */
export function softmaxRows(s: Float32Array, rows: number, n: number): void {
  for (let i = 0; i < rows; i++) {
    const o = i * n;
    let max = -Infinity;
    for (let j = 0; j < n; j++) if (s[o + j] > max) max = s[o + j];
    let sum = 0;
    for (let j = 0; j < n; j++) {
      const e = Math.exp(s[o + j] - max);
      s[o + j] = e;
      sum += e;
    }
    const inv = 1 / sum;
    for (let j = 0; j < n; j++) s[o + j] *= inv;
  }
}

/** Makes the attention kernel for `blas`. */
export function makeAttentionNative(blas: Blas): WasmKernelFunc {
  let scores = new Float32Array(0);
  return function attentionNative(args: KernelArgs) {
    const backend = asWasmBackend(args.backend);
    const { qkv } = args.inputs;
    const { scale } = args.attrs as unknown as { scale: number };
    const [batch, n, c3] = qkv.shape;
    const c = c3 / 3;
    const out = backend.makeOutput([batch, n, c], "float32");
    const o = backend.typedArrayFromHeap(out) as Float32Array;
    const heap = new Float32Array(o.buffer);
    const oOff = o.byteOffset / 4;
    const qOff = (backend.typedArrayFromHeap(qkv) as Float32Array).byteOffset / 4;
    if (scores.length < n * n) scores = new Float32Array(n * n);
    for (let b = 0; b < batch; b++) {
      const base = qOff + b * n * c3;
      blas.sgemm(
        false,
        true,
        n,
        n,
        c,
        scale,
        heap.subarray(base),
        c3,
        heap.subarray(base + c),
        c3,
        0,
        scores,
        n,
      );
      softmaxRows(scores, n, n);
      blas.sgemm(
        false,
        false,
        n,
        c,
        n,
        1,
        scores,
        n,
        heap.subarray(base + 2 * c),
        c3,
        0,
        heap.subarray(oOff + b * n * c),
        c,
      );
    }
    return out;
  };
}

/**
 * The registry entry of {@linkcode makeAttentionNative}, registered under the wasm attention kernel's
 * name (it replaces no tfjs kernel).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { Blas } from "../blas.ts";
 * import { ATTENTION_KERNEL } from "../../wasm/attention.ts";
 * import { attentionNativeConfig } from "./attention.ts";
 * assert.equal(attentionNativeConfig.kernelName, ATTENTION_KERNEL);
 * assert.equal(attentionNativeConfig.make({} as Blas, undefined).name, "attentionNative");
 * ```
 */
export const attentionNativeConfig: NativeKernelConfig = {
  kernelName: ATTENTION_KERNEL,
  make: (blas) => makeAttentionNative(blas),
};
