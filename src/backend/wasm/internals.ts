/**
 * The small slice of tfjs-backend-wasm 4.22.0 internals that the training kernels rely on, checked at
 * run time so that a changed backend fails loudly instead of computing garbage.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";

/** The tfjs version these kernels were written and verified against. */
export const PINNED_TFJS_VERSION = "4.22.0";

/** The arguments tfjs passes to a kernel function (inputs by name). */
export interface KernelArgs {
  /** Input tensors by name, e.g. `x`, `dy`, `filter`. */
  inputs: Record<string, tf.TensorInfo>;
  /** The active backend (BackendWasm). */
  backend: unknown;
  /** Kernel attributes, e.g. strides and padding. */
  attrs: tf.NamedAttrMap;
}

/** A kernel function as these modules write it. */
export type WasmKernelFunc = (args: KernelArgs) => tf.TensorInfo | tf.TensorInfo[];

/**
 * One entry of the wasm kernel registry (`src/backend/wasm/mod.ts`), as tfjs lists its kernel
 * configs: the kernel's name and how to make its function from the backend's own (`undefined` where
 * the backend has none).
 */
export interface WasmKernelConfig {
  /** The tfjs kernel name, e.g. `Conv2DBackpropFilter`. */
  kernelName: string;
  /** Makes the kernel function; `original` is the kernel it replaces, for inputs it does not cover. */
  make(original: WasmKernelFunc | undefined): WasmKernelFunc;
}

/** A typed view of one tensor's bytes on the wasm heap. */
export type HeapArray = Float32Array | Int32Array | Uint8Array;

/** What the kernels use of tfjs-backend-wasm's `BackendWasm` (4.22.0). */
export interface WasmBackend {
  /** Allocates an output tensor on the wasm heap; its contents are NOT zeroed. */
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  /** A live view of a tensor's heap memory; invalid after the next heap growth (any allocation). */
  typedArrayFromHeap(t: tf.TensorInfo): HeapArray;
  /** Drops one reference to a tensor's data, freeing it at zero. */
  disposeData(dataId: tf.DataId, force?: boolean): boolean;
  /** Adds one reference to a tensor's data. */
  incRef(dataId: tf.DataId): void;
  /** Number of live data ids, for leak checks. */
  numDataIds(): number;
  /** Per data id bookkeeping: heap offset and dtype. */
  dataIdMap: { get(dataId: tf.DataId): { id: number; memoryOffset: number; dtype: tf.DataType } | undefined };
}

const checkedBackends = new WeakSet<object>();

/**
 * Throws a clear Error unless `backend` has the BackendWasm members these kernels use. Checked once
 * per backend instance.
 */
export function asWasmBackend(backend: unknown): WasmBackend {
  if (backend !== null && typeof backend === "object" && checkedBackends.has(backend)) {
    return backend as WasmBackend;
  }
  // deno-lint-ignore no-explicit-any
  const b = backend as any;
  const missing = ["makeOutput", "typedArrayFromHeap", "disposeData", "incRef", "numDataIds"]
    .filter((m) => typeof b?.[m] !== "function");
  if (typeof b?.dataIdMap?.get !== "function") missing.push("dataIdMap.get");
  if (missing.length > 0) {
    throw new Error(
      `wasm training kernels: the wasm backend lacks ${missing.join(", ")}; these kernels were written ` +
        `for tfjs-backend-wasm ${PINNED_TFJS_VERSION} internals (tfjs-core is ${tf.version_core})`,
    );
  }
  checkedBackends.add(b);
  return b as WasmBackend;
}

/**
 * Runs a registered wasm kernel directly on TensorInfos (no tape, no engine bookkeeping); the caller
 * owns the result and must dispose it with {@linkcode disposeInfos} unless it is returned.
 */
