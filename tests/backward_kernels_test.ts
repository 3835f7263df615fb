/** The wasm backward kernels against the tfjs ops they replace (the unoptimised path). */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../src/backend/select.ts";
import { ForwardContext, ParamBuilder } from "../src/model/context.ts";
import { addBias, declareNorm, groupNorm } from "../src/model/layers.ts";
import { Rng } from "../src/core/rng.ts";
import { measureCost } from "../tools/perf/step_cost.ts";
import {
  CHANNEL_SUM_KERNEL,
  channelSum,
  GROUP_NORM_GRAD_KERNEL,
  setWasmBackwardKernels,
} from "../src/backend/wasm/backward.ts";

await initBackend("wasm", { log: null });

async function maxDiff(a: tf.Tensor, b: tf.Tensor): Promise<number> {
  assert.deepEqual(a.shape, b.shape);
  const x = await a.data(), y = await b.data();
  let worst = 0;
  for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i] - y[i]));
  return worst;
}

/** Gradients of Σ w·f(…) with the wasm kernels on and off. */
async function bothWays(f: () => tf.Scalar, vars: tf.Variable[]) {
  const run = (on: boolean) => {
    setWasmBackwardKernels(on);
    try {
      return tf.variableGrads(f, vars);
    } finally {
      setWasmBackwardKernels(true);
    }
  };
  const fast = run(true), slow = run(false);
  const out: [string, number, number][] = [];
  for (const v of vars) {
    const scale = Math.max(...(await tf.abs(slow.grads[v.name]).data()));
    out.push([v.name, await maxDiff(fast.grads[v.name], slow.grads[v.name]), scale]);
  }
  tf.dispose([fast.value, slow.value, ...Object.values(fast.grads), ...Object.values(slow.grads)]);
  return out;
}

Deno.test("channel sum equals tf.sum over the outer axes", async () => {
  const x = tf.randomNormal([3, 5, 7, 6], 0, 1, "float32", 1);
  const got = channelSum(x)!;
  const want = tf.sum(x, [0, 1, 2]);
  assert.ok(await maxDiff(got, want) < 1e-5);
  tf.dispose([x, got, want]);
});

Deno.test("the bias gradient through the channel-sum kernel equals the ones-row product", async () => {
  const y = tf.variable(tf.randomNormal([2, 4, 4, 8], 0, 1, "float32", 2));
  const b = tf.variable(tf.randomNormal([8], 0, 1, "float32", 3));
  const w = tf.randomNormal([2, 4, 4, 8], 0, 1, "float32", 4);
  const f = () => tf.sum(tf.mul(addBias(y, b), w)) as tf.Scalar;
  const { cost } = await measureCost(() => {
    const r = tf.variableGrads(f, [b]);
    tf.dispose([r.value, ...Object.values(r.grads)]);
    return Promise.resolve();
  });
  assert.ok(cost.byKind.some(([k]) => k === CHANNEL_SUM_KERNEL), "the kernel runs");
  for (const [name, diff, scale] of await bothWays(f, [y, b])) {
    assert.ok(diff <= 1e-5 * scale, `${name}: ${diff}`);
  }
  tf.dispose([y, b, w]);
});

for (const activate of [false, true]) {
  Deno.test(`the fused GroupNorm${activate ? " + SiLU" : ""} gradient equals the tfjs ops' (dx, dγ, dβ)`, async () => {
    const rng = new Rng(7);
    const pb = new ParamBuilder(rng);
    declareNorm(pb, "n", 12);
    // non-trivial gain and bias, so that every term of the gradient matters
    pb.params.get("n.g")!.assign(tf.tensor1d(rng.normalArray(12)));
    pb.params.get("n.b")!.assign(tf.tensor1d(rng.normalArray(12)));
    const ctx = new ForwardContext(pb.params, pb.state, true);
    const x = tf.variable(tf.randomNormal([3, 5, 4, 12], 0.5, 2, "float32", 5));
    const w = tf.randomNormal([3, 5, 4, 12], 0, 1, "float32", 6);
    const f = () =>
      tf.sum(tf.mul(groupNorm(ctx, "n", x as unknown as tf.Tensor4D, 3, activate), w)) as tf.Scalar;
    const { cost } = await measureCost(() => {
      const r = tf.variableGrads(f, [x]);
      tf.dispose([r.value, ...Object.values(r.grads)]);
      return Promise.resolve();
    });
    assert.ok(cost.byKind.some(([k]) => k === GROUP_NORM_GRAD_KERNEL), "the kernel runs");
    const vars = [x, pb.params.get("n.g")!, pb.params.get("n.b")!];
    for (const [name, diff, scale] of await bothWays(f, vars)) {
      assert.ok(diff <= 2e-5 * scale, `${name}: max diff ${diff} of ${scale}`);
    }
    tf.dispose([x, w, ...pb.params.values()]);
  });
}
