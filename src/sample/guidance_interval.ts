/**
 * Where classifier-free guidance applies: an interval of timesteps given as fractions of T
 * (Kynkäänniemi et al. 2024). Outside it a step uses the conditional ε alone (w = 1).
 *
 * @module
 */
/**
 * The timesteps where guidance applies, as fractions of T: a step at timestep t is guided when
 * `lo ≤ t / T ≤ hi`. `[0, 1]` guides every step.
 */
export type GuidanceInterval = readonly [lo: number, hi: number];

/** Guidance at every step. */
export const FULL_GUIDANCE_INTERVAL: GuidanceInterval = [0, 1];

/**
 * Whether `value` is two numbers 0 ≤ lo ≤ hi ≤ 1 (a {@linkcode GuidanceInterval}).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isGuidanceInterval } from "./guidance_interval.ts";
 * assert.ok(isGuidanceInterval([0, 0.6]));
 * assert.ok(!isGuidanceInterval([0.6, 0]));
 * assert.ok(!isGuidanceInterval("0,1"));
 * ```
 */
export function isGuidanceInterval(value: unknown): value is GuidanceInterval {
  return Array.isArray(value) && value.length === 2 &&
    value.every((v) => typeof v === "number" && v >= 0 && v <= 1) && value[0] <= value[1];
}

/**
 * Throws a RangeError unless `interval` is two numbers 0 ≤ lo ≤ hi ≤ 1.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkGuidanceInterval } from "./guidance_interval.ts";
 * checkGuidanceInterval([0.1, 0.8]);
 * let caught: unknown;
 * try { checkGuidanceInterval([0.8, 0.1]); } catch (e) { caught = e; }
 * assert.ok(caught instanceof RangeError);
 * ```
 */
export function checkGuidanceInterval(interval: GuidanceInterval): void {
  if (!isGuidanceInterval(interval)) {
    throw new RangeError(
      `the guidance interval must be two fractions of T with 0 <= lo <= hi <= 1, got ${
        JSON.stringify(interval)
      }`,
    );
  }
}

/**
 * The guidance weight of a step at timestep `t` (0 … T−1): `w` inside the interval, else 1 (the
 * conditional model alone).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { guidanceAt } from "./guidance_interval.ts";
 * assert.equal(guidanceAt(450, 500, 2, [0, 0.8]), 1);
 * assert.equal(guidanceAt(100, 500, 2, [0, 0.8]), 2);
 * ```
 */
export function guidanceAt(
  t: number,
  T: number,
  w: number,
  interval: GuidanceInterval = FULL_GUIDANCE_INTERVAL,
): number {
  const f = t / T;
  return f >= interval[0] && f <= interval[1] ? w : 1;
}