export function runWasmKernel(
  name: string,
  inputs: tf.NamedTensorInfoMap | tf.TensorInfo[],
  attrs: tf.NamedAttrMap,
  backend: WasmBackend,
): tf.TensorInfo {
  const kernel = tf.getKernel(name, "wasm");
  if (!kernel) throw new Error(`wasm training kernels: the wasm kernel ${name} is not registered`);
  const out = kernel.kernelFunc({
    inputs: inputs as tf.NamedTensorInfoMap,
    attrs,
    backend: backend as never,
  });
  if (Array.isArray(out)) {
    throw new Error(`wasm training kernels: kernel ${name} returned ${out.length} outputs, expected one`);
  }
  return out;
}

/** Disposes intermediate TensorInfos made by {@linkcode runWasmKernel} or `makeOutput`. */
export function disposeInfos(backend: WasmBackend, ...infos: (tf.TensorInfo | null | undefined)[]): void {
  for (const t of infos) if (t) backend.disposeData(t.dataId);
}

/** A reshape that shares data (like the wasm Reshape kernel): the result holds its own reference. */
export function reshapeInfo(backend: WasmBackend, x: tf.TensorInfo, shape: number[]): tf.TensorInfo {
  if (tf.util.sizeFromShape(shape) !== tf.util.sizeFromShape(x.shape)) {
    throw new Error(`wasm training kernels: cannot reshape [${x.shape}] to [${shape}]`);
  }
  backend.incRef(x.dataId);
  return { dataId: x.dataId, shape, dtype: x.dtype };
}

/**
 * A copy of `x` with its own data id (and `shape`). XNNPACK's matrix product caches its packed right
 * operand by tensor id, ignoring shape, until that tensor is disposed; a temporary copy as the right
 * operand keeps the cache from holding or reusing data of the caller's tensors.
 */
export function freshCopy(backend: WasmBackend, x: tf.TensorInfo, shape: number[] = x.shape): tf.TensorInfo {
  const out = backend.makeOutput(shape, x.dtype);
  backend.typedArrayFromHeap(out).set(backend.typedArrayFromHeap(x));
  return out;
}

/** Transposes with the wasm Transpose kernel. */
export function transposeInfo(backend: WasmBackend, x: tf.TensorInfo, perm: number[]): tf.TensorInfo {
  return runWasmKernel("Transpose", { x }, { perm }, backend);
}

/**
 * Copies the box `begin`..`begin+size` of the row-major tensor `src` (shape `srcShape`) into the box
 * `dstBegin`..`dstBegin+size` of `dst` (shape `dstShape`). Works on any rank; the innermost run that
 * is contiguous in both is copied with one `set` (or a plain loop when short).
 */
export function copyBox(
  src: HeapArray,
  srcShape: readonly number[],
  begin: readonly number[],
  size: readonly number[],
  dst: HeapArray,
  dstShape: readonly number[],
  dstBegin: readonly number[],
): void {
  const rank = size.length;
  if (rank === 0) {
    dst[0] = src[0];
    return;
  }
  for (let i = 0; i < rank; i++) if (size[i] === 0) return;
  const srcStrides = stridesOf(srcShape);
  const dstStrides = stridesOf(dstShape);
  // Collapse trailing axes that are whole in both source and destination into one contiguous run.
  let k = rank - 1;
  let run = size[k];
  while (
    k > 0 && size[k] === srcShape[k] && size[k] === dstShape[k] && begin[k] === 0 && dstBegin[k] === 0
  ) {
    k--;
    run *= size[k];
  }
  let srcBase = 0;
  let dstBase = 0;
  for (let i = 0; i < rank; i++) {
    srcBase += begin[i] * srcStrides[i];
    dstBase += dstBegin[i] * dstStrides[i];
  }
  // Outer axes 0..k-1 are walked with an odometer; axis k plus everything inside is `run` elements.
  const outer = size.slice(0, k);
  const idx = new Array<number>(k).fill(0);
  let count = 1;
  for (const s of outer) count *= s;
  let s = srcBase;
  let d = dstBase;
  const short = run < 48;
  for (let n = 0; n < count; n++) {
    if (short) {
      for (let j = 0; j < run; j++) dst[d + j] = src[s + j];
    } else {
      dst.set(src.subarray(s, s + run), d);
    }
    // Advance the odometer.
    for (let a = k - 1; a >= 0; a--) {
      idx[a]++;
      s += srcStrides[a];
      d += dstStrides[a];
      if (idx[a] < outer[a]) break;
      s -= srcStrides[a] * outer[a];
      d -= dstStrides[a] * outer[a];
      idx[a] = 0;
    }
  }
}

