/**
 * A correct `MaxPoolGrad` for the wasm backend (the shipped one drops windows whose values are all
 * negative).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { asWasmBackend, type KernelArgs, type WasmKernelConfig } from "../internals.ts";

type MaxPoolGradAttrs = {
  filterSize: [number, number] | number;
  strides: [number, number] | number;
  pad: "valid" | "same" | number | tf.backend_util.ExplicitPadding;
  dimRoundingMode?: "floor" | "round" | "ceil";
};

/**
 * MaxPoolGrad: each dy value goes to the position of its window's maximum in the input, ties going to
 * the first in row-major window order and padding never winning, exactly as the cpu backend does.
 * A plain loop over the wasm heap: any filter size, stride and padding, NHWC, float32.
 */
export function maxPoolGradWasm(args: KernelArgs): tf.TensorInfo {
  const backend = asWasmBackend(args.backend);
  const { dy, input } = args.inputs;
  const { filterSize, strides, pad, dimRoundingMode } = args.attrs as unknown as MaxPoolGradAttrs;
  if (input.dtype !== "float32" || dy.dtype !== "float32") {
    throw new Error(`wasm MaxPoolGrad supports only float32, got ${input.dtype} and ${dy.dtype}`);
  }
  const info = tf.backend_util.computePool2DInfo(
    input.shape as [number, number, number, number],
    filterSize,
    strides,
    1,
    pad,
    dimRoundingMode,
  );
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: c, outHeight: oh, outWidth: ow } = info;
  const { strideHeight: sh, strideWidth: sw, effectiveFilterHeight: fh, effectiveFilterWidth: fw } = info;
  const { top: pt, left: pl } = info.padInfo;
  if (
    dy.shape.length !== 4 || dy.shape[0] !== n || dy.shape[1] !== oh || dy.shape[2] !== ow ||
    dy.shape[3] !== c
  ) {
    throw new Error(`wasm MaxPoolGrad: dy has shape [${dy.shape}], expected [${n},${oh},${ow},${c}]`);
  }
  const out = backend.makeOutput(input.shape, "float32");
  // Views only after the last allocation: heap growth detaches earlier views.
  const dx = backend.typedArrayFromHeap(out) as Float32Array;
  const xv = backend.typedArrayFromHeap(input) as Float32Array;
  const dyv = backend.typedArrayFromHeap(dy) as Float32Array;
  dx.fill(0);
  const rowStride = w * c;
  const imageStride = h * rowStride;
  // Per output pixel, walk its window in row-major order over whole channel vectors (contiguous),
  // keeping the first strict maximum per channel; then route dy to it.
  const bestVal = new Float32Array(c);
  const bestAt = new Int32Array(c);
  for (let b = 0; b < n; b++) {
    const xb = b * imageStride;
    for (let yR = 0; yR < oh; yR++) {
      const r0 = yR * sh - pt;
      const rMin = Math.max(0, r0);
      const rMax = Math.min(h, r0 + fh);
      for (let yC = 0; yC < ow; yC++) {
        const c0 = yC * sw - pl;
        const cMin = Math.max(0, c0);
        const cMax = Math.min(w, c0 + fw);
        bestVal.fill(Number.NEGATIVE_INFINITY);
        bestAt.fill(-1);
        for (let r = rMin; r < rMax; r++) {
          for (let col = cMin; col < cMax; col++) {
            const base = xb + r * rowStride + col * c;
            for (let d = 0; d < c; d++) {
              const v = xv[base + d];
              if (v > bestVal[d]) {
                bestVal[d] = v;
                bestAt[d] = base + d;
              }
            }
          }
        }
        const dyBase = ((b * oh + yR) * ow + yC) * c;
        for (let d = 0; d < c; d++) {
          const at = bestAt[d];
          if (at >= 0) dx[at] += dyv[dyBase + d];
        }
      }
    }
  }
  return out;
}

/**
 * The registry entry of {@linkcode maxPoolGradWasm}, which needs no original kernel.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { maxPoolGradWasm, maxPoolGradWasmConfig } from "./max_pool_grad.ts";
 * assert.equal(maxPoolGradWasmConfig.kernelName, "MaxPoolGrad");
 * assert.equal(maxPoolGradWasmConfig.make(undefined), maxPoolGradWasm);
 * ```
 */
export const maxPoolGradWasmConfig: WasmKernelConfig = {
  kernelName: "MaxPoolGrad",
  make: () => maxPoolGradWasm,
};
