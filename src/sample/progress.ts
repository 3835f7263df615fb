/**
 * The progress line of the sampling CLIs: steps done, images per second, time left.
 *
 * @module
 */

/** Seconds as "42 s", "3 min 05 s" or "1 h 02 min". */
function duration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, "0")} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor(s / 60) % 60).padStart(2, "0")} min`;
}

/**
 * One progress line for `n` images after `stepsDone` of `stepsTotal` sampler steps (summed over
 * batches) and `seconds` of wall-clock time: the rate counts finished-image equivalents
 * (n·stepsDone/stepsTotal), and the ETA assumes it holds.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatSamplingProgress } from "./progress.ts";
 * const line = formatSamplingProgress(25, 100, 64, 10);
 * assert.equal(line, "sampling 25/100 steps (25%), 1.60 images/s, ETA 30 s");
 * ```
 */
export function formatSamplingProgress(
  stepsDone: number,
  stepsTotal: number,
  n: number,
  seconds: number,
): string {
  const pct = Math.floor(100 * stepsDone / stepsTotal);
  const rate = seconds > 0 ? n * stepsDone / stepsTotal / seconds : 0;
  const eta = stepsDone > 0 ? seconds * (stepsTotal - stepsDone) / stepsDone : NaN;
  return `sampling ${stepsDone}/${stepsTotal} steps (${pct}%), ${rate.toFixed(2)} images/s, ETA ${
    Number.isFinite(eta) ? duration(eta) : "…"
  }`;
}
