/**
 * An inference-only single-head self-attention kernel for the wasm backend: softmax(Q·Kᵀ/√c)·V for
 * every example from the fused qkv projection, in one pass per query row. The op-by-op form splits
 * qkv, scales, and runs two batched matrix products whose pairs are small (n × c × n with n = H·W of
 * an 8×8 map): each pair pays an XNNPACK set-up and two copies, which costs far more than its
 * arithmetic.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { asWasmBackend, type KernelArgs } from "./internals.ts";

/** The kernel's name; registered for wasm on first use of {@linkcode attentionWasmFused}. */
export const ATTENTION_KERNEL = "EmojiDiffusionAttention";

/**
 * softmax(Q·Kᵀ·scale)·V on plain arrays: `qkv` is [B, n, 3c] (q, k, v side by side in each row),
 * `out` [B, n, c].
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { attentionArrays } from "./attention.ts";
 * // one example, two positions, c = 1: equal scores → each output is the mean of v
 * const qkv = Float32Array.of(0, 1, 2, 0, 1, 4); // rows (q, k, v)
 * const out = new Float32Array(2);
 * attentionArrays(qkv, out, 1, 2, 1, 1);
 * assert.equal(out[0], 3);
 * assert.equal(out[1], 3);
 * ```
 */
export function attentionArrays(
  qkv: Float32Array,
  out: Float32Array,
  batch: number,
  n: number,
  c: number,
  scale: number,
): void {
  const row = 3 * c;
  const p = new Float64Array(n), acc = new Float64Array(c);
  for (let b = 0; b < batch; b++) {
    const base = b * n * row;
    for (let i = 0; i < n; i++) {
      const qo = base + i * row;
      let max = -Infinity;
      for (let j = 0; j < n; j++) {
        const ko = base + j * row + c;
        let s = 0;
        for (let d = 0; d < c; d++) s += qkv[qo + d] * qkv[ko + d];
        s *= scale;
        p[j] = s;
        if (s > max) max = s;
      }
      let sum = 0;
      for (let j = 0; j < n; j++) {
        const e = Math.exp(p[j] - max);
        p[j] = e;
        sum += e;
      }
      acc.fill(0);
      for (let j = 0; j < n; j++) {
        const w = p[j] / sum, vo = base + j * row + 2 * c;
        for (let d = 0; d < c; d++) acc[d] += w * qkv[vo + d];
      }
      const oo = (b * n + i) * c;
      for (let d = 0; d < c; d++) out[oo + d] = acc[d];
    }
  }
}

function attentionWasm(args: KernelArgs): tf.TensorInfo {
  const backend = asWasmBackend(args.backend);
  const { qkv } = args.inputs;
  const { scale } = args.attrs as unknown as { scale: number };
  const [batch, n, c3] = qkv.shape;
  const out = backend.makeOutput([batch, n, c3 / 3], "float32");
  attentionArrays(
    backend.typedArrayFromHeap(qkv) as Float32Array,
    backend.typedArrayFromHeap(out) as Float32Array,
    batch,
    n,
    c3 / 3,
    scale,
  );
  return out;
}

/**
 * softmax(Q·Kᵀ·scale)·V from a [B, n, 3c] qkv tensor through the wasm kernel: inference only (no
 * gradient). The wasm backend must be active.
 *
 * @example
 * ```ts ignore
 * import * as tf from "@tensorflow/tfjs-core";
 * import { attentionWasmFused } from "./attention.ts";
 * const out = attentionWasmFused(tf.randomNormal([2, 64, 3 * 32]), 1 / Math.sqrt(32)); // [2, 64, 32]
 * ```
 */
export function attentionWasmFused(qkv: tf.Tensor3D, scale: number): tf.Tensor3D {
  if (qkv.shape[2] % 3 !== 0) throw new RangeError(`qkv needs 3·c channels, got ${qkv.shape[2]}`);
  if (!tf.getKernel(ATTENTION_KERNEL, "wasm")) {
    tf.registerKernel({
      kernelName: ATTENTION_KERNEL,
      backendName: "wasm",
      kernelFunc: attentionWasm as unknown as tf.KernelFunc,
    });
  }
  return tf.engine().runKernel(
    ATTENTION_KERNEL,
    { qkv },
    { scale } as unknown as tf.NamedAttrMap,
  ) as tf.Tensor3D;
}
