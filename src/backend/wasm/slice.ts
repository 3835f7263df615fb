/**
 * Slice and SplitV for the wasm backend that copy heap-to-heap (the shipped ones first copy the whole
 * input out of the wasm heap on every call). Concat's gradient runs through these.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { asWasmBackend, copyBox, type KernelArgs, type WasmKernelFunc } from "./internals.ts";

function sliceHeap(
  backend: ReturnType<typeof asWasmBackend>,
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

/** Makes the Slice kernel; string tensors go to `original`. */
export function makeSliceWasm(original: WasmKernelFunc | undefined): WasmKernelFunc {
  return function sliceWasm(args: KernelArgs): tf.TensorInfo | tf.TensorInfo[] {
    const { x } = args.inputs;
    if (x.dtype === "string") {
      if (original) return original(args);
      throw new Error("wasm Slice: string tensors are not supported");
    }
    const backend = asWasmBackend(args.backend);
    const { begin, size } = args.attrs as unknown as { begin: number | number[]; size: number | number[] };
    const [begin_, size_] = tf.slice_util.parseSliceParams(x as tf.Tensor, begin, size);
    tf.slice_util.assertParamsValid(x as tf.Tensor, begin_, size_);
    return sliceHeap(backend, x, begin_, size_);
  };
}

/** Makes the SplitV kernel; string tensors go to `original`. */
export function makeSplitVWasm(original: WasmKernelFunc | undefined): WasmKernelFunc {
  return function splitVWasm(args: KernelArgs): tf.TensorInfo | tf.TensorInfo[] {
    const { x } = args.inputs;
    if (x.dtype === "string") {
      if (original) return original(args);
      throw new Error("wasm SplitV: string tensors are not supported");
    }
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
