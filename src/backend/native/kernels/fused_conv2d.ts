/**
 * `FusedConv2D` on the system BLAS: NHWC float32 at dilation 1 with a bias and a linear activation,
 * the bias written into the output before the product accumulates onto it.
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

/** Makes the `FusedConv2D` kernel for `blas`: bias and a linear activation here, the rest in `original`. */
export function makeFusedConv2DNative(blas: Blas, original: WasmKernelFunc | undefined): WasmKernelFunc {
  return function fusedConv2DNative(args: KernelArgs) {
    const { x, filter, bias, preluActivationWeights } = args.inputs;
    const attrs = args.attrs as unknown as Conv2DAttrs;
    const linear = attrs.activation === undefined || attrs.activation === "linear";
    if (
      !linear || preluActivationWeights || !channelsLast(attrs.dataFormat) || !dilationOne(attrs.dilations) ||
      x.dtype !== "float32" || filter.dtype !== "float32" ||
      (bias && (bias.shape.length !== 1 || bias.dtype !== "float32"))
    ) {
      if (!original) {
        throw new Error("native FusedConv2D: this input needs the wasm kernel, which is missing");
      }
      return original(args);
    }
    const info = convInfo(x.shape, filter.shape, attrs);
    if (bias && bias.shape[0] !== info.outChannels) {
      throw new Error(
        `FusedConv2D bias shape (${bias.shape}) does not match ${info.outChannels} output channels`,
      );
    }
    return convForward(blas, asWasmBackend(args.backend), x, filter, geometryOf(info), bias ?? null);
  };
}

/**
 * The registry entry of {@linkcode makeFusedConv2DNative}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { Blas } from "../blas.ts";
 * import { fusedConv2DNativeConfig } from "./fused_conv2d.ts";
 * assert.equal(fusedConv2DNativeConfig.kernelName, "FusedConv2D");
 * assert.equal(fusedConv2DNativeConfig.make({} as Blas, undefined).name, "fusedConv2DNative");
 * ```
 */
export const fusedConv2DNativeConfig: NativeKernelConfig = {
  kernelName: "FusedConv2D",
  make: makeFusedConv2DNative,
};
