/**
 * `BatchMatMul` on the system BLAS: every transpose combination in the product itself (no copies), a
 * shared right operand folded into one product, broadcast batches pair by pair.
 *
 * @module
 */
import {
  asWasmBackend,
  batchMatMulShape,
  type KernelArgs,
  type WasmKernelFunc,
} from "../../wasm/internals.ts";
import type { Blas } from "../blas.ts";
import type { NativeKernelConfig } from "../helpers.ts";

/**
 * Makes the `BatchMatMul` kernel for `blas`. Non-float32 inputs and empty products go to `original`,
 * the kernel it replaces.
 */
export function makeBatchMatMulNative(blas: Blas, original: WasmKernelFunc | undefined): WasmKernelFunc {
  return function batchMatMulNative(args: KernelArgs) {
    const { a, b } = args.inputs;
    const { transposeA, transposeB } = args.attrs as unknown as { transposeA: boolean; transposeB: boolean };
    const fallback = () => {
      if (!original) {
        throw new Error("native BatchMatMul: this input needs the wasm kernel, which is missing");
      }
      return original(args);
    };
    if (a.dtype !== "float32" || b.dtype !== "float32" || a.shape.length < 2 || b.shape.length < 2) {
      return fallback();
    }
    const shape = batchMatMulShape(a.shape, b.shape, transposeA, transposeB);
    if (!shape || shape.m === 0 || shape.n === 0 || shape.k === 0) return fallback(); // its errors and empty results
    const { m, k, n, outerA, outerB, outer, batch, batchA, batchB } = shape;
    const backend = asWasmBackend(args.backend);
    const out = backend.makeOutput([...outer, m, n], "float32");
    if (batch === 0) return out;
    const o = backend.typedArrayFromHeap(out) as Float32Array;
    const heap = new Float32Array(o.buffer);
    const oOff = o.byteOffset / 4;
    const aOff = (backend.typedArrayFromHeap(a) as Float32Array).byteOffset / 4;
    const bOff = (backend.typedArrayFromHeap(b) as Float32Array).byteOffset / 4;
    const lda = transposeA ? m : k;
    const ldb = transposeB ? k : n;
    if (batchB === 1 && !transposeA && batchA === batch) {
      // A shared right operand: the left batch is one tall matrix.
      blas.sgemm(
        false,
        transposeB,
        batch * m,
        n,
        k,
        1,
        heap.subarray(aOff),
        lda,
        heap.subarray(bOff),
        ldb,
        0,
        heap.subarray(oOff),
        n,
      );
      return out;
    }
    const rank = outer.length;
    const shapeA = [...new Array<number>(rank - outerA.length).fill(1), ...outerA];
    const shapeB = [...new Array<number>(rank - outerB.length).fill(1), ...outerB];
    const idx = new Array<number>(rank).fill(0);
    for (let j = 0; j < batch; j++) {
      let ia = 0, ib = 0;
      for (let d = 0; d < rank; d++) {
        ia = ia * shapeA[d] + (shapeA[d] === 1 ? 0 : idx[d]);
        ib = ib * shapeB[d] + (shapeB[d] === 1 ? 0 : idx[d]);
      }
      blas.sgemm(
        transposeA,
        transposeB,
        m,
        n,
        k,
        1,
        heap.subarray(aOff + ia * m * k),
        lda,
        heap.subarray(bOff + ib * k * n),
        ldb,
        0,
        heap.subarray(oOff + j * m * n),
        n,
      );
      for (let d = rank - 1; d >= 0; d--) {
        if (++idx[d] < outer[d]) break;
        idx[d] = 0;
      }
    }
    return out;
  };
}

/**
 * The registry entry of {@linkcode makeBatchMatMulNative}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { Blas } from "../blas.ts";
 * import { batchMatMulNativeConfig } from "./batch_mat_mul.ts";
 * assert.equal(batchMatMulNativeConfig.kernelName, "BatchMatMul");
 * assert.equal(batchMatMulNativeConfig.make({} as Blas, undefined).name, "batchMatMulNative");
 * ```
 */
export const batchMatMulNativeConfig: NativeKernelConfig = {
  kernelName: "BatchMatMul",
  make: makeBatchMatMulNative,
};
