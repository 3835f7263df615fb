/**
 * Per-timestep loss weights. Min-SNR-γ (Hang et al. 2023, "Efficient Diffusion Training via Min-SNR
 * Weighting Strategy") weighs the ε-prediction loss at timestep t by min(SNR_t, γ)/SNR_t with SNR_t =
 * ᾱ_t/(1 − ᾱ_t): noisy timesteps (SNR ≤ γ) keep weight 1 and nearly clean ones, whose ε-loss is large
 * but teaches little about the image, are weighed down so that they stop dominating the gradient.
 *
 * @module
 */
import type { DiffusionSchedule } from "../core/schedule.ts";

/**
 * The signal-to-noise ratio ᾱ_t/(1 − ᾱ_t) of timestep index `t`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { makeSchedule } from "../core/schedule.ts";
 * import { snr } from "./loss_weight.ts";
 * const s = makeSchedule("linear", 500);
 * assert.ok(snr(s, 0) > 1000);
 * assert.ok(snr(s, 499) < 0.01);
 * ```
 */
export function snr(schedule: DiffusionSchedule, t: number): number {
  const a = schedule.alphasCumprod[t];
  return a / (1 - a);
}

/**
 * The min-SNR-γ weight of the ε-prediction loss at timestep index `t`: min(SNR_t, γ)/SNR_t, in (0, 1].
 *
 * @throws {RangeError} unless γ > 0.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { makeSchedule } from "../core/schedule.ts";
 * import { minSnrWeight } from "./loss_weight.ts";
 * const s = makeSchedule("linear", 500);
 * assert.equal(minSnrWeight(s, 499, 5), 1);
 * assert.ok(minSnrWeight(s, 0, 5) < 0.01);
 * ```
 */
export function minSnrWeight(schedule: DiffusionSchedule, t: number, gamma: number): number {
  if (!(gamma > 0)) throw new RangeError(`min-SNR γ must be > 0, got ${gamma}`);
  const r = snr(schedule, t);
  return Math.min(r, gamma) / r;
}
