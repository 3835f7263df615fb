/**
 * `SplitV` for the wasm backend as heap-to-heap copies (the shipped one first copies the whole input
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

/** Makes the SplitV kernel; string tensors go to `original`. */
export function makeSplitVWasm(original: WasmKernelFunc | undefined): WasmKernelFunc {
  return function splitVWasm(args: KernelArgs): tf.TensorInfo | tf.TensorInfo[] {
    const { x } = args.inputs;
    if (x.dtype === "string") return stringsToOriginal("SplitV", original, args);
    const backend = asWasmBackend(args.backend);
    const { numOrSizeSplits, axis } = args.attrs as unknown as {
      numOrSizeSplits: number | number[];
      axis: number | number[];
    };
    const $axis = tf.util.parseAxisParam(axis, x.shape)[0];
    const splitSizes = tf.backend_util.prepareSplitSize(x, numOrSizeSplits, $axis);
    const begin = new Array<number>(x.shape.length).fill(0);
    return splitSizes.map((s) => {
      const size = x.shape.slice();
      size[$axis] = s;
      const part = sliceHeap(backend, x, begin.slice(), size);
      begin[$axis] += s;
      return part;
    });
  };
}

/**
 * The registry entry of {@linkcode makeSplitVWasm}: string tensors go to the backend's own kernel.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { splitVWasmConfig } from "./split_v.ts";
 * assert.equal(splitVWasmConfig.kernelName, "SplitV");
 * assert.equal(splitVWasmConfig.make(undefined).name, "splitVWasm");
 * ```
 */
export const splitVWasmConfig: WasmKernelConfig = {
  kernelName: "SplitV",
  make: (o) => makeSplitVWasm(o),
};
