/**
 * The native kernels (system BLAS through FFI) against the wasm kernels, on random shapes: odd sizes,
 * batch 1, 1×1, 2×2 and 3×3 filters, strides, padding, channels not a multiple of 4. Values agree to
 * 1e-4 relative to the largest magnitude of the result. Skipped, saying so, where no BLAS is installed.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../src/backend/select.ts";
import { attentionWasmFused } from "../src/backend/wasm/attention.ts";
import {
  activeBlas,
  type Blas,
  BlasUnavailableError,
  openBlas,
  registerNativeKernels,
  unregisterNativeKernels,
} from "../src/backend/native/mod.ts";
import { Rng } from "../src/core/rng.ts";

let blas: Blas | null = null;
try {
  blas = openBlas();
} catch (e) {
  if (!(e instanceof BlasUnavailableError)) throw e;
  console.error(`native kernels: skipped (${e.message})`);
}

const ignore = blas === null;

function random(shape: number[], seed: number): tf.Tensor {
  const rng = new Rng(seed);
  const v = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < v.length; i++) v[i] = rng.uniform() * 2 - 1;
  return tf.tensor(v, shape);
}

/** Runs `f` on plain wasm, then with the native kernels; returns both results' values. */
async function onBoth(f: () => tf.Tensor | tf.Tensor[]): Promise<[Float32Array[], Float32Array[]]> {
  await initBackend("wasm", { log: null });
  const read = async () => {
    const out = tf.tidy(f);
    const list = Array.isArray(out) ? out : [out];
    const values = await Promise.all(list.map(async (t) => (await t.data()) as Float32Array));
    tf.dispose(list);
    return values;
  };
  unregisterNativeKernels();
  const wasm = await read();
  registerNativeKernels(blas!);
  try {
    return [wasm, await read()];
  } finally {
    unregisterNativeKernels();
  }
}

function assertClose(actual: Float32Array[], expected: Float32Array[], what: string): void {
  assert.equal(actual.length, expected.length);
  for (let t = 0; t < expected.length; t++) {
    const e = expected[t], a = actual[t];
    assert.equal(a.length, e.length, `${what}: output ${t} length`);
    let scale = 0, worst = 0;
    for (let i = 0; i < e.length; i++) scale = Math.max(scale, Math.abs(e[i]));
    for (let i = 0; i < e.length; i++) worst = Math.max(worst, Math.abs(a[i] - e[i]));
    assert.ok(
      worst <= 1e-4 * Math.max(scale, 1e-6),
      `${what}: output ${t} differs by ${worst} (scale ${scale})`,
    );
  }
}

type Pad = "same" | "valid" | [[number, number], [number, number], [number, number], [number, number]];
const CONVS: { x: number[]; f: number[]; stride: number; pad: Pad }[] = [
  { x: [2, 9, 7, 3], f: [3, 3, 3, 5], stride: 1, pad: "same" },
  { x: [1, 8, 8, 6], f: [3, 3, 6, 7], stride: 2, pad: [[0, 0], [1, 1], [1, 1], [0, 0]] },
  { x: [3, 5, 6, 5], f: [1, 1, 5, 9], stride: 1, pad: "valid" },
  { x: [1, 7, 9, 4], f: [3, 3, 4, 3], stride: 1, pad: "valid" },
  { x: [2, 6, 6, 5], f: [2, 2, 5, 3], stride: 2, pad: "valid" },
  { x: [1, 11, 13, 2], f: [3, 3, 2, 11], stride: 2, pad: "same" },
  { x: [4, 32, 32, 3], f: [3, 3, 3, 32], stride: 1, pad: "same" },
  { x: [2, 16, 16, 33], f: [3, 3, 33, 17], stride: 1, pad: "same" },
];

for (const c of CONVS) {
  const name = `x [${c.x}] filter [${c.f}] stride ${c.stride} pad ${JSON.stringify(c.pad)}`;
  Deno.test({
    name: `native Conv2D, FusedConv2D and both conv gradients match wasm: ${name}`,
    ignore,
    fn: async () => {
      const [wasm, native] = await onBoth(() => {
        const x = random(c.x, 1) as tf.Tensor4D, w = random(c.f, 2) as tf.Tensor4D;
        const b = random([c.f[3]], 3) as tf.Tensor1D;
        const y = tf.conv2d(x, w, c.stride, c.pad);
        const fused = tf.fused.conv2d({ x, filter: w, strides: c.stride, pad: c.pad, bias: b });
        const r = random(y.shape, 4);
        const [dx, dw] = tf.grads((xi: tf.Tensor, wi: tf.Tensor) =>
          tf.sum(tf.mul(tf.conv2d(xi as tf.Tensor4D, wi as tf.Tensor4D, c.stride, c.pad), r))
        )([x, w]);
        return [y, fused, dx, dw];
      });
      assertClose(native, wasm, name);
    },
  });
}

const MATMULS: { a: number[]; b: number[]; ta: boolean; tb: boolean }[] = [
  { a: [7, 5], b: [5, 3], ta: false, tb: false },
  { a: [5, 7], b: [5, 3], ta: true, tb: false },
  { a: [7, 5], b: [3, 5], ta: false, tb: true },
  { a: [5, 7], b: [3, 5], ta: true, tb: true },
  { a: [3, 9, 6], b: [6, 4], ta: false, tb: false },
  { a: [3, 9, 6], b: [3, 6, 4], ta: false, tb: false },
  { a: [2, 6, 9], b: [1, 4, 6], ta: true, tb: true },
  { a: [1, 64, 33], b: [4, 64, 17], ta: true, tb: false },
  { a: [2, 3, 5, 7], b: [3, 7, 2], ta: false, tb: false },
];

for (const m of MATMULS) {
  const name = `a [${m.a}]${m.ta ? "ᵀ" : ""} b [${m.b}]${m.tb ? "ᵀ" : ""}`;
  Deno.test({
    name: `native BatchMatMul matches wasm: ${name}`,
    ignore,
    fn: async () => {
      const [wasm, native] = await onBoth(() => tf.matMul(random(m.a, 5), random(m.b, 6), m.ta, m.tb));
      assertClose(native, wasm, name);
    },
  });
}

Deno.test({
  name: "native attention kernel matches the wasm one",
  ignore,
  fn: async () => {
    const [wasm, native] = await onBoth(() =>
      attentionWasmFused(random([3, 17, 3 * 10], 7) as tf.Tensor3D, 0.3)
    );
    assertClose(native, wasm, "attention");
  },
});

Deno.test({
  name: "registerNativeKernels / unregisterNativeKernels switch the kernels and leak no tensors",
  ignore,
  fn: async () => {
    await initBackend("wasm", { log: null });
    const before = tf.memory().numTensors;
    registerNativeKernels(blas!);
    assert.equal(activeBlas(), blas);
    const y = tf.tidy(() =>
      tf.conv2d(
        random([1, 5, 5, 2], 8) as tf.Tensor4D,
        random([3, 3, 2, 3], 9) as tf.Tensor4D,
        1,
        "same",
      )
    );
    await y.data();
    tf.dispose(y);
    unregisterNativeKernels();
    assert.equal(activeBlas(), null);
    assert.equal(tf.memory().numTensors, before);
  },
});
