/**
 * The switch for the inference-only fast paths of the layers (fused GroupNorm on wasm, the conv bias
 * inside the convolution, nearest up-sampling as one resize). On by default; the tests and
 * `deno task profile --unfused` turn it off to compare with the op-by-op path the gradients use.
 *
 * @module
 */

let enabled = true;

/**
 * Turns the inference fast paths on or off (process-wide); returns the previous setting.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { inferenceFusion, setInferenceFusion } from "./fusion.ts";
 * const before = setInferenceFusion(false);
 * assert.ok(!inferenceFusion());
 * setInferenceFusion(before);
 * ```
 */
export function setInferenceFusion(on: boolean): boolean {
  const before = enabled;
  enabled = on;
  return before;
}

/**
 * Whether the inference fast paths are on.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { inferenceFusion } from "./fusion.ts";
 * assert.equal(typeof inferenceFusion(), "boolean");
 * ```
 */
export function inferenceFusion(): boolean {
  return enabled;
}
