/**
 * `Conv2DBackpropInput` on the system BLAS: at stride 1 dy convolved with the rotated filter; other
 * strides go to the wasm kernel, whose sub-pixel form then runs its convolutions here.
 *
 * @module
 */
import { type ConvGeometry, geometryOf, rotateFilter } from "../../wasm/conv_helpers.ts";
import { asWasmBackend, type KernelArgs, type WasmKernelFunc } from "../../wasm/internals.ts";
import type { Blas } from "../blas.ts";
import {
  channelsLast,
  type Conv2DAttrs,
  convForward,
  convInfo,
  type NativeKernelConfig,
} from "../helpers.ts";

/**
 * Makes the `Conv2DBackpropInput` kernel for `blas`: at stride 1 the input gradient is dy convolved
 * with the filter rotated by 180° (in and out channels swapped) under the complementary padding,
 * computed straight from dy (the patches supply the padding); other strides and layouts go to
 * `original`, whose sub-pixel form then runs its convolutions here.
 */
export function makeConv2DBackpropInputNative(
  blas: Blas,
  original: WasmKernelFunc | undefined,
): WasmKernelFunc {
  return function conv2DBackpropInputNative(args: KernelArgs) {
    const { dy, filter } = args.inputs;
    const attrs = args.attrs as unknown as Conv2DAttrs & { inputShape: [number, number, number, number] };
    const fallback = () => {
      if (!original) {
        throw new Error("native Conv2DBackpropInput: this input needs the wasm kernel, which is missing");
      }
      return original(args);
    };
    if (!channelsLast(attrs.dataFormat) || dy.dtype !== "float32" || filter.dtype !== "float32") {
      return fallback();
    }
    const info = convInfo(attrs.inputShape, filter.shape, attrs);
    const g = geometryOf(info);
    if (g.sh !== 1 || g.sw !== 1) return fallback();
    if (dy.shape.length !== 4 || dy.shape.some((v, i) => v !== info.outShape[i])) {
      throw new Error(`native Conv2DBackpropInput: dy has shape [${dy.shape}], expected [${info.outShape}]`);
    }
    const backend = asWasmBackend(args.backend);
    const wRot = backend.makeOutput([g.fh, g.fw, g.co, g.ci], "float32");
    try {
      rotateFilter(
        backend.typedArrayFromHeap(filter) as Float32Array,
        backend.typedArrayFromHeap(wRot) as Float32Array,
        g,
      );
      const gT: ConvGeometry = {
        n: g.n,
        h: g.oh,
        w: g.ow,
        ci: g.co,
        co: g.ci,
        oh: g.h,
        ow: g.w,
        fh: g.fh,
        fw: g.fw,
        sh: 1,
        sw: 1,
        pt: g.fh - 1 - g.pt,
        pl: g.fw - 1 - g.pl,
      };
      return convForward(blas, backend, dy, wRot, gT, null);
    } finally {
      backend.disposeData(wRot.dataId);
    }
  };
}

/**
 * The registry entry of {@linkcode makeConv2DBackpropInputNative}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { Blas } from "../blas.ts";
 * import { conv2DBackpropInputNativeConfig } from "./conv2d_backprop_input.ts";
 * assert.equal(conv2DBackpropInputNativeConfig.kernelName, "Conv2DBackpropInput");
 * assert.equal(conv2DBackpropInputNativeConfig.make({} as Blas, undefined).name, "conv2DBackpropInputNative");
 * ```
 */
export const conv2DBackpropInputNativeConfig: NativeKernelConfig = {
  kernelName: "Conv2DBackpropInput",
  make: makeConv2DBackpropInputNative,
};
