// The wasm training kernels must match the cpu backend, values and gradients, on random inputs.
// `@tensorflow/tfjs` is imported for its side effect: it registers the gradients (tfjs-core registers none).
import "@tensorflow/tfjs";
import * as tf from "@tensorflow/tfjs-core";
import assert from "node:assert/strict";
import { initBackend } from "../src/backend/select.ts";
import {
  registerWasmTrainingKernels,
  unregisterWasmTrainingKernels,
  WASM_TRAINING_KERNELS,
} from "../src/backend/wasm/mod.ts";
import { asWasmBackend } from "../src/backend/wasm/internals.ts";
import { type ConvGeometry, geometryOf } from "../src/backend/wasm/conv_helpers.ts";
import {
  filterGradByConv,
  filterGradByShiftedGemm,
} from "../src/backend/wasm/kernels/conv2d_backprop_filter.ts";
import {
  inputGradByRotatedConv,
  inputGradBySubpixel,
} from "../src/backend/wasm/kernels/conv2d_backprop_input.ts";
import { Rng } from "../src/core/rng.ts";
import { enableWasmThreads } from "../src/backend/wasm_threads.ts";
import { getThreadsCount } from "@tensorflow/tfjs-backend-wasm";

const TOL = 1e-4;

function randomData(size: number, seed: number, lo = -1, hi = 1): Float32Array {
  const r = new Rng(seed);
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) out[i] = lo + (hi - lo) * r.uniform();
  return out;
}

interface Input {
  shape: number[];
  lo?: number;
  hi?: number;
}

interface Case {
  name: string;
  inputs: Input[];
  f: (...xs: tf.Tensor[]) => tf.Tensor;
  /** Skip the gradient check (e.g. integer outputs). */
  noGrad?: boolean;
}

/** Runs `c` on `backend`: its value and the gradients of sum(f(x) * w) for a fixed random w. */
async function evaluate(backend: string, c: Case, seed: number): Promise<Float32Array[]> {
  assert.ok(await tf.setBackend(backend), `backend ${backend} did not start`);
  const datas = c.inputs.map((inp, i) =>
    randomData(tf.util.sizeFromShape(inp.shape), seed + 17 * i, inp.lo ?? -1, inp.hi ?? 1)
  );
  const outs = tf.tidy(() => {
    const xs = c.inputs.map((inp, i) => tf.tensor(datas[i], inp.shape, "float32"));
    const y = c.f(...xs);
    if (c.noGrad) return [y];
    const w = tf.tensor(randomData(y.size, seed + 991), y.shape, "float32");
    const grads = tf.grads((...a: tf.Tensor[]) => tf.sum(tf.mul(c.f(...a), w)))(xs);
    return [y, ...grads];
  });
  const result = await Promise.all(outs.map(async (t) => new Float32Array(await t.data())));
  tf.dispose(outs);
  return result;
}

function relativeError(ref: Float32Array, got: Float32Array, what = ""): number {
  assert.equal(got.length, ref.length, `${what}: length mismatch`);
  let maxRef = 0;
  let maxDiff = 0;
  for (let i = 0; i < ref.length; i++) {
    assert.equal(Number.isNaN(got[i]), Number.isNaN(ref[i]), `NaN mismatch at ${i}: ${got[i]} vs ${ref[i]}`);
    maxRef = Math.max(maxRef, Math.abs(ref[i]));
    maxDiff = Math.max(maxDiff, Math.abs(ref[i] - got[i]));
  }
  return maxRef === 0 ? maxDiff : maxDiff / maxRef;
}

async function checkCases(cases: Case[]): Promise<void> {
  const before = tf.getBackend();
  try {
    for (const [k, c] of cases.entries()) {
      const seed = 1000 + 31 * k;
      const ref = await evaluate("cpu", c, seed);
      const got = await evaluate("wasm", c, seed);
      assert.equal(got.length, ref.length, `${c.name}: output count`);
      for (let i = 0; i < ref.length; i++) {
        const what = i === 0 ? "value" : `gradient of input ${i - 1}`;
        const err = relativeError(ref[i], got[i], `${c.name}: ${what}`);
        assert.ok(err <= TOL, `${c.name}: ${what} relative error ${err.toExponential(2)} > ${TOL}`);
        if (i > 0) {
          // A gradient that is identically zero on both backends would prove nothing.
          assert.ok(ref[i].some((v) => v !== 0), `${c.name}: ${what} is all zeros on cpu`);
        }
      }
    }
  } finally {
    if (before) await tf.setBackend(before);
  }
}

