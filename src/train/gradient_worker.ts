/**
 * A data-parallel gradient worker (started by `data_parallel.ts` as a module Worker): its own tfjs on
 * its own CPU backend and a replica of the model; per message it takes the current weights and a part
 * of the batch, and answers with that part's flat gradient and loss.
 *
 * Messages in: `{ type: "init", init: WorkerInit }`, then `{ type: "grads", id, weights, batch }`.
 * Messages out: `{ type: "ready" }`, `{ type: "grads", id, grads, loss }` or `{ type: "error", id?, message }`.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../backend/select.ts";
import { ForwardContext } from "../model/context.ts";
import { DiffusionModel } from "../model/model.ts";
import { makeSchedule } from "../core/schedule.ts";
import { Rng } from "../core/rng.ts";
import { batchGradients } from "./batch_loss.ts";
import type { GradientRequest, WorkerInit } from "./data_parallel.ts";

interface Scope {
  onmessage: ((e: MessageEvent) => void) | null;
  postMessage(message: unknown, transfer?: Transferable[]): void;
}
const scope = globalThis as unknown as Scope;

let replica: { model: DiffusionModel; schedule: ReturnType<typeof makeSchedule> } | null = null;
// messages are handled one at a time, in order
let queue: Promise<void> = Promise.resolve();

async function init(m: WorkerInit): Promise<void> {
  await initBackend(m.backend, {
    wasmThreads: m.threads,
    blasThreads: m.threads,
    log: null,
    tempDir: m.tempDir,
  });
  replica = {
    model: new DiffusionModel(m.model, m.seed, m.imageSize),
    schedule: makeSchedule(m.schedule.kind, m.schedule.T),
  };
  scope.postMessage({ type: "ready" });
}

async function gradients(r: GradientRequest): Promise<void> {
  const { model, schedule } = replica!;
  let offset = 0;
  for (const v of model.params.values()) {
    const w = tf.tensor(r.weights.subarray(offset, offset + v.size), v.shape);
    v.assign(w);
    w.dispose();
    offset += v.size;
  }
  // dropout and BatchNorm are refused before a worker starts: the context draws nothing
  const ctx = new ForwardContext(model.params, model.state, true, { rate: 0, rng: new Rng(0) });
  const { grads, loss } = await batchGradients(model, schedule, ctx, r.batch);
  // moved, not copied: a fresh array of its own buffer (a view of the heap is copied first)
  const own = grads.buffer instanceof ArrayBuffer && grads.byteLength === grads.buffer.byteLength
    ? grads
    : grads.slice();
  scope.postMessage({ type: "grads", id: r.id, grads: own, loss }, [own.buffer as ArrayBuffer]);
}

scope.onmessage = (e: MessageEvent) => {
  const m = e.data;
  queue = queue.then(() => m.type === "init" ? init(m.init) : gradients(m)).catch((err) => {
    scope.postMessage({ type: "error", id: m.id, message: (err as Error)?.message ?? String(err) });
  });
};
