/**
 * emoji-diffusion: a denoising diffusion model (DDPM) that learns emoji faces and draws new ones
 * from noise, on TensorFlow.js in Deno (WebGPU when there is a GPU, a trainable wasm backend
 * otherwise).
 *
 * @example Noise an image with the forward process
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import { initBackend, makeSchedule, qSample } from "./mod.ts";
 * await initBackend("cpu", { log: null });
 * const schedule = makeSchedule("linear", 500);
 * const x0 = tf.zeros([1, 32, 32, 3]) as tf.Tensor4D;
 * const xt = qSample(schedule, x0, [499], tf.randomNormal([1, 32, 32, 3]) as tf.Tensor4D);
 * console.assert(xt.shape[1] === 32);
 * ```
 *
 * @module
 */
export {
  BACKEND_REQUESTS,
  type BackendInfo,
  type BackendName,
  type BackendRequest,
  initBackend,
  type InitBackendOptions,
} from "./src/backend.ts";
export {
  cosineBetaSchedule,
  type DiffusionSchedule,
  linearBetaSchedule,
  makeSchedule,
  SCHEDULE_KINDS,
  scheduleFromBetas,
  type ScheduleKind,
} from "./src/schedule.ts";
export { qSample } from "./src/q_sample.ts";
export { Rng, type RngState } from "./src/rng.ts";