// WASM_THREADS=2 runs the whole file against the multi-threaded wasm build.
const THREADS = Number(Deno.env.get("WASM_THREADS") ?? "0");
if (THREADS) {
  const started = await enableWasmThreads({ threads: THREADS, ignoreLoad: true, log: null });
  if (started.threads !== THREADS) throw new Error(`WASM_THREADS=${THREADS}: ${started.reason}`);
}
await initBackend("cpu", { log: null });
await initBackend("wasm", { log: null });

const conv =
  (stride: number | [number, number], pad: "same" | "valid" | [number, number][]) =>
  (x: tf.Tensor, w: tf.Tensor) => tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, stride, pad as "same");

const EXPLICIT: [number, number][] = [[0, 0], [1, 1], [1, 1], [0, 0]];

Deno.test("wasm conv2d values and gradients match cpu", async () => {
  await checkCases([
    { name: "3x3 s1 same", inputs: [{ shape: [2, 8, 8, 3] }, { shape: [3, 3, 3, 4] }], f: conv(1, "same") },
    {
      name: "3x3 s1 same odd",
      inputs: [{ shape: [1, 5, 7, 2] }, { shape: [3, 3, 2, 3] }],
      f: conv(1, "same"),
    },
    { name: "3x3 s1 valid", inputs: [{ shape: [2, 6, 7, 3] }, { shape: [3, 3, 3, 2] }], f: conv(1, "valid") },
    { name: "3x3 s2 same", inputs: [{ shape: [2, 8, 8, 3] }, { shape: [3, 3, 3, 4] }], f: conv(2, "same") },
    {
      name: "3x3 s2 same odd",
      inputs: [{ shape: [2, 7, 9, 3] }, { shape: [3, 3, 3, 4] }],
      f: conv(2, "same"),
    },
    {
      name: "3x3 s2 explicit",
      inputs: [{ shape: [2, 8, 8, 3] }, { shape: [3, 3, 3, 4] }],
      f: conv(2, EXPLICIT),
    },
    {
      name: "3x3 s2 explicit odd",
      inputs: [{ shape: [1, 7, 7, 2] }, { shape: [3, 3, 2, 5] }],
      f: conv(2, EXPLICIT),
    },
    {
      name: "3x3 s2 explicit asymmetric",
      inputs: [{ shape: [2, 8, 8, 2] }, { shape: [3, 3, 2, 3] }],
      f: conv(2, [[0, 0], [0, 1], [2, 0], [0, 0]]),
    },
    {
      name: "3x3 s1 same 16x16",
      inputs: [{ shape: [2, 16, 16, 3] }, { shape: [3, 3, 3, 4] }],
      f: conv(1, "same"),
    },
    { name: "1x1", inputs: [{ shape: [2, 6, 6, 5] }, { shape: [1, 1, 5, 4] }], f: conv(1, "same") },
    { name: "1x1 s2", inputs: [{ shape: [2, 6, 6, 5] }, { shape: [1, 1, 5, 4] }], f: conv(2, "valid") },
    {
      name: "5x5 s2 valid",
      inputs: [{ shape: [2, 11, 9, 3] }, { shape: [5, 5, 3, 2] }],
      f: conv(2, "valid"),
    },
    {
      name: "3x3 s[2,1] same",
      inputs: [{ shape: [2, 8, 6, 3] }, { shape: [3, 3, 3, 4] }],
      f: conv([2, 1], "same"),
    },
    { name: "2x2 s2 valid", inputs: [{ shape: [2, 8, 8, 3] }, { shape: [2, 2, 3, 4] }], f: conv(2, "valid") },
    {
      name: "batch 1, 1 channel",
      inputs: [{ shape: [1, 6, 6, 1] }, { shape: [3, 3, 1, 1] }],
      f: conv(1, "same"),
    },
  ]);
});

