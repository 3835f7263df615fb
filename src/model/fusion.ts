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
 * import { inferenceFusion, setInferenceFusion } from "./fusion.ts";
 * const before = setInferenceFusion(false);
 * console.assert(!inferenceFusion());
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
 * import { inferenceFusion } from "./fusion.ts";
 * console.assert(typeof inferenceFusion() === "boolean");
 * ```
 */
export function inferenceFusion(): boolean {
  return enabled;
}
