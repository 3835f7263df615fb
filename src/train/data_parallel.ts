/**
 * Data-parallel training on the CPU backends: each batch is split into parts, the first computed on
 * the calling thread and each other one by a worker (`gradient_worker.ts`) with its own tfjs, backend
 * and model replica; the parts' gradients and losses are averaged, weighted by their sizes, into the
 * batch's, and the one optimizer on the calling thread applies them. The workers get the current
 * weights with every part, so only one copy of the optimizer state and EMA exists.
 *
 * Why: one training step of a small network on a CPU backend keeps about one core busy (the BLAS's own
 * threads gain little on its thin products, and the kernels between them are single-threaded), while
 * two whole steps side by side each keep their speed. Splitting the batch uses every core for the
 * whole step. The mean of the parts' means is the batch's mean up to float rounding, so a run with
 * workers follows the same trajectory as one without to within rounding, and is itself deterministic.
 *
 * @module
 */
import type { ModelConfig } from "../model/model.ts";
import type { ScheduleKind } from "../core/schedule.ts";
import type { FlatGradients, TrainBatch } from "./batch_loss.ts";
import { WorkerPool } from "../backend/worker_pool.ts";

/** What a worker needs to build its replica. */
export interface WorkerInit {
  /** The CPU backend, as `initBackend` names it. */
  backend: "native" | "wasm" | "cpu";
  /** BLAS threads of the worker's backend (its wasm kernels run on one thread). */
  threads: number;
  /** Folder the threaded wasm build may write its scripts to. */
  tempDir?: string;
  /** The model config, label vocabulary included. */
  model: ModelConfig;
  /** The model's seed (the replica's initial weights are overwritten before every part). */
  seed: number;
  /** Image side in pixels. */
  imageSize: number;
  /** The noise schedule. */
  schedule: { kind: ScheduleKind; T: number };
}

/** One part of a batch for a worker, with the weights to compute it at. */
export interface GradientRequest {
  /** Every parameter, back to back in the model's parameter order. */
  weights: Float32Array;
  /** The part. */
  batch: TrainBatch;
}

/**
 * Why a run of `model` with `dropout` cannot be split between workers, or null when it can: BatchNorm
 * (the `seed` preset) and dropout draw for the whole batch, so parts would not add up to it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { modelConfig } from "../model/model.ts";
 * import { dataParallelRefusal } from "./data_parallel.ts";
 * assert.equal(dataParallelRefusal(modelConfig("unet"), 0), null);
 * assert.match(dataParallelRefusal(modelConfig("seed"), 0)!, /BatchNorm/);
 * ```
 */
export function dataParallelRefusal(model: ModelConfig, dropout: number): string | null {
  if (model.preset === "seed") {
    return "data-parallel training needs a model without BatchNorm; the seed preset keeps running statistics";
  }
  if (dropout > 0) return "data-parallel training needs dropout 0: its masks are drawn for the whole batch";
  return null;
}

/**
 * The batch's gradient and loss from its parts': their mean weighted by `sizes` (the mean of the parts'
 * means is the batch's mean). Sums in part order, so the result does not depend on which part came back
 * first.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { combineGradients } from "./data_parallel.ts";
 * const g = combineGradients(
 *   [{ grads: Float32Array.of(1, 2), loss: 1 }, { grads: Float32Array.of(3, 6), loss: 4 }],
 *   [1, 3],
 * );
 * assert.deepEqual([...g.grads], [2.5, 5]);
 * assert.equal(g.loss, 3.25);
 * ```
 */
export function combineGradients(parts: FlatGradients[], sizes: number[]): FlatGradients {
  const n = sizes.reduce((a, b) => a + b, 0);
  const grads = new Float32Array(parts[0].grads.length);
  let loss = 0;
  parts.forEach((p, k) => {
    const w = sizes[k] / n;
    const g = p.grads;
    for (let j = 0; j < grads.length; j++) grads[j] += w * g[j];
    loss += w * p.loss;
  });
  return { grads, loss };
}

/**
 * The workers of a data-parallel run. {@linkcode GradientWorkers.start} starts them; every call of
 * {@linkcode GradientWorkers.gradients} sends each one part; {@linkcode GradientWorkers.close} ends them.
 */
export class GradientWorkers {
  #pool: WorkerPool<WorkerInit, GradientRequest, FlatGradients>;

  private constructor(pool: WorkerPool<WorkerInit, GradientRequest, FlatGradients>) {
    this.#pool = pool;
  }

  /** How many workers there are. */
  get size(): number {
    return this.#pool.size;
  }

  /**
   * Starts `count` workers, each building its replica from `init`; resolves when every one is ready.
   *
   * @throws {DataParallelError} when a worker cannot start (its message says why).
   */
  static async start(count: number, init: WorkerInit): Promise<GradientWorkers> {
    const url = new URL("./gradient_worker.ts", import.meta.url);
    return new GradientWorkers(await WorkerPool.start(url, count, init, "gradient worker"));
  }

  /**
   * The gradient and loss of each part, computed by one worker each at `weights` (parts.length must
   * not exceed {@linkcode GradientWorkers.size}). Start it before computing the caller's own part: the
   * workers compute while the caller does.
   */
  gradients(weights: Float32Array, parts: TrainBatch[]): Promise<FlatGradients[]> {
    if (parts.length > this.size) throw new RangeError(`${parts.length} parts for ${this.size} workers`);
    return Promise.all(parts.map((batch, k) => this.#pool.call(k, { weights, batch })));
  }

  /** Ends every worker; pending parts fail. */
  close(): void {
    this.#pool.close();
  }
}
