/**
 * Data-parallel sampling on the CPU backends: at every step of the reverse process, the batch's noise
 * prediction is split into parts, the first computed on the calling thread and each other one by a
 * worker (`noise_worker.ts`) holding a copy of the model's sampling weights. Only ε is computed apart:
 * the sampler, its random draws and every x_t stay on the calling thread, so a seed gives the same
 * images with or without workers, to within float rounding of the network's products.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { ParamMap } from "../model/context.ts";
import type { DiffusionModel, ModelConfig } from "../model/model.ts";
import type { DiffusionSchedule, ScheduleKind } from "../core/schedule.ts";
import { DataParallelError, splitSizes } from "../backend/parallel_plan.ts";
import { WorkerPool } from "../backend/worker_pool.ts";
import { type GuidanceLimit, guidedNoise } from "./guidance.ts";
import { FlatLayout } from "../train/flat.ts";

/** What a sampling worker needs to hold the model. */
export interface NoiseWorkerInit {
  /** The CPU backend, as `initBackend` names it. */
  backend: "native" | "wasm" | "cpu";
  /** BLAS threads of the worker's backend (its wasm kernels run on one thread). */
  threads: number;
  /** Folder the wasm build may write its scripts to. */
  tempDir?: string;
  /** The model config, label vocabulary included. */
  model: ModelConfig;
  /** Image side in pixels. */
  imageSize: number;
  /** The sampling weights, back to back in the model's parameter order. */
  params: Float32Array;
  /** The model's state (BatchNorm running statistics), back to back in its order. */
  state: Float32Array;
  /** The noise schedule (an `edm` model's ε needs it). */
  schedule: { kind: ScheduleKind; T: number };
}

/** One part of a batch at one step. */
export interface NoiseRequest {
  /** x_t of the part, NHWC. */
  x: Float32Array;
  /** One timestep per image of the part. */
  t: number[];
  /** Label indices of the part, [field][image] (−1: none), or undefined. */
  labels?: Int32Array[];
  /** Guidance weight. */
  w: number;
  /** Guidance interval. */
  limit?: GuidanceLimit;
}

/** Every variable of `map`, back to back in its order, in one read-back. */
async function flat(map: ParamMap): Promise<Float32Array> {
  const t = new FlatLayout(map).flatten([...map.values()]);
  try {
    return await t.data() as Float32Array;
  } finally {
    t.dispose();
  }
}

/**
 * The workers of data-parallel sampling for one model and its sampling weights.
 * {@linkcode NoiseWorkers.guidedNoise} is `guidedNoise` with the batch split between the calling thread
 * and the workers.
 */
export class NoiseWorkers {
  #pool: WorkerPool<NoiseWorkerInit, NoiseRequest, Float32Array>;
  #model: DiffusionModel;
  #params: ParamMap;
  #schedule: DiffusionSchedule;

  private constructor(
    pool: WorkerPool<NoiseWorkerInit, NoiseRequest, Float32Array>,
    model: DiffusionModel,
    params: ParamMap,
    schedule: DiffusionSchedule,
  ) {
    this.#pool = pool;
    this.#model = model;
    this.#params = params;
    this.#schedule = schedule;
  }

  /** How many workers there are (parts per batch: one more). */
  get size(): number {
    return this.#pool.size;
  }

  /**
   * Starts `count` workers, each holding `model` with `params` (default: its own) on `backend`.
   *
   * @throws {DataParallelError} when a worker cannot start.
   */
  static async start(
    count: number,
    model: DiffusionModel,
    schedule: DiffusionSchedule,
    options: { backend: NoiseWorkerInit["backend"]; threads?: number; tempDir?: string; params?: ParamMap },
  ): Promise<NoiseWorkers> {
    const params = options.params ?? model.params;
    const init: NoiseWorkerInit = {
      backend: options.backend,
      threads: options.threads ?? 1,
      ...(options.tempDir !== undefined ? { tempDir: options.tempDir } : {}),
      model: model.config,
      imageSize: model.imageSize,
      params: await flat(params),
      state: await flat(model.state),
      schedule: { kind: schedule.kind, T: schedule.T },
    };
    const url = new URL("./noise_worker.ts", import.meta.url);
    return new NoiseWorkers(
      await WorkerPool.start(url, count, init, "sampling worker"),
      model,
      params,
      schedule,
    );
  }

  /**
   * ε(x_t, t) of a batch with label indices `labels` ([field][example]) and guidance `w` (limited by
   * `limit`), as `guidedNoise` gives it, computed in parts: the first here, the others on the workers
   * at the same time. The result is the caller's. (Internal: how sampling uses the workers.)
   *
   * @ignore
   */
  guidedNoise(
    labels: readonly Int32Array[] | undefined,
    w: number,
    limit?: GuidanceLimit,
  ): (x: tf.Tensor4D, t: number[]) => Promise<tf.Tensor4D> {
    return async (x, t) => {
      if (this.size === 0) throw new DataParallelError("the sampling workers were closed");
      const b = x.shape[0];
      const sizes = splitSizes(b, this.size + 1);
      const part = (from: number, n: number) => labels?.map((f) => f.slice(from, from + n));
      const local = (n: number) =>
        guidedNoise(this.#model, part(0, n), w, this.#params, limit, this.#schedule);
      if (sizes.length === 1) return local(b)(x, t);
      const per = x.size / b;
      const values = await x.data() as Float32Array;
      let from = sizes[0];
      const remote = sizes.slice(1).map((n, k) => {
        const request: NoiseRequest = {
          x: values.slice(from * per, (from + n) * per),
          t: t.slice(from, from + n),
          ...(labels ? { labels: part(from, n) } : {}),
          w,
          ...(limit ? { limit } : {}),
        };
        from += n;
        return this.#pool.call(k, request, [request.x.buffer as ArrayBuffer]);
      });
      const all = Promise.all(remote);
      all.catch(() => {}); // awaited below; a failure must not go unhandled meanwhile
      const head = tf.slice(x, [0, 0, 0, 0], [sizes[0], -1, -1, -1]);
      const first = local(sizes[0])(head, t.slice(0, sizes[0]));
      head.dispose();
      let rest: Float32Array[];
      try {
        rest = await all;
      } catch (err) {
        first.dispose();
        throw err;
      }
      const shape = x.shape.slice(1) as [number, number, number];
      const eps = tf.tidy(() =>
        tf.concat([first, ...rest.map((r, k) => tf.tensor4d(r, [sizes[k + 1], ...shape]))], 0) as tf.Tensor4D
      );
      first.dispose();
      return eps;
    };
  }

  /**
   * A denoiser for the edits (`edit.ts`'s `Denoiser`) asking for the same resolved labels (one index per
   * field, −1 = null) in every example, or none, with guidance `w` limited by `limit`: what
   * `denoiserForLabels` gives, computed in parts. (Internal: how the edits use the workers.)
   *
   * @ignore
   */
  denoiser(
    labels: readonly number[] | undefined,
    w: number,
    limit?: GuidanceLimit,
  ): { imageSize: number; predict(x: tf.Tensor4D, t: number[]): Promise<tf.Tensor> } {
    return {
      imageSize: this.#model.imageSize,
      predict: (x, t) => {
        const idx = labels?.map((k) => new Int32Array(x.shape[0]).fill(k));
        return this.guidedNoise(idx, w, limit)(x, t);
      },
    };
  }

  /** Ends every worker. */
  close(): void {
    this.#pool.close();
  }
}
