/**
 * The notebook's noising strip: x_t = √ᾱ_t·x0 + √(1−ᾱ_t)·ε for a few images at a few timesteps,
 * one block of rows per schedule, laid out for {@linkcode makeGrid}.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { qSampleTensor } from "../core/q_sample.ts";
import type { Rng } from "../core/rng.ts";
import { checkTimestep, type DiffusionSchedule } from "../core/schedule.ts";

/** The strip's float data and layout. */
export interface ForwardStrip {
  /** NHWC floats, unclipped x_t, row-major over the grid: `rows·cols` images. */
  data: Float32Array;
  /** `schedules.length · count`: for each schedule, one row per image. */
  rows: number;
  /** `timesteps.length`. */
  cols: number;
  /** Image side. */
  size: number;
}

/**
 * Computes x_t with {@linkcode qSampleTensor} (exactly, no clamping) for every image × timestep × schedule.
 * One ε per image (drawn from `rng` in image order, `size·size·3` normals each) is shared by all its
 * columns and schedules, so the strip shows the same noise growing and the schedules compare fairly.
 * Uses the active tfjs backend; reads results with `await data()`; leaks no tensors.
 *
 * @param x0 NHWC floats in [−1, 1] of `count` images
 * @param count number of images (rows per schedule)
 * @param size image side
 * @param schedules one block of rows per schedule
 * @param timesteps the columns, each in [0, T)
 * @param rng noise source
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import "@tensorflow/tfjs-backend-cpu";
 * import * as tf from "@tensorflow/tfjs-core";
 * import { forwardStrip } from "./forward_strip.ts";
 * import { makeSchedule } from "../core/schedule.ts";
 * import { Rng } from "../core/rng.ts";
 * await tf.setBackend("cpu");
 * const strip = await forwardStrip(new Float32Array(4 * 4 * 3), 1, 4, [makeSchedule("linear")], [0, 499], new Rng(0));
 * assert.equal(strip.rows, 1);
 * assert.equal(strip.cols, 2);
 * assert.equal(strip.data.length, 2 * 48);
 * ```
 */
export async function forwardStrip(
  x0: Float32Array,
  count: number,
  size: number,
  schedules: DiffusionSchedule[],
  timesteps: number[],
  rng: Rng,
): Promise<ForwardStrip> {
  const per = size * size * 3, cols = timesteps.length;
  if (x0.length !== count * per) {
    throw new RangeError(`x0 holds ${x0.length} values, expected ${count}x${size}x${size}x3`);
  }
  if (cols === 0 || schedules.length === 0) {
    throw new RangeError("forwardStrip needs at least one timestep and schedule");
  }
  for (const s of schedules) for (const t of timesteps) checkTimestep(t, s.T);
  const noise = rng.normalArray(count * per);
  // One batch of count·cols examples: image e at column j is example e·cols + j.
  const xRep = new Float32Array(count * cols * per), nRep = new Float32Array(count * cols * per);
  const tRep: number[] = [];
  for (let e = 0; e < count; e++) {
    for (let j = 0; j < cols; j++) {
      const k = e * cols + j;
      xRep.set(x0.subarray(e * per, (e + 1) * per), k * per);
      nRep.set(noise.subarray(e * per, (e + 1) * per), k * per);
      tRep.push(timesteps[j]);
    }
  }
  const data = new Float32Array(schedules.length * count * cols * per);
  const shape: [number, number, number, number] = [count * cols, size, size, 3];
  const x = tf.tensor4d(xRep, shape), n = tf.tensor4d(nRep, shape);
  try {
    for (let s = 0; s < schedules.length; s++) {
      const xt = qSampleTensor(schedules[s], x, tRep, n);
      try {
        data.set(await xt.data(), s * count * cols * per);
      } finally {
        xt.dispose();
      }
    }
  } finally {
    x.dispose();
    n.dispose();
  }
  return { data, rows: schedules.length * count, cols, size };
}
