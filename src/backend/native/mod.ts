/**
 * The native CPU backend's kernels: the GEMM-heavy kernels of the wasm backend computed by the
 * system BLAS through Deno FFI, on the wasm heap. Everything else (GroupNorm, SiLU, Adam, copies)
 * stays on the wasm kernels, so "native" is the wasm backend with these kernels swapped in; tfjs
 * still reports its backend as `wasm`.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { Blas } from "./blas.ts";
import type { NativeKernelConfig } from "./helpers.ts";
import { attentionNativeConfig } from "./kernels/attention.ts";
import { batchMatMulNativeConfig } from "./kernels/batch_mat_mul.ts";
import { conv2DNativeConfig } from "./kernels/conv2d.ts";
import { conv2DBackpropFilterNativeConfig } from "./kernels/conv2d_backprop_filter.ts";
import { conv2DBackpropInputNativeConfig } from "./kernels/conv2d_backprop_input.ts";
import { fusedConv2DNativeConfig } from "./kernels/fused_conv2d.ts";
import type { WasmKernelFunc } from "../wasm/internals.ts";

export * from "./blas.ts";

/** One entry per kernel (each in `kernels/`, named after it), as tfjs's registries list them. */
const KERNELS: readonly NativeKernelConfig[] = [
  conv2DNativeConfig,
  fusedConv2DNativeConfig,
  conv2DBackpropFilterNativeConfig,
  conv2DBackpropInputNativeConfig,
  batchMatMulNativeConfig,
  attentionNativeConfig,
];

/** The wasm kernels that {@linkcode registerNativeKernels} computes on the BLAS. */
export const NATIVE_KERNELS: readonly string[] = KERNELS.map((k) => k.kernelName);

const replaced = new Map<string, tf.KernelConfig | undefined>();
let active: Blas | null = null;

/** The BLAS the wasm backend's GEMM kernels run on now, or `null` (plain wasm). */
export function activeBlas(): Blas | null {
  return active;
}

/**
 * Swaps the GEMM-heavy wasm kernels for ones computed by `blas` (again with another `blas` replaces
 * the previous ones). Register the wasm training kernels first: the native kernels fall back to the
 * kernels they replace for inputs they do not cover.
 *
 * @example Run the wasm backend's convolutions on the system BLAS, then go back
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import { initBackend } from "../select.ts";
 * import { activeBlas, BlasUnavailableError, openBlas, registerNativeKernels, unregisterNativeKernels } from "./mod.ts";
 * await initBackend("wasm", { log: null });
 * try {
 *   registerNativeKernels(openBlas());
 *   const y = tf.conv2d(tf.ones([1, 4, 4, 2]) as tf.Tensor4D, tf.ones([3, 3, 2, 1]) as tf.Tensor4D, 1, "same");
 *   assert.equal((await y.data())[5], 18); // an interior pixel: 9 taps × 2 channels
 *   unregisterNativeKernels();
 *   assert.equal(activeBlas(), null);
 * } catch (e) {
 *   assert.ok(e instanceof BlasUnavailableError);
 * }
 * ```
 */
export function registerNativeKernels(blas: Blas): void {
  for (const { kernelName, make } of KERNELS) {
    if (!replaced.has(kernelName)) replaced.set(kernelName, tf.getKernel(kernelName, "wasm"));
    const original = replaced.get(kernelName);
    if (tf.getKernel(kernelName, "wasm")) tf.unregisterKernel(kernelName, "wasm");
    tf.registerKernel({
      ...(original ?? {}),
      kernelName,
      backendName: "wasm",
      kernelFunc: make(blas, original?.kernelFunc as WasmKernelFunc | undefined) as unknown as tf.KernelFunc,
    } as tf.KernelConfig);
  }
  active = blas;
}

/** Restores the wasm kernels that {@linkcode registerNativeKernels} replaced. */
export function unregisterNativeKernels(): void {
  for (const [kernelName, original] of replaced) {
    if (tf.getKernel(kernelName, "wasm")) tf.unregisterKernel(kernelName, "wasm");
    if (original) tf.registerKernel(original);
  }
  replaced.clear();
  active = null;
}
