/**
 * `Conv2DBackpropInput` for the wasm backend (the shipped one is a naive loop, ~10x slower than
 * XNNPACK; it is also conv2dTranspose's forward pass): at stride 1 an XNNPACK convolution with the
 * rotated filter; otherwise a sub-pixel decomposition, one XNNPACK convolution producing each
 * stride x stride output block as channels, then a block rearrangement.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import {
  checkedGeometry,
  conv2dValid,
  type ConvBackpropAttrs,
  type ConvGeometry,
  rotateFilter,
} from "../conv_helpers.ts";
import {
  asWasmBackend,
  blocksToSpace,
  disposeInfos,
  type KernelArgs,
  padOrCrop,
  type WasmBackend,
  type WasmKernelConfig,
  type WasmKernelFunc,
} from "../internals.ts";

type Conv2DBackpropInputAttrs = ConvBackpropAttrs & { inputShape: [number, number, number, number] };

/**
 * Input gradient at stride 1: dy padded by (filter - 1 - pad) and convolved with the filter rotated
 * by 180 degrees, its in/out channels swapped.
 */
export function inputGradByRotatedConv(
  backend: WasmBackend,
  dy: tf.TensorInfo,
  filter: tf.TensorInfo,
  g: ConvGeometry,
): tf.TensorInfo {
  if (g.sh !== 1 || g.sw !== 1) throw new Error("inputGradByRotatedConv needs stride 1");
  const top = g.fh - 1 - g.pt;
  const left = g.fw - 1 - g.pl;
  const outH = g.h + g.fh - 1;
  const outW = g.w + g.fw - 1;
  const dyp = padOrCrop(backend, dy, [0, top, left, 0], [0, outH - top - g.oh, outW - left - g.ow, 0]);
  const wRot = backend.makeOutput([g.fh, g.fw, g.co, g.ci], "float32");
  rotateFilter(
    backend.typedArrayFromHeap(filter) as Float32Array,
    backend.typedArrayFromHeap(wRot) as Float32Array,
    g,
  );
  const dx = conv2dValid(backend, dyp, wRot, [1, 1]);
  disposeInfos(backend, dyp, wRot);
  return dx;
}

/**
 * Input gradient at any stride by sub-pixel decomposition: with h + pt = q*sh + r, dx row h takes
 * dy[q - t] * W[t*sh + r] for t < ceil(fh/sh). So ONE stride-1 convolution of dy (padded by
 * ceil(fh/sh) - 1) with a [ceil(fh/sh), ceil(fw/sw), co, sh*sw*ci] filter gives every sh x sw output
 * block as channels, and a block rearrangement (cropping the padding) gives dx. No multiplications by
 * inserted zeros; for kernel == stride (the 2x2 stride-2 up-sampler) it is a 1x1 convolution.
 */
export function inputGradBySubpixel(
  backend: WasmBackend,
  dy: tf.TensorInfo,
  filter: tf.TensorInfo,
  g: ConvGeometry,
): tf.TensorInfo {
  const kh = Math.ceil(g.fh / g.sh);
  const kw = Math.ceil(g.fw / g.sw);
  const qh = Math.ceil((g.h + g.pt) / g.sh);
  const qw = Math.ceil((g.w + g.pl) / g.sw);
  const dyp = padOrCrop(backend, dy, [0, kh - 1, kw - 1, 0], [0, qh - g.oh, qw - g.ow, 0]);
  const blockC = g.sh * g.sw * g.ci;
  const wc = backend.makeOutput([kh, kw, g.co, blockC], "float32");
  const dst = backend.typedArrayFromHeap(wc);
  const src = backend.typedArrayFromHeap(filter);
  dst.fill(0);
  for (let u = 0; u < kh; u++) {
    for (let rh = 0; rh < g.sh; rh++) {
      const a = (kh - 1 - u) * g.sh + rh;
      if (a >= g.fh) continue;
      for (let v = 0; v < kw; v++) {
        for (let rw = 0; rw < g.sw; rw++) {
          const b = (kw - 1 - v) * g.sw + rw;
          if (b >= g.fw) continue;
          const s0 = (a * g.fw + b) * g.ci * g.co;
          const d0 = (u * kw + v) * g.co * blockC + (rh * g.sw + rw) * g.ci;
          for (let i = 0; i < g.ci; i++) {
            for (let o = 0; o < g.co; o++) dst[d0 + o * blockC + i] = src[s0 + i * g.co + o];
          }
        }
      }
    }
  }
  const blocks = conv2dValid(backend, dyp, wc, [1, 1]); // [N, qh, qw, sh*sw*ci]
  disposeInfos(backend, dyp, wc);
  const dx = blocksToSpace(backend, blocks, g.sh, g.sw, g.pt, g.pl, g.h, g.w);
  disposeInfos(backend, blocks);
  return dx;
}

/**
 * Makes the Conv2DBackpropInput kernel (also the forward pass of conv2dTranspose):
 * dx[n, y*sh + a - pt, x*sw + b - pl, i] += dy[n,y,x,o] * W[a,b,i,o], by
 * {@linkcode inputGradByRotatedConv} at stride 1 and {@linkcode inputGradBySubpixel} otherwise.
 * NCHW falls back to `original` (the backend's own kernel).
 */
export function makeConv2DBackpropInputWasm(original: WasmKernelFunc | undefined): WasmKernelFunc {
  return function conv2DBackpropInputWasm(args: KernelArgs): tf.TensorInfo | tf.TensorInfo[] {
    const { dy, filter } = args.inputs;
    const { strides, pad, dataFormat, dimRoundingMode, inputShape } = args
      .attrs as unknown as Conv2DBackpropInputAttrs;
    const format = tf.backend_util.convertConv2DDataFormat(dataFormat);
    if (format !== "channelsLast") {
      if (original) return original(args);
      throw new Error(`wasm Conv2DBackpropInput supports only dataFormat NHWC, got ${dataFormat}`);
    }
    const backend = asWasmBackend(args.backend);
    if (dy.dtype !== "float32" || filter.dtype !== "float32") {
      throw new Error(`wasm Conv2DBackpropInput supports only float32, got ${dy.dtype} and ${filter.dtype}`);
    }
    const g = checkedGeometry(
      "Conv2DBackpropInput",
      inputShape,
      filter.shape as [number, number, number, number],
      { strides, pad, dimRoundingMode, format },
      dy.shape,
    );
    return g.sh === 1 && g.sw === 1
      ? inputGradByRotatedConv(backend, dy, filter, g)
      : inputGradBySubpixel(backend, dy, filter, g);
  };
}

/**
 * The registry entry of {@linkcode makeConv2DBackpropInputWasm}: NCHW falls back to the backend's own
 * kernel.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { conv2DBackpropInputWasmConfig } from "./conv2d_backprop_input.ts";
 * assert.equal(conv2DBackpropInputWasmConfig.kernelName, "Conv2DBackpropInput");
 * assert.equal(conv2DBackpropInputWasmConfig.make(undefined).name, "conv2DBackpropInputWasm");
 * ```
 */
export const conv2DBackpropInputWasmConfig: WasmKernelConfig = {
  kernelName: "Conv2DBackpropInput",
  make: (o) => makeConv2DBackpropInputWasm(o),
};
