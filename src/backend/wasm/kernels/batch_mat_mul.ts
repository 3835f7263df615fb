/**
 * BatchMatMul for the wasm backend that keeps products on XNNPACK. The shipped kernel uses XNNPACK
 * only for one untransposed matrix pair and a scalar loop otherwise (10-20x slower), which is what
 * every matMul gradient (transposeA / transposeB) and every batched product hits.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import {
  asWasmBackend,
  batchMatMulShape,
  disposeInfos,
  freshCopy,
  type KernelArgs,
  reshapeInfo,
  transposeInfo,
  type WasmBackend,
  type WasmKernelConfig,
  type WasmKernelFunc,
} from "../internals.ts";

/** Below this many multiply-adds per matrix pair, per-pair XNNPACK set-up costs more than it saves. */
const MIN_MACS_PER_PAIR = 16384;

/**
 * Makes the BatchMatMul kernel. Transposed operands are transposed explicitly (a cheap copy), then:
 * a shared right operand folds the left batch into rows (one product); otherwise each matrix pair is
 * one product. Products go to `original` untransposed with batch 1, its XNNPACK path. Tiny pairs and
 * non-float32 inputs go to `original` unchanged.
 */
export function makeBatchMatMulWasm(original: WasmKernelFunc | undefined): WasmKernelFunc {
  if (!original) throw new Error("wasm BatchMatMul replacement needs the backend's own kernel");
  return function batchMatMulWasm(args: KernelArgs): tf.TensorInfo | tf.TensorInfo[] {
    const { a, b } = args.inputs;
    const { transposeA, transposeB } = args.attrs as unknown as { transposeA: boolean; transposeB: boolean };
    if (a.dtype !== "float32" || b.dtype !== "float32" || a.shape.length < 2 || b.shape.length < 2) {
      return original(args);
    }
    const shape = batchMatMulShape(a.shape, b.shape, transposeA, transposeB);
    if (!shape) return original(args); // let the original raise its error
    const { m, k, n, outerA, outerB, outer, batch, batchA, batchB } = shape;
    if (m * k * n < MIN_MACS_PER_PAIR || m === 0 || k === 0 || n === 0 || batch === 0) return original(args);

    const backend = asWasmBackend(args.backend);
    const a3 = reshapeInfo(backend, a, transposeA ? [batchA, k, m] : [batchA, m, k]);
    const b3 = reshapeInfo(backend, b, transposeB ? [batchB, n, k] : [batchB, k, n]);
    const owned: tf.TensorInfo[] = [a3, b3];
    try {
      let out3: tf.TensorInfo;
      if (batchB === 1 && (transposeA || transposeB) && batchA * m < n) {
        // A gradient-style product with few rows: XNNPACK packs its right operand on every call,
        // so compute out^T = b^T a^T, packing the small a^T instead of the large b.
        const rows = batchA * m;
        const bT = transposeB ? b3 : own(owned, transposeInfo(backend, b3, [0, 2, 1])); // [1, n, k]
        let aT: tf.TensorInfo; // [k, rows]
        if (transposeA) {
          // A temporary either way: it becomes the product's cached right operand (see freshCopy).
          aT = own(owned, batchA === 1 ? freshCopy(backend, a3) : transposeInfo(backend, a3, [1, 0, 2]));
        } else {
          const a2 = own(owned, reshapeInfo(backend, a3, [rows, k]));
          aT = own(owned, transposeInfo(backend, a2, [1, 0]));
        }
        const outT = own(owned, product(backend, original, bT, aT, n, k, rows)); // [1, n, rows]
        out3 = transposeInfo(backend, outT, [0, 2, 1]); // [1, rows, n]
      } else {
        const aN = transposeA ? own(owned, transposeInfo(backend, a3, [0, 2, 1])) : a3; // [batchA, m, k]
        const bN = transposeB ? own(owned, transposeInfo(backend, b3, [0, 2, 1])) : b3; // [batchB, k, n]
        out3 = batchB === 1
          ? product(backend, original, aN, bN, batchA * m, k, n) // the left batch becomes rows
          : pairwise(backend, original, aN, bN, outerA, outerB, outer, m, k, n);
      }
      const out = reshapeInfo(backend, out3, [...outer, m, n]);
      disposeInfos(backend, out3);
      return out;
    } finally {
      disposeInfos(backend, ...owned);
    }
  };
}

