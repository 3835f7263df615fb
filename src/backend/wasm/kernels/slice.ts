/**
 * `Slice` for the wasm backend as a heap-to-heap copy (the shipped one first copies the whole input
 * out of the wasm heap on every call). Concat's gradient runs through it.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import {
  asWasmBackend,
  type KernelArgs,
  sliceHeap,
  stringsToOriginal,
  type WasmKernelConfig,
  type WasmKernelFunc,
} from "../internals.ts";

/** Makes the Slice kernel; string tensors go to `original`. */
export function makeSliceWasm(original: WasmKernelFunc | undefined): WasmKernelFunc {
  return function sliceWasm(args: KernelArgs): tf.TensorInfo | tf.TensorInfo[] {
    const { x } = args.inputs;
    if (x.dtype === "string") return stringsToOriginal("Slice", original, args);
    const backend = asWasmBackend(args.backend);
    const { begin, size } = args.attrs as unknown as { begin: number | number[]; size: number | number[] };
    const [begin_, size_] = tf.slice_util.parseSliceParams(x as tf.Tensor, begin, size);
    tf.slice_util.assertParamsValid(x as tf.Tensor, begin_, size_);
    return sliceHeap(backend, x, begin_, size_);
  };
}

/**
 * The registry entry of {@linkcode makeSliceWasm}: string tensors go to the backend's own kernel.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sliceWasmConfig } from "./slice.ts";
 * assert.equal(sliceWasmConfig.kernelName, "Slice");
 * const x = { dataId: {}, shape: [1], dtype: "string" as const };
 * const slice = sliceWasmConfig.make(undefined); // no original: string tensors are refused
 * assert.throws(() => slice({ inputs: { x }, backend: null, attrs: {} }), /string tensors/);
 * ```
 */
export const sliceWasmConfig: WasmKernelConfig = {
  kernelName: "Slice",
  make: (o) => makeSliceWasm(o),
};
