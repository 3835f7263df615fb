/**
 * What the native kernels share: their registry entry's type, and the blocked im2col product behind
 * the convolutions on the system BLAS (`Conv2D`, `FusedConv2D`, `Conv2DBackpropFilter` and
 * `Conv2DBackpropInput` in `kernels/`, NHWC float32 tensors on the wasm heap).
 *
 * A convolution is a matrix product of the input's patches (im2col, rows = output pixels, columns =
 * filter taps × input channels) with the filter, which NHWC already lays out as [taps·Cin, Cout]. The
 * patch matrix is built a block of rows at a time in a scratch buffer on the wasm heap, so that it
 * stays in cache while the product reads it: whole-image patch matrices are 9× the input and cost more
 * to write than the product costs to compute. A 1×1 stride-1 convolution needs no patches at all.
 * The filter gradient is the same patch blocks transposed times dy, accumulated over blocks; the input
 * gradient at stride 1 is a convolution of dy with the rotated filter; at stride 2 the wasm kernel's
 * sub-pixel form (src/backend/wasm/kernels/conv2d_backprop_input.ts) runs, its convolutions then computed here.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { ConvGeometry } from "../wasm/conv_helpers.ts";
import type { WasmBackend, WasmKernelFunc } from "../wasm/internals.ts";
import type { Blas } from "./blas.ts";

/**
 * One entry of the native kernel registry (`src/backend/native/mod.ts`), as tfjs lists its kernel
 * configs: the kernel's name and how to make its function on a BLAS from the wasm kernel it replaces
 * (`undefined` where there is none).
 */
export interface NativeKernelConfig {
  /** The tfjs kernel name, e.g. `Conv2D`. */
  kernelName: string;
  /** Makes the kernel function on `blas`; `original` takes the inputs it does not cover. */
  make(blas: Blas, original: WasmKernelFunc | undefined): WasmKernelFunc;
}

/** About how many floats one block of patch rows holds (2 MiB; 1–4 MiB measured alike). */
const BLOCK_FLOATS = 1 << 19;
/** The fewest rows a block gets, so that each product is big enough to be worth its threads. */
const MIN_BLOCK_ROWS = 256;
/** The attributes of the convolution kernels that the native kernels read. */
export type Conv2DAttrs = {
  strides: [number, number] | number;
  pad: "valid" | "same" | number | tf.backend_util.ExplicitPadding;
  dataFormat?: "NHWC" | "NCHW";
  dilations?: [number, number] | number;
  dimRoundingMode?: "floor" | "round" | "ceil";
  activation?: string;
  filterShape?: [number, number, number, number];
};

/** Rows per patch block for a patch width of `k` floats (`floats` per block). */
export function blockRows(k: number, rows: number, floats = BLOCK_FLOATS): number {
  return Math.min(rows, Math.max(MIN_BLOCK_ROWS, Math.floor(floats / Math.max(1, k))));
}

/**
 * Writes patch rows `r0 .. r0+rows` of the NHWC input at `xOff` into `heap` at `dOff` (row width
 * fh·fw·ci, taps outside the image zero). Row r is output pixel (n, oy, ox) in row-major order.
 *
 * @example Patches of a 1×2×2×1 image under a 2×2 filter, padding 0 (one output pixel)
 * ```ts
 * import assert from "node:assert/strict";
 * import { writePatches } from "./helpers.ts";
 * const heap = Float32Array.of(1, 2, 3, 4, 0, 0, 0, 0);
 * const g = { n: 1, h: 2, w: 2, ci: 1, co: 1, oh: 1, ow: 1, fh: 2, fw: 2, sh: 1, sw: 1, pt: 0, pl: 0 };
 * writePatches(heap, 0, g, 0, 1, 4);
 * assert.deepEqual([...heap.subarray(4)], [1, 2, 3, 4]);
 * ```
 */
export function writePatches(
  heap: Float32Array,
  xOff: number,
  g: ConvGeometry,
  r0: number,
  rows: number,
  dOff: number,
): void {
  const { h, w, ci, oh, ow, fh, fw, sh, sw, pt, pl } = g;
  const tapRow = fw * ci;
  const k = fh * tapRow;
  let n = Math.floor(r0 / (oh * ow));
  let oy = Math.floor(r0 / ow) % oh;
  let ox = r0 % ow;
  let d = dOff;
  for (let r = 0; r < rows; r++) {
    const ix0 = ox * sw - pl;
    const bLo = ix0 < 0 ? -ix0 : 0;
    const bHi = Math.min(fw, w - ix0);
    const imageRow = n * h;
    for (let a = 0; a < fh; a++) {
      const iy = oy * sh - pt + a;
      const dRow = d + a * tapRow;
      if (iy < 0 || iy >= h || bHi <= bLo) {
        heap.fill(0, dRow, dRow + tapRow);
        continue;
      }
      if (bLo > 0) heap.fill(0, dRow, dRow + bLo * ci);
      if (bHi < fw) heap.fill(0, dRow + bHi * ci, dRow + tapRow);
      const s = xOff + ((imageRow + iy) * w + ix0 + bLo) * ci;
      const len = (bHi - bLo) * ci;
      const t = dRow + bLo * ci;
      // copyWithin's call costs more than a short loop (the first layer's 3 channels: 9 floats)
      if (len < 24) { for (let j = 0; j < len; j++) heap[t + j] = heap[s + j]; }
      else heap.copyWithin(t, s, s + len);
    }
    d += k;
    if (++ox === ow) {
      ox = 0;
      if (++oy === oh) {
        oy = 0;
        n++;
      }
    }
  }
}

