/**
 * `Conv2DBackpropFilter` on the system BLAS: the convolution's patch blocks transposed times dy,
 * accumulated block by block.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs-core";
import { type ConvGeometry, geometryOf } from "../../wasm/conv_helpers.ts";
import {
  asWasmBackend,
  type KernelArgs,
  type WasmBackend,
  type WasmKernelFunc,
} from "../../wasm/internals.ts";
import type { Blas } from "../blas.ts";
import {
  blockedProduct,
  channelsLast,
  type Conv2DAttrs,
  convInfo,
  heapOf,
  type NativeKernelConfig,
} from "../helpers.ts";

/**
 * Floats per patch block of the filter gradient, larger: each block's product is a reduction over its
 * rows into the small [taps·ci, co] result, which the BLAS threads split well only when it is long.
 */
const FILTER_BLOCK_FLOATS = 1 << 21;

/** dW[taps·ci, co] = patchesᵀ · dy, accumulated block by block on the BLAS. */
export function convFilterGrad(
  blas: Blas,
  backend: WasmBackend,
  x: tf.TensorInfo,
  dy: tf.TensorInfo,
  g: ConvGeometry,
): tf.TensorInfo {
  const k = g.fh * g.fw * g.ci;
  const out = blockedProduct(
    backend,
    x,
    g,
    [g.fh, g.fw, g.ci, g.co],
    FILTER_BLOCK_FLOATS,
    (heap, outOff, patches, r0, m) => {
      const dyRows = heap.subarray(heapOf(backend, dy).off + r0 * g.co);
      const dW = heap.subarray(outOff);
      blas.sgemm(true, false, k, g.co, m, 1, patches, k, dyRows, g.co, r0 === 0 ? 0 : 1, dW, g.co);
    },
  );
  if (g.n * g.oh * g.ow === 0) (backend.typedArrayFromHeap(out) as Float32Array).fill(0);
  return out;
}

/** Makes the `Conv2DBackpropFilter` kernel for `blas` (NHWC float32; the rest goes to `original`). */
export function makeConv2DBackpropFilterNative(
  blas: Blas,
  original: WasmKernelFunc | undefined,
): WasmKernelFunc {
  return function conv2DBackpropFilterNative(args: KernelArgs) {
    const { x, dy } = args.inputs;
    const attrs = args.attrs as unknown as Conv2DAttrs;
    if (!channelsLast(attrs.dataFormat) || x.dtype !== "float32" || dy.dtype !== "float32") {
      if (!original) {
        throw new Error("native Conv2DBackpropFilter: this input needs the wasm kernel, which is missing");
      }
      return original(args);
    }
    const info = convInfo(x.shape, attrs.filterShape!, attrs);
    const expected = info.outShape;
    if (dy.shape.length !== 4 || dy.shape.some((v, i) => v !== expected[i])) {
      throw new Error(`native Conv2DBackpropFilter: dy has shape [${dy.shape}], expected [${expected}]`);
    }
    return convFilterGrad(blas, asWasmBackend(args.backend), x, dy, geometryOf(info));
  };
}

/**
 * The registry entry of {@linkcode makeConv2DBackpropFilterNative}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { Blas } from "../blas.ts";
 * import { conv2DBackpropFilterNativeConfig } from "./conv2d_backprop_filter.ts";
 * assert.equal(conv2DBackpropFilterNativeConfig.kernelName, "Conv2DBackpropFilter");
 * assert.equal(conv2DBackpropFilterNativeConfig.make({} as Blas, undefined).name, "conv2DBackpropFilterNative");
 * ```
 */
export const conv2DBackpropFilterNativeConfig: NativeKernelConfig = {
  kernelName: "Conv2DBackpropFilter",
  make: makeConv2DBackpropFilterNative,
};