Deno.test("each wasm conv gradient strategy matches the cpu kernels on its own", async () => {
  const before = tf.getBackend();
  const rk = (name: string, inputs: Record<string, tf.Tensor>, attrs: Record<string, unknown>) =>
    tf.engine().runKernel(name, inputs as never, attrs as never) as tf.Tensor;
  try {
    // [x shape, filter shape, stride, pad]: stride-1 cases run every strategy, others skip the stride-1 ones.
    const cases: [number[], number[], number, "same" | "valid"][] = [
      [[2, 9, 7, 3], [3, 3, 3, 4], 1, "same"],
      [[1, 12, 12, 2], [5, 5, 2, 3], 1, "valid"],
      [[2, 9, 8, 3], [3, 3, 3, 4], 2, "same"],
      [[1, 10, 10, 2], [4, 4, 2, 3], 3, "valid"],
    ];
    for (const [k, [xs, fs, s, pad]] of cases.entries()) {
      const label = `x [${xs}] filter [${fs}] stride ${s} ${pad}`;
      const info = tf.backend_util.computeConv2DInfo(xs as never, fs as never, s, 1, pad);
      const g: ConvGeometry = geometryOf(info);
      const xd = randomData(tf.util.sizeFromShape(xs), 300 + k);
      const fd = randomData(tf.util.sizeFromShape(fs), 400 + k);
      const dyd = randomData(tf.util.sizeFromShape(info.outShape), 500 + k);
      const attrs = { strides: s, pad, dataFormat: "NHWC" };
      await tf.setBackend("cpu");
      const refs = tf.tidy(() => [
        rk("Conv2DBackpropFilter", { x: tf.tensor(xd, xs), dy: tf.tensor(dyd, info.outShape) }, {
          ...attrs,
          filterShape: fs,
        }),
        rk("Conv2DBackpropInput", { dy: tf.tensor(dyd, info.outShape), filter: tf.tensor(fd, fs) }, {
          ...attrs,
          inputShape: xs,
        }),
      ]);
      const refW = new Float32Array(await refs[0].data());
      const refX = new Float32Array(await refs[1].data());
      tf.dispose(refs);
      await tf.setBackend("wasm");
      const backend = asWasmBackend(tf.engine().backend);
      const x = tf.tensor(xd, xs), f = tf.tensor(fd, fs), dy = tf.tensor(dyd, info.outShape);
      const strategies: [string, () => tf.TensorInfo, Float32Array][] = [
        ["filterGradByConv", () => filterGradByConv(backend, x, dy, g), refW],
        ["inputGradBySubpixel", () => inputGradBySubpixel(backend, dy, f, g), refX],
      ];
      if (s === 1) {
        strategies.push(["filterGradByShiftedGemm", () => filterGradByShiftedGemm(backend, x, dy, g), refW]);
        strategies.push(["inputGradByRotatedConv", () => inputGradByRotatedConv(backend, dy, f, g), refX]);
      }
      for (const [name, run, ref] of strategies) {
        const out = run();
        const got = new Float32Array(backend.typedArrayFromHeap(out));
        backend.disposeData(out.dataId);
        const err = relativeError(ref, got, `${name} ${label}`);
        assert.ok(err <= TOL, `${name} ${label}: relative error ${err.toExponential(2)} > ${TOL}`);
      }
      tf.dispose([x, f, dy]);
    }
  } finally {
    if (before) await tf.setBackend(before);
  }
});

const convT = (outShape: number[], stride: number, pad: "same" | "valid") => (x: tf.Tensor, w: tf.Tensor) =>
  tf.conv2dTranspose(
    x as tf.Tensor4D,
    w as tf.Tensor4D,
    outShape as [number, number, number, number],
    stride,
    pad,
  );

Deno.test("wasm conv2dTranspose values and gradients match cpu", async () => {
  await checkCases([
    {
      name: "2x2 s2 same (up-sampler)",
      inputs: [{ shape: [2, 4, 4, 6] }, { shape: [2, 2, 3, 6] }],
      f: convT([2, 8, 8, 3], 2, "same"),
    },
    {
      name: "2x2 s2 valid, non-square",
      inputs: [{ shape: [2, 3, 5, 4] }, { shape: [2, 2, 5, 4] }],
      f: convT([2, 6, 10, 5], 2, "valid"),
    },
    {
      name: "3x3 s2 same",
      inputs: [{ shape: [2, 4, 4, 5] }, { shape: [3, 3, 3, 5] }],
      f: convT([2, 8, 8, 3], 2, "same"),
    },
    {
      name: "3x3 s1 same",
      inputs: [{ shape: [2, 5, 5, 4] }, { shape: [3, 3, 3, 4] }],
      f: convT([2, 5, 5, 3], 1, "same"),
    },
    {
      name: "4x4 s2 valid",
      inputs: [{ shape: [1, 3, 3, 2] }, { shape: [4, 4, 3, 2] }],
      f: convT([1, 8, 8, 3], 2, "valid"),
    },
  ]);
});