/** Row-major strides of a shape, including a trailing 1. */
export function stridesOf(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = acc;
    acc *= shape[i];
  }
  return strides;
}

/**
 * Pads (positive amounts) and crops (negative amounts) every axis of `x` at once, filling with zeros,
 * in one pass over the wasm heap. `before[i]`/`after[i]` are the amounts at the start/end of axis i.
 * With nothing to pad or crop the result shares `x`'s data (like a reshape).
 */
export function padOrCrop(
  backend: WasmBackend,
  x: tf.TensorInfo,
  before: readonly number[],
  after: readonly number[],
): tf.TensorInfo {
  const rank = x.shape.length;
  if (before.every((v) => v === 0) && after.every((v) => v === 0)) return reshapeInfo(backend, x, x.shape);
  const outShape = x.shape.map((s, i) => s + before[i] + after[i]);
  if (outShape.some((s) => s < 0)) {
    throw new Error(`wasm training kernels: padOrCrop of [${x.shape}] gives negative shape [${outShape}]`);
  }
  const out = backend.makeOutput(outShape, x.dtype);
  const dst = backend.typedArrayFromHeap(out);
  const src = backend.typedArrayFromHeap(x);
  const srcBegin = new Array<number>(rank);
  const dstBegin = new Array<number>(rank);
  const size = new Array<number>(rank);
  let allInside = true;
  for (let i = 0; i < rank; i++) {
    srcBegin[i] = Math.max(0, -before[i]);
    dstBegin[i] = Math.max(0, before[i]);
    size[i] = Math.max(0, Math.min(x.shape[i] - srcBegin[i], outShape[i] - dstBegin[i]));
    if (size[i] !== outShape[i]) allInside = false;
  }
  if (!allInside) dst.fill(0);
  copyBox(src, x.shape, srcBegin, size, dst, outShape, dstBegin);
  return out;
}

/**
 * Rearranges [N, H, W, bh*bw*C] into [N, H*bh, W*bw, C]: channel block (a, b) of pixel (y, x) goes to
 * pixel (y*bh + a, x*bw + b), i.e. depthToSpace (NHWC) when bh == bw. Optionally crops the result to
 * rows top..top+outH and columns left..left+outW. One heap pass copying contiguous runs.
 */
export function blocksToSpace(
  backend: WasmBackend,
  x: tf.TensorInfo,
  bh: number,
  bw: number,
  top = 0,
  left = 0,
  outH = x.shape[1] * bh - top,
  outW = x.shape[2] * bw - left,
): tf.TensorInfo {
  const [n, h, w, cin] = x.shape;
  const c = cin / (bh * bw);
  if (!Number.isInteger(c)) {
    throw new Error(`wasm training kernels: ${cin} channels do not divide into ${bh}x${bw} blocks`);
  }
  if (top < 0 || left < 0 || top + outH > h * bh || left + outW > w * bw) {
    throw new Error(`wasm training kernels: crop ${top},${left} ${outH}x${outW} exceeds ${h * bh}x${w * bw}`);
  }
  const out = backend.makeOutput([n, outH, outW, c], x.dtype);
  const dst = backend.typedArrayFromHeap(out);
  const src = backend.typedArrayFromHeap(x);
  const outRow = outW * c;
  // Columns of block column xx that survive the crop, as a range of pixels within the block.
  const firstBlock = Math.floor(left / bw);
  const lastBlock = Math.floor((left + outW - 1) / bw);
  for (let b = 0; b < n; b++) {
    for (let y = 0; y < h; y++) {
      for (let a = 0; a < bh; a++) {
        const r = y * bh + a - top;
        if (r < 0 || r >= outH) continue;
        const dRow = (b * outH + r) * outRow;
        const sRow = ((b * h + y) * w) * cin + a * bw * c;
        for (let xx = firstBlock; xx <= lastBlock; xx++) {
          const c0 = xx * bw - left;
          const from = Math.max(0, c0);
          const to = Math.min(outW, c0 + bw);
          const len = (to - from) * c;
          const s = sRow + xx * cin + (from - c0) * c;
          const d = dRow + from * c;
          if (len < 48) {
            for (let k = 0; k < len; k++) dst[d + k] = src[s + k];
          } else {
            dst.set(src.subarray(s, s + len), d);
          }
        }
      }
    }
  }
  return out;
}

