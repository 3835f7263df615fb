/**
 * A data-parallel sampling worker (started by `parallel_noise.ts` in a `WorkerPool`): its own tfjs on
 * its own CPU backend and a copy of the model's sampling weights; per request it answers the guided
 * noise prediction ε for its part of a batch, as `guidedNoise` gives it on the calling thread.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../backend/select.ts";
import { ownBuffer, serveRequests } from "../backend/worker_pool.ts";
import { DiffusionModel } from "../model/model.ts";
import { assignFlat } from "../model/context.ts";
import { type DiffusionSchedule, makeSchedule } from "../core/schedule.ts";
import { guidedNoise } from "./guidance.ts";
import type { NoiseRequest, NoiseWorkerInit } from "./parallel_noise.ts";

let replica: { model: DiffusionModel; schedule: DiffusionSchedule } | null = null;

serveRequests<NoiseWorkerInit, NoiseRequest, Float32Array>(
  async (m) => {
    // one wasm thread (its threaded build is not started inside a worker); the BLAS may have more
    await initBackend(m.backend, { wasmThreads: 1, blasThreads: m.threads, log: null, tempDir: m.tempDir });
    const model = new DiffusionModel(m.model, 0, m.imageSize);
    assignFlat(model.params, m.params);
    assignFlat(model.state, m.state);
    replica = { model, schedule: makeSchedule(m.schedule.kind, m.schedule.T) };
  },
  async (r) => {
    const { model, schedule } = replica!;
    const x = tf.tensor4d(r.x, [r.t.length, model.imageSize, model.imageSize, 3]);
    const eps = guidedNoise(model, r.labels, r.w, model.params, r.limit, schedule)(x, r.t);
    x.dispose();
    const values = ownBuffer(await eps.data() as Float32Array);
    eps.dispose();
    return { result: values, transfer: [values.buffer] };
  },
);
