/**
 * `Conv2DBackpropFilter` for the wasm backend (missing in tfjs-backend-wasm 4.22.0): at stride 1 one
 * XNNPACK matrix product over shifted copies of the padded input; otherwise one XNNPACK convolution of
 * the transposed input with dy as the filter at dilation = stride.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import {
  checkedGeometry,
  conv2dValid,
  type ConvBackpropAttrs,
  type ConvGeometry,
  sameShape,
} from "../conv_helpers.ts";
import {
  asWasmBackend,
  disposeInfos,
  freshCopy,
  type KernelArgs,
  padOrCrop,
  reshapeInfo,
  runWasmKernel,
  transposeInfo,
  type WasmBackend,
  type WasmKernelConfig,
} from "../internals.ts";

type Conv2DBackpropFilterAttrs = ConvBackpropAttrs & { filterShape: [number, number, number, number] };

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
 * The registry entry of {@linkcode conv2DBackpropFilterWasm}, which needs no original kernel.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { conv2DBackpropFilterWasm, conv2DBackpropFilterWasmConfig } from "./conv2d_backprop_filter.ts";
 * assert.equal(conv2DBackpropFilterWasmConfig.kernelName, "Conv2DBackpropFilter");
 * assert.equal(conv2DBackpropFilterWasmConfig.make(undefined), conv2DBackpropFilterWasm);
 * ```
 */
export const conv2DBackpropFilterWasmConfig: WasmKernelConfig = {
  kernelName: "Conv2DBackpropFilter",
  make: () => conv2DBackpropFilterWasm,
};
