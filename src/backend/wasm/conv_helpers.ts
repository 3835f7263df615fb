/**
 * What the wasm convolution-gradient kernels (and the native ones) share: the geometry of an NHWC
 * convolution, its check against dy, the filter rotation of the input gradient, and a stride-free
 * XNNPACK convolution through the registered wasm `Conv2D` kernel.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { runWasmKernel, type WasmBackend } from "./internals.ts";

/**
 * Whether two shapes are equal.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sameShape } from "./conv_helpers.ts";
 * assert.ok(sameShape([2, 3], [2, 3]));
 * assert.ok(!sameShape([2, 3], [2, 3, 1]));
 * ```
 */
export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** The attributes the convolution-gradient kernels share (the filter or input shape aside). */
export type ConvBackpropAttrs = {
  strides: [number, number] | number;
  pad: "valid" | "same" | number | tf.backend_util.ExplicitPadding;
  dataFormat: "NHWC" | "NCHW";
  dimRoundingMode?: "floor" | "round" | "ceil";
};

/** `XNNPACK conv2d` through the registered wasm Conv2D kernel: NHWC, explicit zero padding. */
export function conv2dValid(
  backend: WasmBackend,
  x: tf.TensorInfo,
  filter: tf.TensorInfo,
  dilations: [number, number],
): tf.TensorInfo {
  return runWasmKernel(
    "Conv2D",
    { x, filter },
    { strides: [1, 1], pad: "valid", dataFormat: "NHWC", dilations, dimRoundingMode: undefined } as never,
    backend,
  );
}

/** The geometry of one NHWC convolution, from tfjs's Conv2DInfo. */
export interface ConvGeometry {
  /** Batch size. */
  n: number;
  /** Input height. */
  h: number;
  /** Input width. */
  w: number;
  /** Input channels. */
  ci: number;
  /** Output channels. */
  co: number;
  /** Output height. */
  oh: number;
  /** Output width. */
  ow: number;
  /** Filter height. */
  fh: number;
  /** Filter width. */
  fw: number;
  /** Stride along height. */
  sh: number;
  /** Stride along width. */
  sw: number;
  /** Zero padding above the input. */
  pt: number;
  /** Zero padding left of the input. */
  pl: number;
}

/** The conv geometry of a backprop kernel's attributes, after checking dy's shape against it. */
export function checkedGeometry(
  kernel: string,
  inputShape: [number, number, number, number],
  filterShape: [number, number, number, number],
  attrs: {
    strides: Parameters<typeof tf.backend_util.computeConv2DInfo>[2];
    pad: Parameters<typeof tf.backend_util.computeConv2DInfo>[4];
    dimRoundingMode?: Parameters<typeof tf.backend_util.computeConv2DInfo>[5];
    format: Parameters<typeof tf.backend_util.computeConv2DInfo>[7];
  },
  dyShape: number[],
): ConvGeometry {
  const info = tf.backend_util.computeConv2DInfo(
    inputShape,
    filterShape,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    attrs.format,
  );
  if (!sameShape(dyShape, info.outShape)) {
    throw new Error(`wasm ${kernel}: dy has shape [${dyShape}], expected [${info.outShape}]`);
  }
  return geometryOf(info);
}

/**
 * The fields of a tfjs Conv2DInfo that the kernels use.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import { geometryOf } from "./conv_helpers.ts";
 * const g = geometryOf(tf.backend_util.computeConv2DInfo([1, 8, 8, 3], [3, 3, 3, 16], 2, 1, "same"));
 * assert.deepEqual([g.oh, g.ow, g.co, g.pt], [4, 4, 16, 0]);
 * ```
 */
export function geometryOf(info: tf.backend_util.Conv2DInfo): ConvGeometry {
  return {
    n: info.batchSize,
    h: info.inHeight,
    w: info.inWidth,
    ci: info.inChannels,
    co: info.outChannels,
    oh: info.outHeight,
    ow: info.outWidth,
    fh: info.filterHeight,
    fw: info.filterWidth,
    sh: info.strideHeight,
    sw: info.strideWidth,
    pt: info.padInfo.top,
    pl: info.padInfo.left,
  };
}

/**
 * Writes the [fh, fw, ci, co] filter `src` rotated by 180° with its channels swapped, [fh, fw, co, ci],
 * into `dst`: the filter of the input gradient as a convolution of dy.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { rotateFilter } from "./conv_helpers.ts";
 * const dst = new Float32Array(4);
 * rotateFilter(Float32Array.of(1, 2, 3, 4), dst, { fh: 2, fw: 2, ci: 1, co: 1 }); // taps (0,0) (0,1) (1,0) (1,1)
 * assert.deepEqual([...dst], [4, 3, 2, 1]);
 * ```
 */
export function rotateFilter(
  src: Float32Array,
  dst: Float32Array,
  g: Pick<ConvGeometry, "fh" | "fw" | "ci" | "co">,
): void {
  for (let a = 0; a < g.fh; a++) {
    for (let b = 0; b < g.fw; b++) {
      const s0 = ((g.fh - 1 - a) * g.fw + (g.fw - 1 - b)) * g.ci * g.co;
      const d0 = (a * g.fw + b) * g.co * g.ci;
      for (let i = 0; i < g.ci; i++) {
        for (let o = 0; o < g.co; o++) dst[d0 + o * g.ci + i] = src[s0 + i * g.co + o];
      }
    }
  }
}
