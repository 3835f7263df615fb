/**
 * An inference-only GroupNorm (+ SiLU) kernel for the wasm backend: two passes over the input on the
 * wasm heap (per-group sums, then the normalised, scaled, shifted and activated output), where the
 * op-by-op form runs about ten kernels, two of them Means over non-inner axes that transpose first.
 * Optionally adds a per-(example, channel) shift before normalising (a residual block's timestep
 * embedding), saving one more pass.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { asWasmBackend, type KernelArgs } from "./internals.ts";

/** The kernel's name; registered for wasm by {@linkcode ensureGroupNormKernel}. */
export const GROUP_NORM_KERNEL = "EmojiDiffusionGroupNorm";

/** The attributes of {@linkcode GROUP_NORM_KERNEL}. */
export interface GroupNormAttrs {
  /** Channel groups (divides the channel count). */
  groups: number;
  /** Apply SiLU after the affine. */
  activate: boolean;
  /** ε added to the variance. */
  epsilon: number;
}

/**
 * GroupNorm on plain arrays, NHWC `x` of shape [B, N, C] (N = H·W): the shared arithmetic of the
 * wasm kernel, written to `out`. `shift` (B·C values or null) is added to x first.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { groupNormArrays } from "./group_norm.ts";
 * // one example, two positions, one group of one channel: values 1 and 3 → ±1 (before ε)
 * const out = new Float32Array(2);
 * groupNormArrays(Float32Array.of(1, 3), null, Float32Array.of(1), Float32Array.of(0), out, 1, 2, 1, { groups: 1, activate: false, epsilon: 0 });
 * assert.equal(out[0], -1);
 * assert.equal(out[1], 1);
 * ```
 */
export function groupNormArrays(
  x: Float32Array,
  shift: Float32Array | null,
  gamma: Float32Array,
  beta: Float32Array,
  out: Float32Array,
  batch: number,
  positions: number,
  channels: number,
  attrs: GroupNormAttrs,
): void {
  const { groups, activate, epsilon } = attrs;
  const cg = channels / groups, count = positions * cg;
  const sum = new Float64Array(groups), sumSq = new Float64Array(groups);
  const chanSum = new Float64Array(channels), chanSq = new Float64Array(channels);
  const scale = new Float32Array(channels), offset = new Float32Array(channels);
  const sh = new Float32Array(channels);
  for (let b = 0; b < batch; b++) {
    const base = b * positions * channels;
    if (shift) { for (let c = 0; c < channels; c++) sh[c] = shift[b * channels + c]; }
    chanSum.fill(0);
    chanSq.fill(0);
    // per-channel sums first (a unit-stride inner loop), then per group
    for (let p = 0; p < positions; p++) {
      const o = base + p * channels;
      for (let c = 0; c < channels; c++) {
        const v = x[o + c] + sh[c];
        chanSum[c] += v;
        chanSq[c] += v * v;
      }
    }
    sum.fill(0);
    sumSq.fill(0);
    for (let c = 0; c < channels; c++) {
      const g = (c / cg) | 0;
      sum[g] += chanSum[c];
      sumSq[g] += chanSq[c];
    }
    for (let c = 0; c < channels; c++) {
      const g = (c / cg) | 0;
      const mean = sum[g] / count;
      const variance = Math.max(sumSq[g] / count - mean * mean, 0);
      const rstd = 1 / Math.sqrt(variance + epsilon);
      scale[c] = rstd * gamma[c];
      offset[c] = beta[c] + (sh[c] - mean) * scale[c];
    }
    for (let p = 0; p < positions; p++) {
      const o = base + p * channels;
      if (activate) {
        for (let c = 0; c < channels; c++) {
          const z = x[o + c] * scale[c] + offset[c];
          out[o + c] = z / (1 + Math.exp(-z));
        }
      } else {
        for (let c = 0; c < channels; c++) out[o + c] = x[o + c] * scale[c] + offset[c];
      }
    }
  }
}

function groupNormWasm(args: KernelArgs): tf.TensorInfo {
  const backend = asWasmBackend(args.backend);
  const { x, gamma, beta, shift } = args.inputs;
  const attrs = args.attrs as unknown as GroupNormAttrs;
  const [batch, h, w, c] = x.shape;
  const out = backend.makeOutput(x.shape, "float32");
  // views after makeOutput: an allocation may grow the heap and invalidate earlier ones
  groupNormArrays(
    backend.typedArrayFromHeap(x) as Float32Array,
    shift ? backend.typedArrayFromHeap(shift) as Float32Array : null,
    backend.typedArrayFromHeap(gamma) as Float32Array,
    backend.typedArrayFromHeap(beta) as Float32Array,
    backend.typedArrayFromHeap(out) as Float32Array,
    batch,
    h * w,
    c,
    attrs,
  );
  return out;
}

/** Registers {@linkcode GROUP_NORM_KERNEL} for the wasm backend once; later calls do nothing. */
export function ensureGroupNormKernel(): void {
  if (tf.getKernel(GROUP_NORM_KERNEL, "wasm")) return;
  tf.registerKernel({
    kernelName: GROUP_NORM_KERNEL,
    backendName: "wasm",
    kernelFunc: groupNormWasm as unknown as tf.KernelFunc,
  });
}

/**
 * GroupNorm (+ SiLU) of NHWC `x` with per-channel `gamma`, `beta` (and an optional [B, C] `shift`
 * added to x first) through the fused wasm kernel: inference only (no gradient). The wasm backend
 * must be active.
 *
 * @example
 * ```ts ignore
 * import * as tf from "@tensorflow/tfjs-core";
 * import { groupNormWasmFused } from "./group_norm.ts";
 * const y = groupNormWasmFused(tf.randomNormal([2, 4, 4, 8]), tf.ones([8]), tf.zeros([8]), null, 4, true);
 * ```
 */
export function groupNormWasmFused(
  x: tf.Tensor4D,
  gamma: tf.Tensor,
  beta: tf.Tensor,
  shift: tf.Tensor2D | null,
  groups: number,
  activate: boolean,
  epsilon = 1e-5,
): tf.Tensor4D {
  ensureGroupNormKernel();
  const inputs: tf.NamedTensorMap = { x, gamma, beta };
  if (shift) inputs.shift = shift;
  const attrs: GroupNormAttrs = { groups, activate, epsilon };
  return tf.engine().runKernel(
    GROUP_NORM_KERNEL,
    inputs as unknown as tf.NamedTensorMap,
    attrs as unknown as tf.NamedAttrMap,
  ) as tf.Tensor4D;
}
