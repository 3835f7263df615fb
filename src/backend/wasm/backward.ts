/**
 * Backward-pass kernels for the wasm backend, where tfjs's own ops cost most of a training step
 * outside the convolutions: broadcasting binary ops run a slow generic loop, and a sum over the
 * outer axes transposes first.
 *
 * - {@linkcode CHANNEL_SUM_KERNEL}: Σ over every axis but the last, [..., C] → [C] (bias and norm
 *   gain gradients), one pass over the heap.
 * - {@linkcode GROUP_NORM_GRAD_KERNEL}: the whole GroupNorm (+ SiLU) gradient in two passes: dx,
 *   dγ and dβ from dy and what the forward pass saved.
 *
 * {@linkcode channelSum} and {@linkcode groupNormGrad} run them on wasm and return null elsewhere,
 * where the caller's tfjs ops are the implementation.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { asWasmBackend, type KernelArgs } from "./internals.ts";

/** Registered name of the channel-sum kernel. */
export const CHANNEL_SUM_KERNEL = "EmojiDiffusionChannelSum";
/** Registered name of the GroupNorm gradient kernel. */
export const GROUP_NORM_GRAD_KERNEL = "EmojiDiffusionGroupNormGrad";

function f32(backend: ReturnType<typeof asWasmBackend>, t: tf.TensorInfo): Float32Array {
  if (t.dtype !== "float32") throw new Error(`wasm backward kernels need float32, got ${t.dtype}`);
  return backend.typedArrayFromHeap(t) as Float32Array;
}

/** Σ over all axes but the last: [..., C] → [C], accumulated in float64 per channel. */
export function channelSumWasm(args: KernelArgs): tf.TensorInfo {
  const backend = asWasmBackend(args.backend);
  const { x } = args.inputs;
  const c = x.shape[x.shape.length - 1] ?? 1;
  const out = backend.makeOutput([c], "float32");
  const src = f32(backend, x), dst = f32(backend, out);
  const acc = new Float64Array(c);
  for (let i = 0; i < src.length; i += c) for (let j = 0; j < c; j++) acc[j] += src[i + j];
  dst.set(acc);
  return out;
}

/**
 * GroupNorm (+ SiLU) backward. Inputs: `dy`, `xhat` [B, N, G, Cg]; `rstd` [B, 1, G, 1]; `gamma`
 * [G·Cg]; with the SiLU also `z` (the affine output) and `sig` (σ(z)), [B, N, G, Cg]. Outputs dx
 * [B, N, G, Cg], dγ and dβ [G·Cg]. With dz = dy·σ(z)(1 + z(1 − σ(z))) (dy without the SiLU) and
 * dx̂ = γ·dz: dγ = Σ dz·x̂, dβ = Σ dz, dx = rstd·(dx̂ − mean(dx̂) − x̂·mean(dx̂·x̂)) per (b, group).
 */
