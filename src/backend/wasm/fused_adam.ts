/**
 * One wasm kernel for a whole optimizer step: global-norm clipping, Adam with bias correction and
 * the learning rate of the step, and the EMA of the weights, over every parameter at once, guarded
 * by the loss: when the loss or the gradient norm is not finite nothing changes.
 *
 * Inputs `p0…`, `g0…` (parameters and their gradients, any shapes), `m`, `v` and optionally `ema`
 * (flat: the parameters back to back in input order) and `loss` (a scalar). Outputs: the new
 * parameters (same shapes), the new flat `m`, `v` (and `ema` when given), and
 * `[gradNorm, applied (1 or 0), loss]`. When nothing is applied the outputs share the inputs' data.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { asWasmBackend, type KernelArgs, type WasmBackend } from "./internals.ts";

/** The kernel's registered name. */
export const FUSED_ADAM_KERNEL = "EmojiDiffusionFusedAdamEma";

/** Attributes of {@linkcode FUSED_ADAM_KERNEL}: what the step's schedule fixes in JavaScript. */
export interface FusedAdamAttrs {
  /** Parameter count (the inputs are `p0`…`p{n−1}` and `g0`…`g{n−1}`). */
  n: number;
  /** β1. */
  beta1: number;
  /** β2. */
  beta2: number;
  /** ε. */
  epsilon: number;
  /** Learning rate over the first moment's bias correction, lr / (1 − β1^t). */
  lrOverC1: number;
  /** The second moment's bias correction, 1 − β2^t. */
  c2: number;
  /** Global-norm clip (0 = off). */
  clip: number;
  /** EMA decay of this step. */
  emaDecay: number;
}

function shared(backend: WasmBackend, t: tf.TensorInfo): tf.TensorInfo {
  backend.incRef(t.dataId);
  return { dataId: t.dataId, shape: t.shape, dtype: t.dtype };
}

// The loops live in small functions of typed arrays only: the kernel runs once per training step,
// and V8 optimises a function it calls often much sooner than one long loop in a rarely called one.

/** Σ x² in float64. */
function sumSquares(x: Float32Array): number {
  let s = 0;
  for (let j = 0; j < x.length; j++) s += x[j] * x[j];
  return s;
}

/** Adam on one parameter: p1 = p0 − lr/c1·m / (√(v/c2) + ε), with m and v at `base` in the flat moments. */
function adamSpan(
  p0: Float32Array,
  g: Float32Array,
  p1: Float32Array,
  m0: Float32Array,
  v0: Float32Array,
  m1: Float32Array,
  v1: Float32Array,
  base: number,
  scale: number,
  b1: number,
  b2: number,
  lrc1: number,
  c2: number,
  eps: number,
): void {
  const k1 = 1 - b1, k2 = 1 - b2;
  for (let j = 0, k = base; j < p0.length; j++, k++) {
    const gj = g[j] * scale;
    m1[k] = m0[k] * b1 + gj * k1;
    v1[k] = v0[k] * b2 + gj * gj * k2;
    // from the stored (float32) moments, as the reference computes it
    p1[j] = p0[j] - (m1[k] * lrc1) / (Math.sqrt(v1[k] / c2) + eps);
  }
}

/** e1 = d·e0 + (1 − d)·p over one parameter at `base` in the flat average. */
function emaSpan(e0: Float32Array, e1: Float32Array, p: Float32Array, base: number, d: number): void {
  const kd = 1 - d;
  for (let j = 0, k = base; j < p.length; j++, k++) e1[k] = e0[k] * d + p[j] * kd;
}

/** The kernel function (float32 throughout; sums of squares in float64). */
export function fusedAdamWasm(args: KernelArgs): tf.TensorInfo[] {
  const backend = asWasmBackend(args.backend);
  const a = args.attrs as unknown as FusedAdamAttrs;
  const { inputs } = args;
  const ps = Array.from({ length: a.n }, (_, i) => inputs[`p${i}`]);
  const gs = Array.from({ length: a.n }, (_, i) => inputs[`g${i}`]);
  const { m, v, ema, loss } = inputs;
  const flats = ema ? [m, v, ema] : [m, v];
  for (const t of [...ps, ...gs, ...flats, loss]) {
    if (!t || t.dtype !== "float32") {
      throw new Error(`wasm ${FUSED_ADAM_KERNEL}: every input must be float32`);
    }
  }
  let total = 0;
  for (let i = 0; i < a.n; i++) {
    const size = tf.util.sizeFromShape(ps[i].shape);
    if (tf.util.sizeFromShape(gs[i].shape) !== size) {
      throw new Error(
        `wasm ${FUSED_ADAM_KERNEL}: gradient ${i} has shape [${gs[i].shape}], not [${ps[i].shape}]`,
      );
    }
    total += size;
  }
  for (const t of flats) {
    if (tf.util.sizeFromShape(t.shape) !== total) {
      throw new Error(`wasm ${FUSED_ADAM_KERNEL}: flat state has ${t.shape} elements, parameters ${total}`);
    }
  }
  const heap = (t: tf.TensorInfo) => backend.typedArrayFromHeap(t) as Float32Array;
  let sumSq = 0;
  for (const g of gs) sumSq += sumSquares(heap(g));
  const norm = Math.sqrt(sumSq);
  const lossValue = heap(loss)[0];
  const ok = Number.isFinite(lossValue) && Number.isFinite(norm);
  const status = backend.makeOutput([3], "float32");
  if (!ok) {
    heap(status).set([norm, 0, lossValue]);
    return [...[...ps, ...flats].map((t) => shared(backend, t)), status];
  }
  // Allocate every output before taking heap views: an allocation may grow (and move) the heap.
  const pOut = ps.map((p) => backend.makeOutput(p.shape, "float32"));
  const mOut = backend.makeOutput(m.shape, "float32");
  const vOut = backend.makeOutput(v.shape, "float32");
  const eOut = ema ? backend.makeOutput(ema.shape, "float32") : null;
  heap(status).set([norm, 1, lossValue]);
  const scale = a.clip > 0 ? Math.fround(a.clip / Math.max(norm, a.clip)) : 1;
  const b1 = a.beta1, b2 = a.beta2, eps = a.epsilon, d = a.emaDecay;
  const lrc1 = a.lrOverC1, c2 = a.c2;
  const m0 = heap(m), v0 = heap(v), m1 = heap(mOut), v1 = heap(vOut);
  const e0 = ema ? heap(ema) : null, e1 = eOut ? heap(eOut) : null;
  let base = 0;
  for (let i = 0; i < a.n; i++) {
    const p0 = heap(ps[i]), p1 = heap(pOut[i]);
    adamSpan(p0, heap(gs[i]), p1, m0, v0, m1, v1, base, scale, b1, b2, lrc1, c2, eps);
    if (e0 && e1) emaSpan(e0, e1, p1, base, d);
    base += p0.length;
  }
  return [...pOut, mOut, vOut, ...(eOut ? [eOut] : []), status];
}

/** Registers {@linkcode FUSED_ADAM_KERNEL} for the wasm backend (idempotent). */
export function registerFusedAdamWasm(): void {
  if (tf.getKernel(FUSED_ADAM_KERNEL, "wasm")) return;
  tf.registerKernel({
    kernelName: FUSED_ADAM_KERNEL,
    backendName: "wasm",
    kernelFunc: fusedAdamWasm as unknown as tf.KernelFunc,
  });
}
