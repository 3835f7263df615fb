/**
 * DPM-Solver++'s plain-JS reference steps against its tensor steps, as a case that
 * `tests/dpm_solver_test.ts` runs on cpu and wasm and `tests/webgpu_suite.ts` on WebGPU.
 *
 * @module
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { makeSchedule } from "../../src/core/schedule.ts";
import { ddimStepTensor, ddimTimesteps, dpmSolverStepTensor } from "../../src/sample/steps.ts";
import { type DataPrediction, ddimStep, dpmSolverStep } from "../../src/sample/steps_plain.ts";
import { Rng } from "../../src/core/rng.ts";

/** Plain-JS vs tensor DPM-Solver++ steps (both orders, clip on and off) on the active backend. */
export async function plainEqualsTensor(): Promise<void> {
  const s = makeSchedule("linear", 500), rng = new Rng(21);
  const shape: [number, number, number, number] = [2, 4, 4, 3], n = 2 * 4 * 4 * 3;
  const arr = () => rng.normalArray(n).map((v) => v * 1.5);
  const ts = ddimTimesteps(500, 6);
  for (const clip of [true, false]) {
    let xPlain: Float32Array = arr(), x: tf.Tensor = tf.tensor4d(xPlain, shape);
    let lastPlain: DataPrediction<Float32Array> | null = null, last: DataPrediction<tf.Tensor> | null = null;
    for (let i = 0; i < ts.length; i++) {
      const tNext = i + 1 < ts.length ? ts[i + 1] : -1, eps = arr();
      const first = i === 0 || tNext === -1;
      const p = dpmSolverStep(s, xPlain, eps, ts[i], tNext, first ? null : lastPlain, clip);
      const epsT = tf.tensor4d(eps, shape);
      const g = dpmSolverStepTensor(s, x, epsT, ts[i], tNext, first ? null : last, clip);
      const got = await g.x.data();
      for (let k = 0; k < n; k++) {
        assert.ok(
          Math.abs(got[k] - p.x[k]) <= 1e-5 * Math.max(1, Math.abs(p.x[k])),
          `${tf.getBackend()} step ${i} clip=${clip} k=${k}: ${got[k]} vs ${p.x[k]}`,
        );
      }
      // carry each path's own state forward, so the errors could accumulate
      tf.dispose([x, epsT, last?.x0 as tf.Tensor]);
      xPlain = p.x;
      lastPlain = p.prediction;
      x = g.x;
      last = g.prediction;
    }
    tf.dispose([x, last?.x0 as tf.Tensor]);
  }
  // DDIM's tensor step, for comparison on the same backend
  const a = arr(), e = arr();
  const d = await ddimStepTensor(s, tf.tensor4d(a, shape), tf.tensor4d(e, shape), 300, 200, 0, null, true)
    .data();
  const dp = ddimStep(s, a, e, 300, 200, 0, null, true);
  for (let k = 0; k < n; k++) assert.ok(Math.abs(d[k] - dp[k]) <= 1e-5 * Math.max(1, Math.abs(dp[k])));
}