export function groupNormGradWasm(args: KernelArgs): tf.TensorInfo[] {
  const backend = asWasmBackend(args.backend);
  const { dy, xhat, rstd, gamma, z, sig } = args.inputs;
  const [bsz, n, groups, cg] = xhat.shape;
  const c = groups * cg;
  const dxOut = backend.makeOutput(xhat.shape, "float32");
  const dgOut = backend.makeOutput([c], "float32");
  const dbOut = backend.makeOutput([c], "float32");
  const dyA = f32(backend, dy), xh = f32(backend, xhat), rs = f32(backend, rstd), ga = f32(backend, gamma);
  const zA = z ? f32(backend, z) : null, sA = sig ? f32(backend, sig) : null;
  const dx = f32(backend, dxOut);
  const dGamma = new Float64Array(c), dBeta = new Float64Array(c);
  const s1 = new Float64Array(groups), s2 = new Float64Array(groups);
  const count = n * cg;
  for (let b = 0; b < bsz; b++) {
    s1.fill(0);
    s2.fill(0);
    const base = b * n * c;
    // pass 1: dx̂ into dx, the group sums and the parameter gradients
    for (let i = 0; i < n; i++) {
      const row = base + i * c;
      for (let g = 0, j = 0; g < groups; g++) {
        let a1 = 0, a2 = 0;
        for (let k = 0; k < cg; k++, j++) {
          const at = row + j;
          let dz = dyA[at];
          if (zA && sA) {
            const s = sA[at];
            dz *= s * (1 + zA[at] * (1 - s));
          }
          const xv = xh[at];
          dGamma[j] += dz * xv;
          dBeta[j] += dz;
          const d = Math.fround(dz * ga[j]);
          dx[at] = d;
          a1 += d;
          a2 += d * xv;
        }
        s1[g] += a1;
        s2[g] += a2;
      }
    }
    // pass 2: dx = rstd·(dx̂ − mean(dx̂) − x̂·mean(dx̂·x̂))
    for (let i = 0; i < n; i++) {
      const row = base + i * c;
      for (let g = 0, j = 0; g < groups; g++) {
        const r = rs[b * groups + g], m1 = s1[g] / count, m2 = s2[g] / count;
        for (let k = 0; k < cg; k++, j++) {
          const at = row + j;
          dx[at] = r * (dx[at] - m1 - xh[at] * m2);
        }
      }
    }
  }
  f32(backend, dgOut).set(dGamma);
  f32(backend, dbOut).set(dBeta);
  return [dxOut, dgOut, dbOut];
}

function register(kernelName: string, kernelFunc: (args: KernelArgs) => tf.TensorInfo | tf.TensorInfo[]) {
  if (tf.getKernel(kernelName, "wasm")) return;
  tf.registerKernel({ kernelName, backendName: "wasm", kernelFunc: kernelFunc as unknown as tf.KernelFunc });
}

/** Whether the fast path is on: the wasm backend, and not switched off for a comparison. */
function active(): boolean {
  return tf.getBackend() === "wasm" && !disabled;
}

let disabled = false;

/**
 * Switches the wasm backward kernels off (`false`) or back on: the reference path for tests and
 * benchmarks of the unoptimised backward pass.
 */
export function setWasmBackwardKernels(on: boolean): void {
  disabled = !on;
}

/**
 * Σ of `x` over every axis but the last on wasm ([..., C] → [C]); null on other backends.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import "@tensorflow/tfjs-backend-cpu";
 * import { channelSum } from "./backward.ts";
 * await tf.setBackend("cpu");
 * assert.equal(channelSum(tf.ones([2, 3])), null); // the caller's ops do it off wasm
 * ```
 */
export function channelSum(x: tf.Tensor): tf.Tensor1D | null {
  if (!active() || x.dtype !== "float32") return null;
  register(CHANNEL_SUM_KERNEL, channelSumWasm);
  return tf.engine().runKernel(CHANNEL_SUM_KERNEL, { x }, {}) as tf.Tensor1D;
}

/**
 * The GroupNorm (+ SiLU when `z` and `sig` are given) gradient on wasm as `[dx, dγ, dβ]`, shapes as
 * in {@linkcode groupNormGradWasm}; null on other backends.
 */
export function groupNormGrad(
  dy: tf.Tensor,
  xhat: tf.Tensor,
  rstd: tf.Tensor,
  gamma: tf.Tensor,
  z?: tf.Tensor,
  sig?: tf.Tensor,
): [tf.Tensor, tf.Tensor1D, tf.Tensor1D] | null {
  if (!active() || xhat.shape.length !== 4) return null;
  register(GROUP_NORM_GRAD_KERNEL, groupNormGradWasm);
  const inputs: tf.NamedTensorMap = { dy, xhat, rstd, gamma };
  if (z && sig) Object.assign(inputs, { z, sig });
  return tf.engine().runKernel(GROUP_NORM_GRAD_KERNEL, inputs, {}) as [tf.Tensor, tf.Tensor1D, tf.Tensor1D];
}
