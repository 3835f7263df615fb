import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../src/backend/select.ts";
import { makeSchedule } from "../src/core/schedule.ts";
import {
  type DataPrediction,
  ddimStep,
  dpmSolverCoefficients,
  dpmSolverFirstOrder,
  dpmSolverStep,
} from "../src/sample/steps_plain.ts";
import { checkSampleOptions, sampleImages } from "../src/sample/sample.ts";
import { Rng } from "../src/core/rng.ts";
import { testOnBackends } from "./helpers.ts";
import { OracleModel } from "./cases/oracle.ts";
import { plainEqualsTensor } from "./cases/dpm.ts";

Deno.test("with an oracle ε-model, DPM-Solver++(2M) recovers x0 to 1e-3 at any step count", async () => {
  await initBackend("wasm", { log: null });
  const rng = new Rng(4);
  const x0v = Float32Array.from({ length: 2 * 8 * 8 * 3 }, () => rng.uniform() * 1.8 - 0.9);
  const model = new OracleModel(tf.tensor4d(x0v, [2, 8, 8, 3]));
  for (const steps of [1, 2, 3, 8, 10, 15, 25, 100]) {
    const out = await sampleImages(model, model.schedule, { n: 2, sampler: "dpm++2m", steps, seed: 7 });
    let err = 0;
    for (let i = 0; i < x0v.length; i++) err = Math.max(err, Math.abs(out.images[i] - x0v[i]));
    assert.ok(err < 1e-3, `S=${steps}: max error ${err}`);
  }
});

// 1-D Gaussian data x0 ~ N(μ, s²): x_t ~ N(α_t·μ, α_t²s² + σ_t²), the exact ε(x_t, t) is
// σ_t·(x_t − α_t·μ)/(α_t²s² + σ_t²), and the probability-flow ODE keeps the standardised value
// z = (x_t − α_t·μ)/√(α_t²s² + σ_t²) constant: the exact solution at any timestep is closed-form.
const gauss = { mu: 0.3, s: 0.5, schedule: makeSchedule("linear", 1000) };
function marginal(t: number, z: Float32Array): Float32Array {
  const ab = gauss.schedule.alphasCumprod[t];
  return z.map((v) => Math.sqrt(ab) * gauss.mu + Math.sqrt(ab * gauss.s ** 2 + 1 - ab) * v);
}
function exactEps(x: Float32Array, t: number): Float32Array {
  const a = gauss.schedule.sqrtAlphasCumprod[t], sg = gauss.schedule.sqrtOneMinusAlphasCumprod[t];
  return x.map((v) => sg * (v - a * gauss.mu) / (a * a * gauss.s ** 2 + sg * sg));
}
/** Max error at timestep 199 of S uniform steps from 999 (T = 1000), against the closed form. */
function solveError(solver: "ddim" | "dpm++2m", S: number): number {
  const z = Float32Array.from({ length: 13 }, (_, i) => -2.4 + 0.4 * i);
  const ts = Array.from({ length: S + 1 }, (_, i) => 999 - i * 800 / S);
  let x = marginal(ts[0], z);
  let last: DataPrediction<Float32Array> | null = null;
  for (let i = 0; i < S; i++) {
    const eps = exactEps(x, ts[i]);
    if (solver === "ddim") x = ddimStep(gauss.schedule, x, eps, ts[i], ts[i + 1], 0, null, false);
    else {
      const r = dpmSolverStep(gauss.schedule, x, eps, ts[i], ts[i + 1], i === 0 ? null : last, false);
      x = r.x;
      last = r.prediction;
    }
  }
  const exact = marginal(199, z);
  return x.reduce((m, v, i) => Math.max(m, Math.abs(v - exact[i])), 0);
}

Deno.test("order of accuracy on Gaussian data: DPM-Solver++(2M) error falls ≈4× per doubling, DDIM's ≈2×", () => {
  const counts = [10, 20, 40, 80];
  for (const [solver, lo, hi] of [["dpm++2m", 3.3, 4.8], ["ddim", 1.7, 2.3]] as const) {
    const errs = counts.map((S) => solveError(solver, S));
    for (let k = 1; k < counts.length; k++) {
      const ratio = errs[k - 1] / errs[k];
      assert.ok(ratio > lo && ratio < hi, `${solver} ${counts[k - 1]}→${counts[k]} steps: ratio ${ratio}`);
    }
  }
  // and the 800-step solution (every index) is the closed form to float32 precision
  assert.ok(solveError("dpm++2m", 800) < 2e-5);
});

Deno.test("the first-order DPM-Solver++ step is DDIM η = 0", () => {
  const s = makeSchedule("cosine", 200), rng = new Rng(8);
  const xt = rng.normalArray(50), eps = rng.normalArray(50);
  for (const [t, tNext] of [[150, 120], [40, 0], [3, -1]]) {
    const a = dpmSolverStep(s, xt, eps, t, tNext, null, true).x;
    const b = ddimStep(s, xt, eps, t, tNext, 0, null, true);
    for (let i = 0; i < 50; i++) assert.ok(Math.abs(a[i] - b[i]) < 1e-5, `t=${t}→${tNext} i=${i}`);
  }
});

Deno.test("DPM-Solver++ orders: first step, the step into index 0 and the step to x0 are first order", () => {
  assert.deepEqual([0, 1, 2, 3].map((i) => dpmSolverFirstOrder(i, 4)), [true, false, true, true]);
  assert.deepEqual([0, 1].map((i) => dpmSolverFirstOrder(i, 2)), [true, true]);
  assert.deepEqual(dpmSolverCoefficients(makeSchedule("linear", 10), 0, -1, 5), { xt: 0, m0: 1, m1: 0 });
  assert.throws(() => dpmSolverCoefficients(makeSchedule("linear", 10), 5, 6, null), /next timestep/);
  assert.throws(() => dpmSolverCoefficients(makeSchedule("linear", 10), 5, 4, 5), /previous timestep/);
});

Deno.test("dpm++2m takes no eta and needs steps in [1, T]", () => {
  assert.throws(() => checkSampleOptions({ n: 1, sampler: "dpm++2m", eta: 0.5 }, 100), /ddim only/);
  assert.throws(() => checkSampleOptions({ n: 1, sampler: "dpm++2m", steps: 101 }, 100), /\[1, 100\]/);
  checkSampleOptions({ n: 1, sampler: "dpm++2m", steps: 100, eta: 0 }, 100);
});

testOnBackends(
  "DPM-Solver++ tensor steps equal the plain-JS steps to 1e-5",
  ["cpu", "wasm"],
  plainEqualsTensor,
);