Deno.test("wasm maxPool values and gradients match cpu", async () => {
  const pool = (k: number, s: number, pad: "same" | "valid") => (x: tf.Tensor) =>
    tf.maxPool(x as tf.Tensor4D, k, s, pad);
  await checkCases([
    {
      name: "2x2 s2 all negative",
      inputs: [{ shape: [2, 8, 8, 3], lo: -3, hi: -1 }],
      f: pool(2, 2, "valid"),
    },
    { name: "2x2 s2 mixed", inputs: [{ shape: [2, 8, 8, 4] }], f: pool(2, 2, "valid") },
    {
      name: "2x2 s2 after relu (ties)",
      inputs: [{ shape: [2, 8, 8, 3], lo: -1, hi: 0.3 }],
      f: (x) => tf.maxPool(tf.relu(x) as tf.Tensor4D, 2, 2, "valid"),
    },
    { name: "2x2 s2 same odd", inputs: [{ shape: [1, 7, 7, 3] }], f: pool(2, 2, "same") },
    { name: "3x3 s2 same", inputs: [{ shape: [2, 8, 8, 2] }], f: pool(3, 2, "same") },
    { name: "3x3 s1 valid", inputs: [{ shape: [1, 6, 5, 2] }], f: pool(3, 1, "valid") },
  ]);
});

Deno.test("wasm normalisation, activations and reductions match cpu", async () => {
  const eps = 1e-5;
  await checkCases([
    {
      name: "batch norm from moments",
      inputs: [{ shape: [4, 5, 5, 3] }, { shape: [3] }, { shape: [3] }],
      f: (x, g, b) => {
        const { mean, variance } = tf.moments(x, [0, 1, 2]);
        return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps))), g), b);
      },
    },
    {
      name: "group norm from reshape + moments",
      inputs: [{ shape: [2, 4, 4, 6] }, { shape: [6] }, { shape: [6] }],
      f: (x, g, b) => {
        const [n, h, w, c] = x.shape;
        const groups = 3;
        const xg = tf.reshape(x, [n, h, w, groups, c / groups]);
        const { mean, variance } = tf.moments(xg, [1, 2, 4], true);
        const norm = tf.reshape(tf.div(tf.sub(xg, mean), tf.sqrt(tf.add(variance, eps))), [n, h, w, c]);
        return tf.add(tf.mul(norm, g), b);
      },
    },
    { name: "sigmoid", inputs: [{ shape: [3, 7], lo: -4, hi: 4 }], f: (x) => tf.sigmoid(x) },
    { name: "relu", inputs: [{ shape: [3, 7] }], f: (x) => tf.relu(x) },
    { name: "softmax", inputs: [{ shape: [4, 9], lo: -3, hi: 3 }], f: (x) => tf.softmax(x) },
    { name: "square", inputs: [{ shape: [2, 3, 4] }], f: (x) => tf.square(x) },
    { name: "sqrt", inputs: [{ shape: [2, 3, 4], lo: 0.2, hi: 3 }], f: (x) => tf.sqrt(x) },
    { name: "rsqrt", inputs: [{ shape: [2, 3, 4], lo: 0.2, hi: 3 }], f: (x) => tf.rsqrt(x) },
    { name: "mean all", inputs: [{ shape: [2, 3, 4] }], f: (x) => tf.mean(x) },
    { name: "mean axes keepDims", inputs: [{ shape: [2, 3, 4, 5] }], f: (x) => tf.mean(x, [1, 2], true) },
    { name: "sum axis", inputs: [{ shape: [2, 3, 4] }], f: (x) => tf.sum(x, 2) },
  ]);
});

