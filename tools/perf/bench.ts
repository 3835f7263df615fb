/**
 * Benchmarks: training images/s, forward latency and sampling time per image, as medians of
 * several timed runs after warm-up, all in one process so that ratios are measured side by side;
 * and what a training step costs in kernels, readbacks and bytes, which does not depend on the
 * hardware.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { EmojiDataset } from "../../src/dataset/mod.ts";
import { DiffusionModel, type ModelConfig } from "../../src/model/model.ts";
import { Rng } from "../../src/core/rng.ts";
import { makeSchedule } from "../../src/core/schedule.ts";
import { sampleImages } from "../../src/sample/sample.ts";
import { Trainer } from "../../src/train/trainer.ts";
import { dataParallelRefusal } from "../../src/train/data_parallel.ts";
import { activeCpuBackend } from "../../src/backend/parallel_plan.ts";
import { NoiseWorkers } from "../../src/sample/parallel_noise.ts";
import { measureCost, type StepCost } from "./step_cost.ts";

/** Median of a non-empty list. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

async function timeIt(fn: () => Promise<void>, warmup: number, repeats: number): Promise<number> {
  for (let i = 0; i < warmup; i++) await fn();
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  return median(times);
}

function randomDataset(count: number, size: number): EmojiDataset {
  const rng = new Rng(9);
  return new EmojiDataset(
    Float32Array.from({ length: count * size * size * 3 }, () => rng.uniform() * 2 - 1),
    count,
    size,
  );
}

/**
 * The trainer every speed measurement uses: `model` at `batch` on random 32×32 images (at least 64 of
 * them, and at least one batch), the notebook's schedule, a small learning rate.
 */
export function benchTrainer(model: ModelConfig, batch: number): Trainer {
  return new Trainer(
    {
      data: "synthetic",
      model,
      schedule: "linear",
      T: 500,
      batch,
      steps: 1e9,
      lr: 1e-4,
      warmup: 0,
      gradClip: 1,
      ema: 0.999,
      seed: 0,
    },
    randomDataset(Math.max(64, batch), 32),
  );
}

/**
 * Median seconds of one training step (forward, backward, Adam, EMA) at a batch size, with the batch
 * split into `parts` data-parallel parts where the model allows it (see {@linkcode splitsFor}).
 */
export async function benchTrainStep(
  model: ModelConfig,
  batch: number,
  repeats = 5,
  parts = 1,
): Promise<number> {
  const trainer = benchTrainer(model, batch);
  try {
    if (splitsFor(model, parts) > 1) await trainer.startWorkers(parts - 1, activeCpuBackend()!);
    return await timeIt(async () => void await trainer.trainStep(), 2, repeats) / 1000;
  } finally {
    trainer.dispose();
  }
}

/**
 * What one training step costs whatever the hardware: kernels (by kind), readbacks and bytes of new
 * tensor data, counted on the step after a warm-up step.
 */
export async function benchTrainStepCost(model: ModelConfig, batch: number): Promise<StepCost> {
  const trainer = benchTrainer(model, batch);
  try {
    await trainer.trainStep();
    return (await measureCost(() => trainer.trainStep())).cost;
  } finally {
    trainer.dispose();
  }
}

/** Median milliseconds of one inference forward pass (result read back) at a batch size. */
export async function benchForward(model: ModelConfig, batch: number, repeats = 5): Promise<number> {
  const m = new DiffusionModel(model, 0);
  const x = tf.randomNormal([batch, 32, 32, 3]) as tf.Tensor4D;
  const t = Array.from({ length: batch }, (_, i) => (i * 37) % 500);
  try {
    return await timeIt(
      async () => {
        const y = m.predict(x, t);
        await y.data();
        y.dispose();
      },
      2,
      repeats,
    );
  } finally {
    x.dispose();
    m.dispose();
  }
}

/**
 * Seconds per image of a full sampling run (n images, DDIM with `steps` or DDPM with T), each batch's
 * network evaluations split into `parts` parts (workers started before the clock starts).
 */
export async function benchSampling(
  model: ModelConfig,
  sampler: "ddim" | "ddpm",
  n: number,
  batch: number,
  steps = 50,
  parts = 1,
): Promise<number> {
  const m = new DiffusionModel(model, 0);
  const schedule = makeSchedule("linear", 500);
  const backend = activeCpuBackend();
  const workers = parts > 1 && backend
    ? await NoiseWorkers.start(parts - 1, m, schedule, { backend })
    : undefined;
  try {
    const r = await sampleImages(m, schedule, {
      n,
      batch,
      sampler,
      steps,
      seed: 0,
      ...(workers ? { workers } : {}),
    });
    return r.seconds / n;
  } finally {
    workers?.close();
    m.dispose();
  }
}

/**
 * The training parts a benchmark of `model` gets for `parts` asked: 1 on a GPU backend or for a model
 * whose training cannot be split (BatchNorm, see `dataParallelRefusal`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { modelConfig } from "../../src/model/model.ts";
 * import { splitsFor } from "./bench.ts";
 * assert.equal(splitsFor(modelConfig("seed"), 2), 1);
 * ```
 */
export function splitsFor(model: ModelConfig, parts: number): number {
  return parts > 1 && activeCpuBackend() && dataParallelRefusal(model, 0) === null ? parts : 1;
}
