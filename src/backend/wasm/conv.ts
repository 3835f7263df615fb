/**
 * Convolution gradients for the wasm backend, expressed as XNNPACK convolutions and matrix products.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import {
  asWasmBackend,
  blocksToSpace,
  disposeInfos,
  freshCopy,
  type KernelArgs,
  padOrCrop,
  reshapeInfo,
  runWasmKernel,
  transposeInfo,
  type WasmBackend,
  type WasmKernelFunc,
} from "./internals.ts";

type Conv2DBackpropFilterAttrs = {
  strides: [number, number] | number;
  pad: "valid" | "same" | number | tf.backend_util.ExplicitPadding;
  dataFormat: "NHWC" | "NCHW";
  dimRoundingMode?: "floor" | "round" | "ceil";
  filterShape: [number, number, number, number];
};

type Conv2DBackpropInputAttrs = Omit<Conv2DBackpropFilterAttrs, "filterShape"> & {
  inputShape: [number, number, number, number];
};

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** `XNNPACK conv2d` through the registered wasm Conv2D kernel: NHWC, explicit zero padding. */
function conv2dValid(
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

/** Matrix product of a [M, K] and b [K, N] on XNNPACK (the wasm kernel's only fast path: no transposes). */
function matMul2d(backend: WasmBackend, a: tf.TensorInfo, b: tf.TensorInfo): tf.TensorInfo {
  const a3 = reshapeInfo(backend, a, [1, a.shape[0], a.shape[1]]);
  const b3 = reshapeInfo(backend, b, [1, b.shape[0], b.shape[1]]);
  try {
    const out = runWasmKernel(
      "BatchMatMul",
      { a: a3, b: b3 },
      { transposeA: false, transposeB: false },
      backend,
    );
    const out2 = reshapeInfo(backend, out, [a.shape[0], b.shape[1]]);
    disposeInfos(backend, out);
    return out2;
  } finally {
    disposeInfos(backend, a3, b3);
  }
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
function checkedGeometry(
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

/** The fields of a tfjs Conv2DInfo that the kernels use. */
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
 * Filter gradient as ONE convolution (any stride): the input transposed to [ci, H, W, N] (channels
 * become the batch, the batch becomes the channels) and padded, convolved with dy transposed to
 * [oh, ow, N, co] as the filter at dilation = stride, gives [ci, fh, fw, co]; a transpose finishes.
 */
export function filterGradByConv(
  backend: WasmBackend,
  x: tf.TensorInfo,
  dy: tf.TensorInfo,
  g: ConvGeometry,
): tf.TensorInfo {
  const xT = transposeInfo(backend, x, [3, 1, 2, 0]); // [ci, H, W, N]
  const needH = (g.oh - 1) * g.sh + g.fh;
  const needW = (g.ow - 1) * g.sw + g.fw;
  const xTp = padOrCrop(backend, xT, [0, g.pt, g.pl, 0], [0, needH - g.h - g.pt, needW - g.w - g.pl, 0]);
  disposeInfos(backend, xT);
  const dyT = transposeInfo(backend, dy, [1, 2, 0, 3]); // [oh, ow, N, co]
  const conv = conv2dValid(backend, xTp, dyT, [g.sh, g.sw]); // [ci, fh, fw, co]
  disposeInfos(backend, xTp, dyT);
  const dW = transposeInfo(backend, conv, [1, 2, 0, 3]);
  disposeInfos(backend, conv);
  return dW;
}

/**
 * Filter gradient at stride 1 as ONE matrix product with a long inner dimension. On the padded grid
 * [N, Hg, Wg] flattened to rows, tap (a, b) reads the input shifted by a*Wg + b rows, so
 * A[(a,b,i), r] = xPadded^T[i, r + a*Wg + b] is built from contiguous row copies, and
 * dW[(a,b,i), o] = A . dyOnGrid[r, o], already in filter layout.
 */
export function filterGradByShiftedGemm(
  backend: WasmBackend,
  x: tf.TensorInfo,
  dy: tf.TensorInfo,
  g: ConvGeometry,
): tf.TensorInfo {
  if (g.sh !== 1 || g.sw !== 1) throw new Error("filterGradByShiftedGemm needs stride 1");
  const hg = g.oh + g.fh - 1;
  const wg = g.ow + g.fw - 1;
  const rows = g.n * hg * wg;
  const xp = padOrCrop(backend, x, [0, g.pt, g.pl, 0], [0, hg - g.h - g.pt, wg - g.w - g.pl, 0]);
  const xp2d = reshapeInfo(backend, xp, [rows, g.ci]);
  const xpT = transposeInfo(backend, xp2d, [1, 0]); // [ci, rows]
  disposeInfos(backend, xp, xp2d);
  let a: tf.TensorInfo;
  if (g.fh === 1 && g.fw === 1) {
    a = xpT;
  } else {
    const taps = g.fh * g.fw;
    a = backend.makeOutput([taps * g.ci, rows], "float32");
    const dst = backend.typedArrayFromHeap(a);
    const src = backend.typedArrayFromHeap(xpT);
    for (let ta = 0; ta < g.fh; ta++) {
      for (let tb = 0; tb < g.fw; tb++) {
        const shift = ta * wg + tb;
        for (let i = 0; i < g.ci; i++) {
          const d = ((ta * g.fw + tb) * g.ci + i) * rows;
          dst.set(src.subarray(i * rows + shift, (i + 1) * rows), d);
          // The tail only meets zero rows of dy on the grid; zero it rather than leave garbage.
          dst.fill(0, d + rows - shift, d + rows);
        }
      }
    }
    disposeInfos(backend, xpT);
  }
  const dyg = padOrCrop(backend, dy, [0, 0, 0, 0], [0, hg - g.oh, wg - g.ow, 0]);
  // The product's right operand must be a temporary (see freshCopy); padOrCrop shares dy when
  // there is nothing to pad.
  const dyg2d = dyg.dataId === dy.dataId
    ? freshCopy(backend, dyg, [rows, g.co])
    : reshapeInfo(backend, dyg, [rows, g.co]);
  disposeInfos(backend, dyg);
  const prod = matMul2d(backend, a, dyg2d); // [fh*fw*ci, co]
  disposeInfos(backend, a, dyg2d);
  const dW = reshapeInfo(backend, prod, [g.fh, g.fw, g.ci, g.co]);
  disposeInfos(backend, prod);
  return dW;
}

/**
 * Conv2DBackpropFilter: dW[a,b,i,o] = sum over n,y,x of xPadded[n, y*sh + a, x*sw + b, i] * dy[n,y,x,o],
 * by {@linkcode filterGradByShiftedGemm} at stride 1 (unless the image is small) and
 * {@linkcode filterGradByConv} otherwise.
 */
export function conv2DBackpropFilterWasm(args: KernelArgs): tf.TensorInfo {
  const backend = asWasmBackend(args.backend);
  const { x, dy } = args.inputs;
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = args
    .attrs as unknown as Conv2DBackpropFilterAttrs;
  const format = tf.backend_util.convertConv2DDataFormat(dataFormat);
  if (format !== "channelsLast") {
    throw new Error(`wasm Conv2DBackpropFilter supports only dataFormat NHWC, got ${dataFormat}`);
  }
  if (x.dtype !== "float32" || dy.dtype !== "float32") {
    throw new Error(`wasm Conv2DBackpropFilter supports only float32, got ${x.dtype} and ${dy.dtype}`);
  }
  const g = checkedGeometry(
    "Conv2DBackpropFilter",
    x.shape as [number, number, number, number],
    filterShape,
    { strides, pad, dimRoundingMode, format },
    dy.shape,
  );
  // The shifted product also multiplies the padding ring of its grid; on small images (8x8 and less
  // with a 3x3 filter) that waste outweighs its advantage and the convolution wins.
  const gridWaste = ((g.oh + g.fh - 1) * (g.ow + g.fw - 1)) / (g.oh * g.ow);
  const dW = g.sh === 1 && g.sw === 1 && gridWaste < 1.4
    ? filterGradByShiftedGemm(backend, x, dy, g)
    : filterGradByConv(backend, x, dy, g);
  if (!sameShape(dW.shape, filterShape)) {
    disposeInfos(backend, dW);
    throw new Error(`wasm Conv2DBackpropFilter: internal shape [${dW.shape}] != [${filterShape}]`);
  }
  return dW;
}

/**
 * Writes the [fh, fw, ci, co] filter `src` rotated by 180° with its channels swapped, [fh, fw, co, ci],
 * into `dst`: the filter of the input gradient as a convolution of dy.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { rotateFilter } from "./conv.ts";
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
