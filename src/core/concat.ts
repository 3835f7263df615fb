/**
 * Joining float arrays end to end.
 *
 * @module
 */

/**
 * The arrays one after another in one new array.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { concatFloat32 } from "./concat.ts";
 * assert.deepEqual([...concatFloat32([Float32Array.of(1, 2), Float32Array.of(3)])], [1, 2, 3]);
 * ```
 */
export function concatFloat32(parts: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
