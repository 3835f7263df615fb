/**
 * What a piece of tfjs work costs, independently of the hardware: kernels dispatched (by kind),
 * synchronisations (readbacks of tensor data to JavaScript) and bytes of new tensor data. The
 * engine's `runKernel`, `read`, `readSync` and `makeTensor` are wrapped for the duration of one call.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";

/** The cost of one measured call. */
export interface StepCost {
  /** Kernels dispatched through the engine, in total. */
  kernels: number;
  /** Kernels by kernel name, most frequent first. */
  byKind: [string, number][];
  /** Readbacks of tensor data (`data()`, `dataSync()`, `array()`, …). */
  syncs: number;
  /** Bytes of new tensor data: kernel outputs that do not share an input's data, plus uploads. */
  bytes: number;
  /**
   * Wall milliseconds spent inside each kernel kind (kernels nested in another kernel count in both),
   * most expensive first. Meaningful on synchronous backends (wasm, cpu) only.
   */
  msByKind: [string, number][];
}

interface EngineInternals {
  runKernel(name: string, inputs: tf.NamedTensorMap, attrs: tf.NamedAttrMap): tf.Tensor | tf.Tensor[];
  read(dataId: object): Promise<unknown>;
  readSync(dataId: object): unknown;
  makeTensor(values: unknown, shape: number[], dtype: tf.DataType, backend?: unknown): tf.Tensor;
}

function tensorBytes(t: tf.Tensor): number {
  return t.dtype === "string" ? 0 : t.size * tf.util.bytesPerElement(t.dtype);
}

/**
 * Runs `fn` once with counters on the engine and returns its result and its cost. Not re-entrant.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import "@tensorflow/tfjs-backend-cpu";
 * import { measureCost } from "./step_cost.ts";
 * await tf.setBackend("cpu");
 * const x = tf.tensor1d([1, 2, 3]);
 * const { cost } = await measureCost(async () => {
 *   const y = tf.add(tf.mul(x, 2), 1);
 *   await y.data();
 *   y.dispose();
 * });
 * assert.equal(cost.kernels, 2);
 * assert.equal(cost.syncs, 1);
 * x.dispose();
 * ```
 */
export async function measureCost<T>(fn: () => Promise<T>): Promise<{ result: T; cost: StepCost }> {
  const engine = tf.engine() as unknown as EngineInternals;
  const own = engine as unknown as Record<string, unknown>;
  const saved = {
    runKernel: Object.hasOwn(own, "runKernel") ? own.runKernel : undefined,
    read: Object.hasOwn(own, "read") ? own.read : undefined,
    readSync: Object.hasOwn(own, "readSync") ? own.readSync : undefined,
    makeTensor: Object.hasOwn(own, "makeTensor") ? own.makeTensor : undefined,
  };
  const proto = Object.getPrototypeOf(engine) as EngineInternals;
  const counts = new Map<string, number>(), ms = new Map<string, number>();
  let syncs = 0, bytes = 0, kernels = 0;
  own.runKernel = function (name: string, inputs: tf.NamedTensorMap, attrs: tf.NamedAttrMap) {
    kernels++;
    counts.set(name, (counts.get(name) ?? 0) + 1);
    const t0 = performance.now();
    const out = proto.runKernel.call(engine, name, inputs, attrs);
    ms.set(name, (ms.get(name) ?? 0) + performance.now() - t0);
    const ins = new Set(Object.values(inputs ?? {}).map((t) => (t as tf.Tensor)?.dataId));
    for (const t of Array.isArray(out) ? out : [out]) if (!ins.has(t.dataId)) bytes += tensorBytes(t);
    return out;
  };
  own.read = function (dataId: object) {
    syncs++;
    return proto.read.call(engine, dataId);
  };
  own.readSync = function (dataId: object) {
    syncs++;
    return proto.readSync.call(engine, dataId);
  };
  own.makeTensor = function (values: unknown, shape: number[], dtype: tf.DataType, backend?: unknown) {
    const t = proto.makeTensor.call(engine, values, shape, dtype, backend);
    bytes += tensorBytes(t);
    return t;
  };
  try {
    const result = await fn();
    const sorted = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]);
    return { result, cost: { kernels, byKind: sorted(counts), syncs, bytes, msByKind: sorted(ms) } };
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete own[k];
      else own[k] = v;
    }
  }
}
