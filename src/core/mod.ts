/**
 * The diffusion core, free of any model or backend: the β schedules (linear, cosine), the forward
 * process q(x_t | x_0), the seeded random stream every run draws from, and float16 conversion.
 *
 * @module
 */
export * from "./float16.ts";
export * from "./q_sample.ts";
export * from "./rng.ts";
export * from "./schedule.ts";