Deno.test("wasm broadcasting arithmetic, matMul and reshapes match cpu", async () => {
  await checkCases([
    { name: "add [.,3]", inputs: [{ shape: [2, 4, 4, 3] }, { shape: [3] }], f: (a, b) => tf.add(a, b) },
    {
      name: "mul [2,1,1,3]",
      inputs: [{ shape: [2, 4, 4, 3] }, { shape: [2, 1, 1, 3] }],
      f: (a, b) => tf.mul(a, b),
    },
    {
      name: "sub [1,4,4,1]",
      inputs: [{ shape: [2, 4, 4, 3] }, { shape: [1, 4, 4, 1] }],
      f: (a, b) => tf.sub(a, b),
    },
    {
      name: "div [2,1,1,3]",
      inputs: [{ shape: [2, 4, 4, 3] }, { shape: [2, 1, 1, 3], lo: 0.5, hi: 2 }],
      f: (a, b) => tf.div(a, b),
    },
    { name: "matMul", inputs: [{ shape: [5, 7] }, { shape: [7, 3] }], f: (a, b) => tf.matMul(a, b) },
    { name: "matMul tA", inputs: [{ shape: [7, 5] }, { shape: [7, 3] }], f: (a, b) => tf.matMul(a, b, true) },
    {
      name: "matMul tB",
      inputs: [{ shape: [5, 7] }, { shape: [3, 7] }],
      f: (a, b) => tf.matMul(a, b, false, true),
    },
    {
      name: "matMul tA tB",
      inputs: [{ shape: [7, 5] }, { shape: [3, 7] }],
      f: (a, b) => tf.matMul(a, b, true, true),
    },
    {
      name: "batched matMul",
      inputs: [{ shape: [2, 3, 4] }, { shape: [2, 4, 5] }],
      f: (a, b) => tf.matMul(a, b),
    },
  ]);
});

Deno.test("wasm matMul on XNNPACK (large enough operands) matches cpu", async () => {
  const mm = (tA: boolean, tB: boolean) => (a: tf.Tensor, b: tf.Tensor) => tf.matMul(a, b, tA, tB);
  await checkCases([
    { name: "plain 40x24x32", inputs: [{ shape: [40, 24] }, { shape: [24, 32] }], f: mm(false, false) },
    { name: "tA 40x24x32", inputs: [{ shape: [24, 40] }, { shape: [24, 32] }], f: mm(true, false) },
    { name: "tB 40x24x32", inputs: [{ shape: [40, 24] }, { shape: [32, 24] }], f: mm(false, true) },
    { name: "tA tB 40x24x32", inputs: [{ shape: [24, 40] }, { shape: [32, 24] }], f: mm(true, true) },
    { name: "few rows tA 6x64x80", inputs: [{ shape: [64, 6] }, { shape: [64, 80] }], f: mm(true, false) },
    { name: "few rows tB 6x64x80", inputs: [{ shape: [6, 64] }, { shape: [80, 64] }], f: mm(false, true) },
    // tfjs-core's BatchMatMul gradient does not reduce broadcast batch dimensions (on any backend), so
    // products with a broadcast operand are checked for values only.
    {
      name: "batched few rows tA (values)",
      inputs: [{ shape: [2, 64, 5] }, { shape: [64, 80] }],
      f: mm(true, false),
      noGrad: true,
    },
    {
      name: "batched rows, shared b (values)",
      inputs: [{ shape: [3, 20, 30] }, { shape: [30, 40] }],
      f: mm(false, false),
      noGrad: true,
    },
    {
      name: "batched few rows tA tB, same batch",
      inputs: [{ shape: [2, 64, 5] }, { shape: [2, 80, 64] }],
      f: mm(true, true),
    },
    {
      name: "batched pairs tB",
      inputs: [{ shape: [3, 20, 30] }, { shape: [3, 40, 30] }],
      f: mm(false, true),
    },

    {
      name: "reshape + transpose",
      inputs: [{ shape: [2, 3, 4, 5] }],
      f: (x) => tf.transpose(tf.reshape(x, [6, 4, 5]), [2, 0, 1]),
    },
    {
      name: "depthToSpace",
      inputs: [{ shape: [2, 3, 3, 8] }],
      f: (x) => tf.depthToSpace(x as tf.Tensor4D, 2),
    },
    { name: "pad", inputs: [{ shape: [2, 3, 4, 2] }], f: (x) => tf.pad(x, [[0, 0], [1, 2], [2, 1], [0, 0]]) },
  ]);
});

