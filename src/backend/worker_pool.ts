/**
 * A small pool of module Workers that each build something once (their `init`) and then answer
 * requests, one at a time and in order: what data-parallel training (`train/data_parallel.ts`) and
 * sampling (`sample/parallel_noise.ts`) run their parts on. Each worker usually starts its own tfjs
 * on its own CPU backend.
 *
 * The protocol: the pool posts `{ type: "init", init }` and waits for `{ type: "ready" }`; then each
 * `{ type: "call", id, request }` is answered by `{ type: "result", id, result }` or
 * `{ type: "error", id, message }`. The worker side is {@linkcode serveRequests}.
 *
 * @module
 */

/**
 * Data-parallel work (training or sampling split into parts) cannot run as asked: a model with
 * BatchNorm or dropout in training, a GPU backend, or a worker that failed to start or to compute.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DataParallelError } from "./worker_pool.ts";
 * assert.equal(new DataParallelError("no").name, "DataParallelError");
 * ```
 */
export class DataParallelError extends Error {
  /** Always `"DataParallelError"`. */
  override name = "DataParallelError";
  /**
   * An error saying what failed.
   *
   * @param message what failed, or why the run cannot be split
   * @param refused true when the run was refused before any work (the model, dropout or backend)
   */
  constructor(message: string, readonly refused = false) {
    super(message);
  }
}

interface Pending {
  resolve: (r: unknown) => void;
  reject: (e: Error) => void;
}

/**
 * Module workers of one script, each built by the same `init` message; {@linkcode WorkerPool.call}
 * sends one of them a request.
 */
export class WorkerPool<Init, Request, Result> {
  #workers: Worker[];
  #pending = new Map<number, Pending>();
  #nextId = 0;
  #failed: Error | null = null;

  private constructor(workers: Worker[]) {
    this.#workers = workers;
  }

  /** How many workers there are (0 once closed). */
  get size(): number {
    return this.#workers.length;
  }

  /**
   * Starts `count` workers of the module at `url`, each sent `init`; resolves when all are ready.
   * `what` names them in errors, e.g. `gradient worker`.
   *
   * @throws {DataParallelError} when a worker does not start (with the reason it gave).
   */
  static async start<I, Q, R>(
    url: URL,
    count: number,
    init: I,
    what = "worker",
  ): Promise<WorkerPool<I, Q, R>> {
    const workers: Worker[] = [];
    const pool = new WorkerPool<I, Q, R>(workers);
    const ready: Promise<void>[] = [];
    for (let i = 0; i < count; i++) {
      const w = new Worker(url.href, { type: "module" });
      workers.push(w);
      ready.push(
        new Promise<void>((resolve, reject) => {
          w.onmessage = (e: MessageEvent) => {
            if (e.data.type === "ready") {
              w.onmessage = (e: MessageEvent) => pool.#answer(e.data, what);
              resolve();
            } else reject(new DataParallelError(`a ${what} did not start: ${e.data.message}`));
          };
          w.onerror = (e: ErrorEvent) => {
            e.preventDefault();
            const err = new DataParallelError(`a ${what} failed: ${e.message}`);
            pool.#fail(err);
            reject(err);
          };
        }),
      );
      w.postMessage({ type: "init", init });
    }
    try {
      await Promise.all(ready);
    } catch (err) {
      pool.close();
      throw err;
    }
    return pool;
  }

  /**
   * Sends worker `k` a request (its `transfer` list moved, not copied) and resolves with its answer.
   *
   * @throws {DataParallelError} (as a rejection) when the worker fails or the pool is closed.
   */
  call(k: number, request: Request, transfer: Transferable[] = []): Promise<Result> {
    if (this.#failed) return Promise.reject(this.#failed);
    if (k < 0 || k >= this.#workers.length) throw new RangeError(`no worker ${k} of ${this.#workers.length}`);
    return new Promise<Result>((resolve, reject) => {
      const id = this.#nextId++;
      this.#pending.set(id, { resolve: resolve as (r: unknown) => void, reject });
      this.#workers[k].postMessage({ type: "call", id, request }, transfer);
    });
  }

  /** Ends every worker; pending and later calls fail. */
  close(): void {
    for (const w of this.#workers) w.terminate();
    this.#workers.length = 0;
    this.#fail(new DataParallelError("the workers were closed"));
  }

  #answer(m: { type: string; id: number; result?: unknown; message?: string }, what: string): void {
    const p = this.#pending.get(m.id);
    if (!p) return;
    this.#pending.delete(m.id);
    if (m.type === "result") p.resolve(m.result);
    else p.reject(new DataParallelError(`a ${what} failed: ${m.message}`));
  }

  #fail(err: Error): void {
    this.#failed ??= err;
    for (const p of this.#pending.values()) p.reject(err);
    this.#pending.clear();
  }
}

/** What a worker's request handler returns: its result and the buffers to move with it. */
export interface Answer<R> {
  /** The result. */
  result: R;
  /** Buffers moved to the pool instead of copied. */
  transfer?: Transferable[];
}

/**
 * The worker side of a {@linkcode WorkerPool}: call it once at the top of the worker's module. Messages
 * are handled one at a time, in order; a failure is answered with its message.
 */
export function serveRequests<I, Q, R>(
  init: (i: I) => Promise<void>,
  handle: (q: Q) => Promise<Answer<R>>,
): void {
  const scope = globalThis as unknown as {
    onmessage: ((e: MessageEvent) => void) | null;
    postMessage(message: unknown, transfer?: Transferable[]): void;
  };
  let queue: Promise<void> = Promise.resolve();
  scope.onmessage = (e: MessageEvent) => {
    const m = e.data;
    queue = queue.then(async () => {
      if (m.type === "init") {
        await init(m.init);
        scope.postMessage({ type: "ready" });
      } else {
        const a = await handle(m.request);
        scope.postMessage({ type: "result", id: m.id, result: a.result }, a.transfer ?? []);
      }
    }).catch((err) => {
      scope.postMessage({ type: "error", id: m.id, message: (err as Error)?.message ?? String(err) });
    });
  };
}

/**
 * The array itself when it owns its whole buffer (so that the buffer can be moved), else a copy that
 * does (a view into a larger heap, or shared memory).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ownBuffer } from "./worker_pool.ts";
 * const whole = new Float32Array(4);
 * assert.equal(ownBuffer(whole), whole);
 * const view = whole.subarray(1, 3);
 * assert.equal(ownBuffer(view).buffer.byteLength, 8);
 * ```
 */
export function ownBuffer(a: Float32Array): Float32Array<ArrayBuffer> {
  return a.buffer instanceof ArrayBuffer && a.byteOffset === 0 && a.byteLength === a.buffer.byteLength
    ? a as Float32Array<ArrayBuffer>
    : a.slice() as Float32Array<ArrayBuffer>;
}
