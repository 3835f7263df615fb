/**
 * `DepthToSpace` for the wasm backend (the shipped one takes ~40 ms for 2M elements) as one heap pass,
 * and its gradient, which tfjs-core does not register for any backend.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import {
  asWasmBackend,
  blocksToSpace,
  type KernelArgs,
  type WasmKernelConfig,
  type WasmKernelFunc,
} from "../internals.ts";

/**
 * Makes the DepthToSpace kernel: NHWC float32/int32 as one heap pass (the shipped kernel takes ~40 ms
 * for 2M elements); NCHW goes to `original`.
 */
export function makeDepthToSpaceWasm(original: WasmKernelFunc | undefined): WasmKernelFunc {
  return function depthToSpaceWasm(args: KernelArgs): tf.TensorInfo | tf.TensorInfo[] {
    const { x } = args.inputs;
    const { blockSize, dataFormat } = args.attrs as unknown as {
      blockSize: number;
      dataFormat: "NHWC" | "NCHW";
    };
    if (dataFormat !== "NHWC" || x.shape.length !== 4 || x.dtype === "string") {
      if (original) return original(args);
      throw new Error(
        `wasm DepthToSpace supports only NHWC rank-4 tensors here, got ${dataFormat} [${x.shape}]`,
      );
    }
    return blocksToSpace(asWasmBackend(args.backend), x, blockSize, blockSize);
  };
}

/**
 * The gradient of DepthToSpace (tfjs-core 4.22.0 registers none, on any backend): the inverse
 * rearrangement, space-to-depth, built from reshape and transpose.
 */
export const depthToSpaceGradConfig: tf.GradConfig = {
  kernelName: "DepthToSpace",
  gradFunc: (dy: tf.Tensor | tf.Tensor[], _saved: tf.Tensor[], attrs?: tf.NamedAttrMap) => {
    const g = dy as tf.Tensor4D;
    const { blockSize: bs, dataFormat } = attrs as unknown as {
      blockSize: number;
      dataFormat: "NHWC" | "NCHW";
    };
    return {
      x: () => {
        if (dataFormat === "NCHW") {
          const [n, c, hb, wb] = g.shape;
          const h = hb / bs, w = wb / bs;
          const t = tf.transpose(tf.reshape(g, [n, c, h, bs, w, bs]), [0, 3, 5, 1, 2, 4]);
          return tf.reshape(t, [n, bs * bs * c, h, w]);
        }
        const [n, hb, wb, c] = g.shape;
        const h = hb / bs, w = wb / bs;
        const t = tf.transpose(tf.reshape(g, [n, h, bs, w, bs, c]), [0, 1, 3, 2, 4, 5]);
        return tf.reshape(t, [n, h, w, bs * bs * c]);
      },
    };
  },
};

/**
 * The registry entry of {@linkcode makeDepthToSpaceWasm}: NCHW goes to the backend's own kernel.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { depthToSpaceWasmConfig } from "./depth_to_space.ts";
 * assert.equal(depthToSpaceWasmConfig.kernelName, "DepthToSpace");
 * assert.equal(depthToSpaceWasmConfig.make(undefined).name, "depthToSpaceWasm");
 * ```
 */
export const depthToSpaceWasmConfig: WasmKernelConfig = {
  kernelName: "DepthToSpace",
  make: (o) => makeDepthToSpaceWasm(o),
};