Deno.test("wasm matMul broadcasting both batch dims matches explicitly tiled operands on cpu", async () => {
  // cpu (and the shipped wasm kernel) return only max(batchA, batchB) matrices for [2,1,..] x [1,3,..]
  // in tfjs 4.22.0, so the reference is the product of explicitly broadcast operands.
  const before = tf.getBackend();
  try {
    const da = randomData(2 * 20 * 30, 5);
    const db = randomData(3 * 30 * 40, 6);
    await tf.setBackend("cpu");
    const ref = tf.tidy(() =>
      tf.matMul(
        tf.broadcastTo(tf.tensor(da, [2, 1, 20, 30]), [2, 3, 20, 30]),
        tf.broadcastTo(tf.tensor(db, [1, 3, 30, 40]), [2, 3, 30, 40]),
      )
    );
    const refData = new Float32Array(await ref.data());
    ref.dispose();
    await tf.setBackend("wasm");
    const got = tf.tidy(() => tf.matMul(tf.tensor(da, [2, 1, 20, 30]), tf.tensor(db, [1, 3, 30, 40])));
    assert.deepEqual(got.shape, [2, 3, 20, 40]);
    const err = relativeError(refData, new Float32Array(await got.data()), "broadcast matMul");
    got.dispose();
    assert.ok(err <= TOL, `broadcast matMul: relative error ${err.toExponential(2)} > ${TOL}`);
  } finally {
    if (before) await tf.setBackend(before);
  }
});

Deno.test("wasm concat, slice and split match cpu", async () => {
  await checkCases([
    {
      name: "concat channels",
      inputs: [{ shape: [2, 4, 4, 3] }, { shape: [2, 4, 4, 5] }],
      f: (a, b) => tf.concat([a, b], 3),
    },
    {
      name: "concat channels, 64 + 64 (long runs)",
      inputs: [{ shape: [1, 3, 3, 64] }, { shape: [1, 3, 3, 64] }],
      f: (a, b) => tf.concat([a, b], 3),
    },
    {
      name: "concat axis 1",
      inputs: [{ shape: [2, 3, 4] }, { shape: [2, 2, 4] }],
      f: (a, b) => tf.concat([a, b], 1),
    },
    {
      name: "slice rank 4",
      inputs: [{ shape: [3, 5, 5, 4] }],
      f: (x) => tf.slice(x, [1, 1, 0, 2], [2, 3, 5, 2]),
    },
    { name: "slice rank 1", inputs: [{ shape: [10] }], f: (x) => tf.slice(x, [3], [4]) },
    {
      name: "slice rank 5",
      inputs: [{ shape: [2, 3, 4, 2, 3] }],
      f: (x) => tf.slice(x, [1, 0, 1, 1, 0], [1, 3, 2, 1, -1]),
    },
    {
      name: "split channels",
      inputs: [{ shape: [2, 3, 3, 5] }],
      f: (x) => {
        const [a, b] = tf.split(x, [2, 3], 3);
        return tf.concat([tf.mul(a, 2), tf.sub(b, 1)], 3);
      },
    },
  ]);
});

