/**
 * `OneHot` for the wasm backend (the shipped one returns zeros for float32).
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs-core";
import { asWasmBackend, type KernelArgs, type WasmKernelConfig } from "../internals.ts";

/** OneHot for any output dtype, a plain loop over the wasm heap. */
export function oneHotWasm(args: KernelArgs): tf.TensorInfo {
  const backend = asWasmBackend(args.backend);
  const { indices } = args.inputs;
  const { depth, onValue, offValue, dtype } = args.attrs as unknown as {
    depth: number;
    onValue: number;
    offValue: number;
    dtype: tf.DataType;
  };
  if (indices.dtype !== "int32") throw new Error(`wasm OneHot: indices must be int32, got ${indices.dtype}`);
  if (dtype === "string" || dtype === "complex64") throw new Error(`wasm OneHot: unsupported dtype ${dtype}`);
  const out = backend.makeOutput([...indices.shape, depth], dtype);
  const dst = backend.typedArrayFromHeap(out);
  const idx = backend.typedArrayFromHeap(indices);
  dst.fill(offValue);
  for (let i = 0; i < idx.length; i++) {
    const k = idx[i];
    if (k >= 0 && k < depth) dst[i * depth + k] = onValue;
  }
  return out;
}

/**
 * The registry entry of {@linkcode oneHotWasm}, which needs no original kernel.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { oneHotWasm, oneHotWasmConfig } from "./one_hot.ts";
 * assert.equal(oneHotWasmConfig.kernelName, "OneHot");
 * assert.equal(oneHotWasmConfig.make(undefined), oneHotWasm);
 * ```
 */
export const oneHotWasmConfig: WasmKernelConfig = {
  kernelName: "OneHot",
  make: () => oneHotWasm,
};
