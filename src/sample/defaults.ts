/**
 * The sampler names and the sampling defaults: the one place `deno task sample`, `deno task eval`
 * and the library read the sampler, its step count, DDIM's η and the images per forward pass from.
 *
 * @module
 */

/**
 * The samplers: `ddpm` (ancestral, all T steps), `ddim` (S steps, η), `dpm++2m` (DPM-Solver++(2M),
 * S steps, deterministic).
 */
export type SamplerName = "ddpm" | "ddim" | "dpm++2m";

/** The valid sampler names. */
export const SAMPLERS: readonly SamplerName[] = ["ddpm", "ddim", "dpm++2m"];

/**
 * The default sampler: DDIM (with {@linkcode DEFAULT_ETA} = 0, deterministic). Chosen with
 * {@linkcode DEFAULT_STEPS} by measurement (`docs/fast_sampling.md`): the fewest network evaluations
 * whose KID is within one std of DDIM-50's in both feature spaces and whose memorisation is not
 * higher, among DDIM at 10 and 20 steps and DPM-Solver++(2M) at 8 to 25.
 */
export const DEFAULT_SAMPLER: SamplerName = "ddim";

/** The default number of sampler steps (network evaluations) of `ddim` and `dpm++2m`. */
export const DEFAULT_STEPS = 20;

/**
 * DDIM's default η: 0, deterministic DDIM. η = 1 (fresh noise in every step, as in DDPM) memorises
 * more: it pulls samples onto the simplest training faces.
 */
export const DEFAULT_ETA = 0;

/**
 * The most images one forward pass takes by default (the batch is min(n, this)). A `unet` inference
 * forward keeps ≈ 11 MB of activations per image alive until it returns, so 64 images take ≈ 0.7 GB
 * of the wasm heap and 256 would take ≈ 2.9 GB, close to wasm32's 4 GB limit; beyond 64 the
 * convolutions run no faster per image.
 */
export const DEFAULT_MAX_BATCH = 64;

/**
 * The default images per forward pass for `n` images.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defaultBatch, DEFAULT_MAX_BATCH } from "./defaults.ts";
 * assert.equal(defaultBatch(10), 10);
 * assert.equal(defaultBatch(100000), DEFAULT_MAX_BATCH);
 * ```
 */
export function defaultBatch(n: number): number {
  return Math.min(n, DEFAULT_MAX_BATCH);
}

/**
 * How a training run draws the sample grid it writes with every checkpoint: a short deterministic
 * DDIM run from a fixed seed, so that the grids of one run differ only by the weights.
 */
export const PROGRESS_GRID_SAMPLING = { sampler: "ddim", steps: 25, seed: 1234 } as const;

/**
 * The checkpoint `deno task sample` and `deno task eval` use when no `--checkpoint` is given: the
 * shipped `faces8` model, whose own defaults (in its checkpoint) ask for Apple's style.
 */
export const DEFAULT_CHECKPOINT = "data/models/faces8/unet.safetensors";

/**
 * The guidance weight w of a conditioned model whose checkpoint records none: 1, the plain
 * conditional model (ε_null + 1·(ε_cond − ε_null) = ε_cond, one forward pass of B images). A shipped
 * model records its own, chosen by measurement (`SamplingDefaults.guidance`).
 */
export const DEFAULT_GUIDANCE = 1;
