/**
 * The three samplers as the reverse loop ({@linkcode ./loop.ts}) drives them: DDPM, DDIM and
 * DPM-Solver++(2M), each one short function over its tensor step in {@linkcode ./steps.ts}. A sampler
 * says which steps draw fresh noise and carries what one step hands to the next (DPM-Solver++'s
 * previous data prediction), so the loop itself knows no sampler.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs-core";
import type { DiffusionSchedule } from "../core/schedule.ts";
import type { SamplerName } from "./defaults.ts";
import { ddimStepTensor, ddpmStepTensor, dpmSolverStepTensor } from "./steps.ts";
import { type DataPrediction, dpmSolverFirstOrder } from "./steps_plain.ts";

/** One sampler as the reverse loop drives it along a grid of timesteps. */
export interface ReverseSampler {
  /** Whether the step at timestep `t` takes a fresh standard normal z (drawn before its ε). */
  drawsNoise(t: number): boolean;
  /**
   * One step x_t → x_tNext (tNext = −1: to x0) of grid step `i`, with ε and the step's z (or null).
   * Returns the new x; disposes nothing of its inputs. A RePaint-style retry calls it again for the
   * same `i` before {@linkcode ReverseSampler.endStep}.
   */
  step(x: tf.Tensor, eps: tf.Tensor, i: number, t: number, tNext: number, z: tf.Tensor | null): tf.Tensor;
  /** Grid step `i` is done (all its tries): what the last try carries forward becomes the state. */
  endStep(): void;
  /** Frees what the sampler still holds. */
  dispose(): void;
}

/**
 * DDPM's ancestral sampling (Ho et al. 2020, Algorithm 2): every index down to 0, a fresh z at each
 * step but the last.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { makeSchedule } from "../core/schedule.ts";
 * import { ddpmSampler } from "./sampler.ts";
 * const s = ddpmSampler(makeSchedule("linear", 10), true);
 * assert.ok(s.drawsNoise(3));
 * assert.ok(!s.drawsNoise(0));
 * ```
 */
export function ddpmSampler(schedule: DiffusionSchedule, clip: boolean): ReverseSampler {
  return {
    drawsNoise: (t) => t > 0,
    step: (x, eps, _i, t, _tNext, z) => ddpmStepTensor(schedule, x, eps, t, z, clip),
    endStep() {},
    dispose() {},
  };
}

/**
 * DDIM (Song et al. 2021, eq. 12) with stochasticity η: a fresh z at each step but the last when η > 0,
 * none at η = 0 (deterministic).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { makeSchedule } from "../core/schedule.ts";
 * import { ddimSampler } from "./sampler.ts";
 * const s = makeSchedule("linear", 10);
 * assert.ok(!ddimSampler(s, 0, true).drawsNoise(5));
 * assert.ok(ddimSampler(s, 1, true).drawsNoise(5));
 * ```
 */
export function ddimSampler(schedule: DiffusionSchedule, eta: number, clip: boolean): ReverseSampler {
  return {
    drawsNoise: (t) => eta > 0 && t > 0,
    step: (x, eps, _i, t, tNext, z) => ddimStepTensor(schedule, x, eps, t, tNext, eta, z, clip),
    endStep() {},
    dispose() {},
  };
}

/**
 * DPM-Solver++(2M) (Lu et al. 2022, Algorithm 2) on a grid of `steps` timesteps: deterministic,
 * second order from the previous step's data prediction except where {@linkcode dpmSolverFirstOrder}
 * says first order.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { makeSchedule } from "../core/schedule.ts";
 * import { dpmSolver2MSampler } from "./sampler.ts";
 * const s = dpmSolver2MSampler(makeSchedule("linear", 10), 5, true);
 * assert.ok(!s.drawsNoise(5));
 * s.dispose();
 * ```
 */
export function dpmSolver2MSampler(
  schedule: DiffusionSchedule,
  steps: number,
  clip: boolean,
): ReverseSampler {
  let last: DataPrediction<tf.Tensor> | null = null;
  let pending: DataPrediction<tf.Tensor> | null = null;
  return {
    drawsNoise: () => false,
    step(x, eps, i, t, tNext) {
      const previous = dpmSolverFirstOrder(i, steps) ? null : last;
      const next = dpmSolverStepTensor(schedule, x, eps, t, tNext, previous, clip);
      pending?.x0.dispose();
      pending = next.prediction;
      return next.x;
    },
    endStep() {
      last?.x0.dispose();
      last = pending;
      pending = null;
    },
    dispose() {
      last?.x0.dispose();
      pending?.x0.dispose();
      last = pending = null;
    },
  };
}

/** The settings {@linkcode reverseSampler} takes. */
export interface ReverseSamplerOptions {
  /** DDIM's η (ddim only). */
  eta: number;
  /** Clip the predicted x0 to [−1, 1] inside each step. */
  clip: boolean;
  /** Length of the grid of timesteps the sampler will visit (DPM-Solver++ chooses its orders by it). */
  steps: number;
}

/**
 * The sampler of a name: {@linkcode ddpmSampler}, {@linkcode ddimSampler} or
 * {@linkcode dpmSolver2MSampler}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { makeSchedule } from "../core/schedule.ts";
 * import { reverseSampler } from "./sampler.ts";
 * const s = reverseSampler("ddpm", makeSchedule("linear", 10), { eta: 0, clip: true, steps: 10 });
 * assert.ok(s.drawsNoise(9));
 * ```
 */
export function reverseSampler(
  sampler: SamplerName,
  schedule: DiffusionSchedule,
  o: ReverseSamplerOptions,
): ReverseSampler {
  if (sampler === "dpm++2m") return dpmSolver2MSampler(schedule, o.steps, o.clip);
  return sampler === "ddpm" ? ddpmSampler(schedule, o.clip) : ddimSampler(schedule, o.eta, o.clip);
}
