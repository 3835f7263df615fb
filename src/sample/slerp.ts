/**
 * Spherical interpolation of starting noise, for morphs between two samples.
 *
 * A draw ε ~ N(0, I) in D dimensions has norm ≈ √D; the straight line between two independent
 * draws dips to ≈ √(D/2) at its midpoint, a start the network never saw in training (it reads it as
 * "too little noise" and draws a washed-out, flat image). Spherical interpolation moves along the
 * great circle between the two directions instead, so every point keeps the norm of a real draw.
 *
 * @module
 */

/**
 * Spherical interpolation between `a` and `b` at `w` ∈ [0, 1]: the direction moves along the great
 * circle, θ = ∠(a, b), as sin((1 − w)·θ)/sin θ · â + sin(w·θ)/sin θ · b̂, and the norm is interpolated
 * linearly, (1 − w)·‖a‖ + w·‖b‖ (so equal norms are kept exactly). Returns `a` at w = 0 and `b` at
 * w = 1 (copies). Nearly parallel vectors fall back to the normalised linear interpolation.
 *
 * @example The midpoint of two orthogonal unit vectors keeps norm 1
 * ```ts
 * import assert from "node:assert/strict";
 * import { slerp } from "./slerp.ts";
 * const m = slerp(Float32Array.of(1, 0), Float32Array.of(0, 1), 0.5);
 * assert.ok(Math.abs(Math.hypot(m[0], m[1]) - 1) < 1e-6);
 * assert.ok(Math.abs(m[0] - m[1]) < 1e-7);
 * ```
 */
export function slerp(a: Float32Array, b: Float32Array, w: number): Float32Array {
  if (a.length !== b.length) throw new RangeError(`slerp: ${a.length} values vs ${b.length}`);
  if (!(w >= 0 && w <= 1)) throw new RangeError(`slerp: w must be in [0, 1], got ${w}`);
  if (w === 0) return a.slice();
  if (w === 1) return b.slice();
  let aa = 0, bb = 0, ab = 0;
  for (let i = 0; i < a.length; i++) {
    aa += a[i] * a[i];
    bb += b[i] * b[i];
    ab += a[i] * b[i];
  }
  const na = Math.sqrt(aa), nb = Math.sqrt(bb);
  if (na === 0 || nb === 0) throw new RangeError("slerp: a zero vector has no direction");
  const cos = Math.min(1, Math.max(-1, ab / (na * nb)));
  const theta = Math.acos(cos);
  let ca: number, cb: number;
  if (Math.sin(theta) < 1e-6) {
    ca = 1 - w;
    cb = w;
  } else {
    ca = Math.sin((1 - w) * theta) / Math.sin(theta);
    cb = Math.sin(w * theta) / Math.sin(theta);
  }
  const dir = new Float64Array(a.length);
  let nd = 0;
  for (let i = 0; i < a.length; i++) {
    dir[i] = ca * a[i] / na + cb * b[i] / nb;
    nd += dir[i] * dir[i];
  }
  const scale = ((1 - w) * na + w * nb) / Math.sqrt(nd);
  return Float32Array.from(dir, (v) => v * scale);
}
