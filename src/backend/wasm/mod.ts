/**
 * Kernels that make tfjs-backend-wasm 4.22.0 able to train convnets, correctly and fast.
 *
 * - `Conv2DBackpropFilter` (missing in wasm): at stride 1 one XNNPACK matrix product over shifted
 *   copies of the padded input; otherwise one XNNPACK convolution of the transposed input with dy as
 *   the filter at dilation = stride.
 * - `Conv2DBackpropInput` (a naive loop in wasm, ~10x slower than XNNPACK; also conv2dTranspose's
 *   forward pass): at stride 1 an XNNPACK convolution with the rotated filter; otherwise a sub-pixel
 *   decomposition: one XNNPACK convolution producing each stride x stride output block as channels,
 *   then a block rearrangement (for kernel == stride, the 2x2 up-sampler, a 1x1 convolution).
 * - `MaxPoolGrad` (wasm drops windows whose values are all negative): a correct heap loop.
 * - `Slice`, `SplitV` (wasm copies the whole input off the heap per call): heap-to-heap copies.
 * - `OneHot` (wasm returns zeros for float32): a heap loop.
 * - `DepthToSpace` (wasm takes ~40 ms for 2M elements): a heap copy of contiguous runs.
 * - `BatchMatMul` (wasm leaves XNNPACK for a scalar loop whenever an operand is transposed or
 *   batched, as in every matMul gradient): explicit transposes, then XNNPACK products.
 * - the `DepthToSpace` gradient, which tfjs-core does not register for any backend.
 *
 * The kernels reach into BackendWasm internals, so registration refuses any tfjs other than 4.22.0.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { version_wasm } from "@tensorflow/tfjs-backend-wasm";
import { PINNED_TFJS_VERSION, type WasmKernelConfig, type WasmKernelFunc } from "./internals.ts";
import { batchMatMulWasmConfig } from "./kernels/batch_mat_mul.ts";
import { conv2DBackpropFilterWasmConfig } from "./kernels/conv2d_backprop_filter.ts";
import { conv2DBackpropInputWasmConfig } from "./kernels/conv2d_backprop_input.ts";
import { depthToSpaceGradConfig, depthToSpaceWasmConfig } from "./kernels/depth_to_space.ts";
import { maxPoolGradWasmConfig } from "./kernels/max_pool_grad.ts";
import { oneHotWasmConfig } from "./kernels/one_hot.ts";
import { sliceWasmConfig } from "./kernels/slice.ts";
import { splitVWasmConfig } from "./kernels/split_v.ts";

/** Marks kernel configs registered here, so that registration is idempotent. */
const OURS = Symbol.for("emoji-diffusion.wasm-training-kernel");

/** One entry per kernel (each in `kernels/`, named after it), as tfjs's registries list them. */
const REPLACEMENTS: readonly WasmKernelConfig[] = [
  conv2DBackpropFilterWasmConfig,
  conv2DBackpropInputWasmConfig,
  maxPoolGradWasmConfig,
  sliceWasmConfig,
  splitVWasmConfig,
  oneHotWasmConfig,
  depthToSpaceWasmConfig,
  batchMatMulWasmConfig,
];

/** The wasm kernels that {@linkcode registerWasmTrainingKernels} registers or replaces. */
export const WASM_TRAINING_KERNELS: readonly string[] = REPLACEMENTS.map((r) => r.kernelName);

/** The backend's own kernel configs that were replaced, for {@linkcode unregisterWasmTrainingKernels}. */
const originals = new Map<string, tf.KernelConfig | undefined>();

function checkVersions(): void {
  if (tf.version_core !== PINNED_TFJS_VERSION || version_wasm !== PINNED_TFJS_VERSION) {
    throw new Error(
      `wasm training kernels need tfjs-core and tfjs-backend-wasm ${PINNED_TFJS_VERSION} exactly ` +
        `(they use backend internals), found tfjs-core ${tf.version_core} and tfjs-backend-wasm ${version_wasm}`,
    );
  }
}

function isOurs(config: tf.KernelConfig | undefined): boolean {
  return config !== undefined && (config as unknown as Record<symbol, unknown>)[OURS] === true;
}

/**
 * Registers the wasm kernels that training needs, replacing the backend's own where those are wrong or
 * slow, plus the DepthToSpace gradient when none is registered. Idempotent; call it before or after
 * the wasm backend starts. Throws unless tfjs-core and tfjs-backend-wasm are exactly 4.22.0.
 */
export function registerWasmTrainingKernels(): void {
  checkVersions();
  for (const { kernelName, make } of REPLACEMENTS) {
    const existing = tf.getKernel(kernelName, "wasm");
    if (isOurs(existing)) continue;
    originals.set(kernelName, existing);
    const config = {
      // Keep the original's setupFunc/disposeFunc: some replacements fall back to its kernelFunc.
      ...(existing ?? {}),
      kernelName,
      backendName: "wasm",
      kernelFunc: make(existing?.kernelFunc as WasmKernelFunc | undefined) as unknown as tf.KernelFunc,
      [OURS]: true,
    } as tf.KernelConfig;
    if (existing) tf.unregisterKernel(kernelName, "wasm");
    tf.registerKernel(config);
  }
  if (!tf.getGradient("DepthToSpace")) tf.registerGradient(depthToSpaceGradConfig);
}

/**
 * Restores the wasm backend's own kernels that {@linkcode registerWasmTrainingKernels} replaced and
 * removes the ones it added (the DepthToSpace gradient stays). For benchmarks and tests.
 */
export function unregisterWasmTrainingKernels(): void {
  for (const { kernelName } of REPLACEMENTS) {
    const current = tf.getKernel(kernelName, "wasm");
    if (!isOurs(current)) continue;
    tf.unregisterKernel(kernelName, "wasm");
    const original = originals.get(kernelName);
    if (original) tf.registerKernel(original);
    originals.delete(kernelName);
  }
}