/** Fills every row of the [rows, c] matrix at `off` with `bias` (doubling copies). */
function fillRows(heap: Float32Array, off: number, rows: number, bias: Float32Array): void {
  const c = bias.length;
  heap.set(bias, off);
  let filled = 1;
  while (filled < rows) {
    const take = Math.min(filled, rows - filled);
    heap.copyWithin(off + filled * c, off, off + take * c);
    filled += take;
  }
}

/** Whether the convolution is 1×1 at stride 1 without padding: its patches are the input itself. */
function isPointwise(g: ConvGeometry): boolean {
  return g.fh === 1 && g.fw === 1 && g.sh === 1 && g.sw === 1 && g.pt === 0 && g.pl === 0 && g.oh === g.h &&
    g.ow === g.w;
}

/** The heap-wide float32 view and a tensor's offset in it (in elements). */
export function heapOf(backend: WasmBackend, t: tf.TensorInfo): { heap: Float32Array; off: number } {
  const v = backend.typedArrayFromHeap(t) as Float32Array;
  return { heap: new Float32Array(v.buffer), off: v.byteOffset / 4 };
}

/**
 * Runs `product` over the patch rows of `x` a block at a time: allocates `out` (`outShape`) and the
 * scratch block on the wasm heap, writes each block's patches, and hands the product the heap, the
 * patch matrix (null for a pointwise convolution, whose patches are `x` itself), the first row and the
 * row count. Frees the scratch; frees `out` on an error.
 */
export function blockedProduct(
  backend: WasmBackend,
  x: tf.TensorInfo,
  g: ConvGeometry,
  outShape: number[],
  floats: number,
  product: (heap: Float32Array, outOff: number, patches: Float32Array, r0: number, m: number) => void,
): tf.TensorInfo {
  const rows = g.n * g.oh * g.ow;
  const k = g.fh * g.fw * g.ci;
  const out = backend.makeOutput(outShape, "float32");
  const pointwise = isPointwise(g);
  const block = pointwise ? rows : blockRows(k, rows, floats);
  const scratch = pointwise || rows === 0 ? null : backend.makeOutput([block * k], "float32");
  try {
    // Views after every allocation: heap growth detaches older ones.
    const { heap, off: outOff } = heapOf(backend, out);
    const xOff = heapOf(backend, x).off;
    const sOff = scratch ? heapOf(backend, scratch).off : xOff;
    const patches = heap.subarray(sOff);
    for (let r0 = 0; r0 < rows; r0 += block) {
      const m = Math.min(block, rows - r0);
      if (scratch) writePatches(heap, xOff, g, r0, m, sOff);
      product(heap, outOff, patches, r0, m);
    }
    return out;
  } catch (e) {
    backend.disposeData(out.dataId);
    throw e;
  } finally {
    if (scratch) backend.disposeData(scratch.dataId);
  }
}

/**
 * y = conv(x, filter) (+ bias per output channel) on the BLAS; NHWC, float32, dilation 1.
 * Returns a new tensor on the wasm heap.
 */
export function convForward(
  blas: Blas,
  backend: WasmBackend,
  x: tf.TensorInfo,
  filter: tf.TensorInfo,
  g: ConvGeometry,
  bias: tf.TensorInfo | null,
): tf.TensorInfo {
  const k = g.fh * g.fw * g.ci;
  let filled = false;
  return blockedProduct(
    backend,
    x,
    g,
    [g.n, g.oh, g.ow, g.co],
    BLOCK_FLOATS,
    (heap, outOff, patches, r0, m) => {
      if (bias && !filled) {
        fillRows(heap, outOff, g.n * g.oh * g.ow, heap.subarray(heapOf(backend, bias).off).subarray(0, g.co));
        filled = true;
      }
      const fOff = heapOf(backend, filter).off;
      const y = heap.subarray(outOff + r0 * g.co);
      blas.sgemm(false, false, m, g.co, k, 1, patches, k, heap.subarray(fOff), g.co, bias ? 1 : 0, y, g.co);
    },
  );
}

/** tfjs's geometry of a stride/pad-attributed NHWC convolution at dilation 1. */
export function convInfo(xShape: readonly number[], filterShape: readonly number[], attrs: Conv2DAttrs) {
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
  );
}

/** Whether `dilations` is 1 along both axes (absent counts as 1). */
export function dilationOne(dilations: Conv2DAttrs["dilations"]): boolean {
  if (dilations === undefined) return true;
  return typeof dilations === "number" ? dilations === 1 : dilations[0] === 1 && dilations[1] === 1;
}

/** Whether `format` is NHWC (absent counts as NHWC). */
export function channelsLast(format: Conv2DAttrs["dataFormat"]): boolean {
  return format === undefined || format === "NHWC";
}