function own(list: tf.TensorInfo[], t: tf.TensorInfo): tf.TensorInfo {
  list.push(t);
  return t;
}

/** [rows, k] x [k, n] through the original kernel's XNNPACK path; returns [1, rows, n]. */
function product(
  backend: WasmBackend,
  original: WasmKernelFunc,
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  rows: number,
  k: number,
  n: number,
): tf.TensorInfo {
  const a1 = reshapeInfo(backend, a, [1, rows, k]);
  const b1 = reshapeInfo(backend, b, [1, k, n]);
  try {
    const out = original({
      inputs: { a: a1, b: b1 },
      backend,
      attrs: { transposeA: false, transposeB: false },
    });
    if (Array.isArray(out)) throw new Error("wasm BatchMatMul returned several outputs");
    return out;
  } finally {
    disposeInfos(backend, a1, b1);
  }
}

/** Each output matrix from its (broadcast) pair, one XNNPACK product each, copied into place. */
function pairwise(
  backend: WasmBackend,
  original: WasmKernelFunc,
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  outerA: number[],
  outerB: number[],
  outer: number[],
  m: number,
  k: number,
  n: number,
): tf.TensorInfo {
  const batch = tf.util.sizeFromShape(outer);
  const out = backend.makeOutput([batch, m, n], "float32");
  const rank = outer.length;
  // Left-pad the operand batch shapes to the output's rank for broadcasting.
  const shapeA = [...new Array<number>(rank - outerA.length).fill(1), ...outerA];
  const shapeB = [...new Array<number>(rank - outerB.length).fill(1), ...outerB];
  const idx = new Array<number>(rank).fill(0);
  try {
    for (let j = 0; j < batch; j++) {
      let ia = 0, ib = 0;
      for (let d = 0; d < rank; d++) {
        ia = ia * shapeA[d] + (shapeA[d] === 1 ? 0 : idx[d]);
        ib = ib * shapeB[d] + (shapeB[d] === 1 ? 0 : idx[d]);
      }
      // A fresh right operand every time: XNNPACK caches its packed weights by tensor id.
      const ta = backend.makeOutput([1, m, k], "float32");
      const tb = backend.makeOutput([1, k, n], "float32");
      // Views are taken after each allocation (heap growth detaches older views).
      backend.typedArrayFromHeap(ta).set(
        backend.typedArrayFromHeap(a).subarray(ia * m * k, (ia + 1) * m * k),
      );
      backend.typedArrayFromHeap(tb).set(
        backend.typedArrayFromHeap(b).subarray(ib * k * n, (ib + 1) * k * n),
      );
      let r: tf.TensorInfo | tf.TensorInfo[];
      try {
        r = original({ inputs: { a: ta, b: tb }, backend, attrs: { transposeA: false, transposeB: false } });
      } finally {
        disposeInfos(backend, ta, tb);
      }
      if (Array.isArray(r)) throw new Error("wasm BatchMatMul returned several outputs");
      backend.typedArrayFromHeap(out).set(backend.typedArrayFromHeap(r), j * m * n);
      disposeInfos(backend, r);
      for (let d = rank - 1; d >= 0; d--) {
        if (++idx[d] < outer[d]) break;
        idx[d] = 0;
      }
    }
  } catch (e) {
    disposeInfos(backend, out);
    throw e;
  }
  return out;
}

/**
 * The registry entry of {@linkcode makeBatchMatMulWasm}, which runs its products on the backend's own
 * kernel and so needs it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { batchMatMulWasmConfig } from "./batch_mat_mul.ts";
 * assert.equal(batchMatMulWasmConfig.kernelName, "BatchMatMul");
 * assert.throws(() => batchMatMulWasmConfig.make(undefined), /needs the backend's own kernel/);
 * ```
 */
export const batchMatMulWasmConfig: WasmKernelConfig = {
  kernelName: "BatchMatMul",
  make: (o) => makeBatchMatMulWasm(o),
};