Deno.test("wasm small U-Net step: variableGrads match cpu and nothing leaks", async () => {
  const before = tf.getBackend();
  const shapes: Record<string, number[]> = {
    c1: [3, 3, 3, 8],
    c2: [3, 3, 8, 8],
    down: [3, 3, 8, 16],
    up: [2, 2, 8, 16],
    c3: [1, 1, 16, 3],
    gamma: [8],
  };
  const lossOf = (vars: Record<string, tf.Variable>, x: tf.Tensor4D) => {
    let h = tf.relu(tf.conv2d(x, vars.c1 as tf.Tensor4D, 1, "same"));
    const { mean, variance } = tf.moments(h, [0, 1, 2]);
    h = tf.mul(tf.div(tf.sub(h, mean), tf.sqrt(tf.add(variance, 1e-5))), vars.gamma);
    const skip = tf.sigmoid(tf.conv2d(h, vars.c2 as tf.Tensor4D, 1, "same"));
    const pooled = tf.maxPool(skip, 2, 2, "valid");
    const d = tf.relu(tf.conv2d(pooled, vars.down as tf.Tensor4D, 2, "same"));
    const u = tf.conv2dTranspose(d, vars.up as tf.Tensor4D, [x.shape[0], 4, 4, 8], 2, "same");
    const up2 = tf.depthToSpace(tf.concat([u, u, u, u], 3), 2);
    const cat = tf.concat([skip, up2], 3);
    const out = tf.conv2d(cat, vars.c3 as tf.Tensor4D, 1, "same");
    return tf.mean(tf.square(tf.sub(out, x)));
  };
  const run = async (backend: string) => {
    await tf.setBackend(backend);
    const vars: Record<string, tf.Variable> = {};
    for (const [i, [k, s]] of Object.entries(shapes).entries()) {
      vars[k] = tf.variable(
        tf.tensor(randomData(tf.util.sizeFromShape(s), 50 + i, -0.5, 0.5), s),
        true,
        `${k}_${backend}`,
      );
    }
    const x = tf.tensor4d(randomData(2 * 8 * 8 * 3, 7), [2, 8, 8, 3]);
    const step = async () => {
      const { value, grads } = tf.variableGrads(() => lossOf(vars, x) as tf.Scalar);
      const out = [
        await value.data(),
        ...await Promise.all(Object.keys(shapes).map((k) => grads[vars[k].name].data())),
      ];
      tf.dispose([value, ...Object.values(grads)]);
      return out.map((a) => new Float32Array(a));
    };
    const first = await step();
    const tensorsAfterFirst = tf.memory().numTensors;
    const dataIdsAfterFirst = tf.engine().backend.numDataIds();
    await step();
    assert.equal(tf.memory().numTensors, tensorsAfterFirst, `${backend}: tensors leak per step`);
    assert.equal(
      tf.engine().backend.numDataIds(),
      dataIdsAfterFirst,
      `${backend}: backend data leaks per step`,
    );
    tf.dispose([x, ...Object.values(vars)]);
    return first;
  };
  try {
    const ref = await run("cpu");
    const got = await run("wasm");
    const names = ["loss", ...Object.keys(shapes)];
    for (let i = 0; i < ref.length; i++) {
      const err = relativeError(ref[i], got[i], `U-Net ${names[i]}`);
      assert.ok(err <= TOL, `U-Net ${names[i]}: relative error ${err.toExponential(2)} > ${TOL}`);
    }
  } finally {
    if (before) await tf.setBackend(before);
  }
});

Deno.test("wasm oneHot float32 matches cpu", async () => {
  const before = tf.getBackend();
  try {
    const results: Float32Array[] = [];
    for (const b of ["cpu", "wasm"]) {
      await tf.setBackend(b);
      const idx = tf.tensor1d([0, 3, 1, 7, -1, 2], "int32");
      const y = tf.oneHot(idx, 4, 2.5, -0.5, "float32");
      assert.equal(y.dtype, "float32");
      results.push(new Float32Array(await y.data()));
      tf.dispose([idx, y]);
    }
    assert.deepEqual(results[1], results[0]);
  } finally {
    if (before) await tf.setBackend(before);
  }
});

Deno.test("wasm training kernels: registration is idempotent and reversible", () => {
  const configs = WASM_TRAINING_KERNELS.map((k) => tf.getKernel(k, "wasm"));
  registerWasmTrainingKernels();
  registerWasmTrainingKernels();
  WASM_TRAINING_KERNELS.forEach((k, i) => assert.equal(tf.getKernel(k, "wasm"), configs[i], k));
  unregisterWasmTrainingKernels();
  assert.equal(tf.getKernel("Conv2DBackpropFilter", "wasm"), undefined);
  assert.notEqual(tf.getKernel("Conv2DBackpropInput", "wasm"), configs[1]);
  registerWasmTrainingKernels();
  assert.ok(tf.getKernel("Conv2DBackpropFilter", "wasm"));
  assert.ok(tf.getGradient("DepthToSpace"));
});

Deno.test("wasm training kernels fail loudly on a backend without the expected internals", () => {
  assert.throws(() => asWasmBackend({ makeOutput() {} }), /lacks .*typedArrayFromHeap/);
});

Deno.test("enableWasmThreads reports the wasm backend's real thread count", async () => {
  const result = await enableWasmThreads({ log: null });
  assert.equal(result.threads, getThreadsCount());
  if (!THREADS) assert.match(result.reason, /already started/);
});