/** A new tensor holding the box `begin`..`begin+size` of `x`, copied heap to heap. */
export function sliceHeap(
  backend: WasmBackend,
  x: tf.TensorInfo,
  begin: number[],
  size: number[],
): tf.TensorInfo {
  const out = backend.makeOutput(size, x.dtype);
  if (tf.util.sizeFromShape(size) === 0) return out;
  const dst = backend.typedArrayFromHeap(out);
  const src = backend.typedArrayFromHeap(x);
  copyBox(src, x.shape, begin, size, dst, size, new Array<number>(size.length).fill(0));
  return out;
}

/**
 * What the heap-copy kernels do with string tensors, which live off the wasm heap: hand them to
 * `original` (the backend's own kernel), or refuse them when there is none.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { stringsToOriginal } from "./internals.ts";
 * const args = { inputs: {}, backend: null, attrs: {} };
 * assert.throws(() => stringsToOriginal("Slice", undefined, args), /wasm Slice: string tensors/);
 * ```
 */
export function stringsToOriginal(
  kernel: string,
  original: WasmKernelFunc | undefined,
  args: KernelArgs,
): tf.TensorInfo | tf.TensorInfo[] {
  if (original) return original(args);
  throw new Error(`wasm ${kernel}: string tensors are not supported`);
}

/** The sizes of a `BatchMatMul`: out[batch, m, n] = a[batchA, m, k]·b[batchB, k, n] after the transposes. */
export interface BatchMatMulShape {
  /** Rows of each product. */
  m: number;
  /** The inner size. */
  k: number;
  /** Columns of each product. */
  n: number;
  /** The batch dimensions of a. */
  outerA: number[];
  /** The batch dimensions of b. */
  outerB: number[];
  /** The broadcast batch dimensions of the output. */
  outer: number[];
  /** Matrices in the output, in a and in b. */
  batch: number;
  /** Matrices in a. */
  batchA: number;
  /** Matrices in b. */
  batchB: number;
}

/**
 * The sizes of a `BatchMatMul` of `a` and `b` (rank ≥ 2 each) with its transposes, the batch
 * dimensions broadcast (tfjs throws for batches that do not broadcast); null when the inner sizes
 * differ, so that the kernel being replaced raises its own error.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { batchMatMulShape } from "./internals.ts";
 * const s = batchMatMulShape([2, 3, 4], [4, 5], false, false);
 * assert.deepEqual([s!.m, s!.k, s!.n, s!.batch, s!.batchA, s!.batchB], [3, 4, 5, 2, 2, 1]);
 * assert.equal(batchMatMulShape([4, 3], [5, 4], true, true)!.n, 5);
 * assert.equal(batchMatMulShape([3, 4], [5, 6], false, false), null);
 * ```
 */
export function batchMatMulShape(
  a: readonly number[],
  b: readonly number[],
  transposeA: boolean,
  transposeB: boolean,
): BatchMatMulShape | null {
  const ra = a.length, rb = b.length;
  const k = transposeA ? a[ra - 2] : a[ra - 1];
  if (k !== (transposeB ? b[rb - 1] : b[rb - 2])) return null;
  const outerA = a.slice(0, -2), outerB = b.slice(0, -2);
  const outer = tf.broadcast_util.assertAndGetBroadcastShape(outerA, outerB);
  return {
    m: transposeA ? a[ra - 1] : a[ra - 2],
    k,
    n: transposeB ? b[rb - 2] : b[rb - 1],
    outerA,
    outerB,
    outer,
    batch: tf.util.sizeFromShape(outer),
    batchA: tf.util.sizeFromShape(outerA),
    batchB: tf.util.sizeFromShape(outerB),
  };
}
