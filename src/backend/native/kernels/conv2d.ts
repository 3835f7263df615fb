/**
 * `Conv2D` on the system BLAS: NHWC float32 at dilation 1 as blocked im2col products.
 *
 * @module
 */
import { geometryOf } from "../../wasm/conv_helpers.ts";
import { asWasmBackend, type KernelArgs, type WasmKernelFunc } from "../../wasm/internals.ts";
import type { Blas } from "../blas.ts";
import {
  channelsLast,
  type Conv2DAttrs,
  convForward,
  convInfo,
  dilationOne,
  type NativeKernelConfig,
} from "../helpers.ts";

/**
 * Makes the `Conv2D` kernel for `blas`; inputs it does not cover (NCHW, dilation, other dtypes) go to
 * `original`, the kernel it replaces.
 */
export function makeConv2DNative(blas: Blas, original: WasmKernelFunc | undefined): WasmKernelFunc {
  return function conv2DNative(args: KernelArgs) {
    const { x, filter } = args.inputs;
    const attrs = args.attrs as unknown as Conv2DAttrs;
    if (
      !channelsLast(attrs.dataFormat) || !dilationOne(attrs.dilations) || x.dtype !== "float32" ||
      filter.dtype !== "float32"
    ) {
      if (!original) throw new Error("native Conv2D: this input needs the wasm kernel, which is missing");
      return original(args);
    }
    const info = convInfo(x.shape, filter.shape, attrs);
    return convForward(blas, asWasmBackend(args.backend), x, filter, geometryOf(info), null);
  };
}

/**
 * The registry entry of {@linkcode makeConv2DNative}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { Blas } from "../blas.ts";
 * import { conv2DNativeConfig } from "./conv2d.ts";
 * assert.equal(conv2DNativeConfig.kernelName, "Conv2D");
 * assert.equal(conv2DNativeConfig.make({} as Blas, undefined).name, "conv2DNative");
 * ```
 */
export const conv2DNativeConfig: NativeKernelConfig = {
  kernelName: "Conv2D",
  make: makeConv2DNative,
};
