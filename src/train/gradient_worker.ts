/**
 * A data-parallel gradient worker (started by `data_parallel.ts` in a `WorkerPool`): its own
 * tfjs on its own CPU backend and a replica of the model; per request it takes the current weights and
 * a part of the batch, and answers with that part's flat gradient and loss.
 *
 * @module
 */
import { initBackend } from "../backend/select.ts";
import { ownBuffer, serveRequests } from "../backend/worker_pool.ts";
import { assignFlat, ForwardContext } from "../model/context.ts";
import { DiffusionModel } from "../model/model.ts";
import { makeSchedule } from "../core/schedule.ts";
import { Rng } from "../core/rng.ts";
import { batchGradients, type FlatGradients } from "./batch_loss.ts";
import type { GradientRequest, WorkerInit } from "./data_parallel.ts";

let replica: { model: DiffusionModel; schedule: ReturnType<typeof makeSchedule> } | null = null;

serveRequests<WorkerInit, GradientRequest, FlatGradients>(
  async (m) => {
    // one wasm thread (its threaded build is not started inside a worker); the BLAS may have more
    await initBackend(m.backend, { wasmThreads: 1, blasThreads: m.threads, log: null, tempDir: m.tempDir });
    replica = {
      model: new DiffusionModel(m.model, m.seed, m.imageSize),
      schedule: makeSchedule(m.schedule.kind, m.schedule.T),
    };
  },
  async (r) => {
    const { model, schedule } = replica!;
    assignFlat(model.params, r.weights);
    // dropout and BatchNorm are refused before a worker starts: the context draws nothing
    const ctx = new ForwardContext(model.params, model.state, true, { rate: 0, rng: new Rng(0) });
    const { grads, loss } = await batchGradients(model, schedule, ctx, r.batch);
    const own = ownBuffer(grads);
    return { result: { grads: own, loss }, transfer: [own.buffer] };
  },
);
