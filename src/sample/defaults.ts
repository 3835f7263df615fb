/**
 * The sampling defaults: the one place `deno task sample`, `deno task eval` and the library read
 * the sampler, its step count, DDIM's η and the images per forward pass from.
 *
 * @module
 */
import type { SamplerName } from "./sample.ts";

/** The default sampler. */
export const DEFAULT_SAMPLER: SamplerName = "ddim";

/** The default number of sampler steps (network evaluations) for the step-skipping samplers. */
export const DEFAULT_STEPS = 50;

/**
 * DDIM's default η: 0, deterministic DDIM. η = 1 (fresh noise in every step, as in DDPM) memorises
 * more: it pulls samples onto the simplest training faces.
 */
export const DEFAULT_ETA = 0;

/**
 * The most images one forward pass takes by default (the batch is min(n, this)): large enough that
 * per-call overheads vanish, small enough that a `unet` forward's activations fit the wasm heap.
 */
export const DEFAULT_MAX_BATCH = 64;

/**
 * The default images per forward pass for `n` images.
 *
 * @example
 * ```ts
 * import { defaultBatch, DEFAULT_MAX_BATCH } from "./defaults.ts";
 * console.assert(defaultBatch(10) === 10 && defaultBatch(100000) === DEFAULT_MAX_BATCH);
 * ```
 */
export function defaultBatch(n: number): number {
  return Math.min(n, DEFAULT_MAX_BATCH);
}
