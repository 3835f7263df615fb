/**
 * How a training run uses the CPUs: how many data-parallel parts each batch is split into (`--workers`)
 * and how many threads each part's backend gets (`--threads`).
 *
 * `--workers auto` (the train task's default) splits the batch in two, each part with half the CPUs,
 * when the run would use the `native` backend on a machine with at least two idle CPUs and a model that
 * can be split (no BatchNorm, no dropout). That is where it was measured to pay: on two cores, one part
 * with two BLAS and wasm threads trained the `unet` at 17–23 images/s and two one-thread parts at 33–41.
 * On plain wasm the two were alike (17 against 17–20), so wasm keeps its threaded build; a GPU keeps the
 * whole batch; a busy machine keeps one part, as `--threads auto` keeps one thread there.
 *
 * @module
 */
import { type BackendRequest, nativeAvailable, probeGpuAdapter } from "./select.ts";
import { idleCpus } from "./idle_cpus.ts";
import { DataParallelError } from "./worker_pool.ts";

export { DataParallelError };
import { activeBlas } from "./native/mod.ts";
import * as tf from "@tensorflow/tfjs-core";

/** What {@linkcode planParallel} decides. */
export interface ParallelPlan {
  /** Parts each batch is split into (1: no workers). */
  workers: number;
  /**
   * With one part: the backend's threads as `--threads` gives them (`"auto"`: the backend's choice).
   * With several: each part's BLAS threads (each part's wasm kernels run on its own single thread).
   */
  threads: number | "auto";
  /** Why, for the run's report, e.g. `2 idle CPUs and the native backend`. */
  why: string;
}

/** The machine facts {@linkcode planParallel} reads; tests give their own. */
export interface PlanProbe {
  /** Logical CPUs. */
  cpus(): number;
  /** Idle CPUs now, or null where unknown. */
  idle(): Promise<number | null>;
  /** Whether the system BLAS loads (the `native` backend can start). */
  native(): boolean;
  /** Whether a hardware GPU adapter exists (`auto` would take it). */
  hardwareGpu(): Promise<boolean>;
}

const MACHINE: PlanProbe = {
  cpus: () => navigator.hardwareConcurrency || 1,
  idle: () => idleCpus(300),
  native: () => nativeAvailable(),
  hardwareGpu: async () => {
    const p = await probeGpuAdapter();
    return p.adapter !== null && !p.fallback;
  },
};

/**
 * The parts and threads of a run from its flags: explicit `workers` are taken as given (their threads
 * default to 1 each); `"auto"` follows the rule in this module's description.
 *
 * @param o.request the `--backend` asked for
 * @param o.threads `--threads` (`"auto"` unless given)
 * @param o.workers `--workers` (`"auto"` unless given)
 * @param o.splittable whether the model and dropout allow parts (see `dataParallelRefusal`)
 * @param probe the machine facts (default: this machine's)
 * @throws {DataParallelError} (refused) for several given parts on a GPU backend
 *
 * @example A busy or single-CPU machine keeps one part
 * ```ts
 * import assert from "node:assert/strict";
 * import { planParallel } from "./parallel_plan.ts";
 * const busy = { cpus: () => 2, idle: async () => 0.9, native: () => true, hardwareGpu: async () => false };
 * const plan = await planParallel({ request: "auto", threads: "auto", workers: "auto", splittable: true }, busy);
 * assert.equal(plan.workers, 1);
 * assert.equal(plan.threads, "auto");
 * ```
 */
export async function planParallel(
  o: { request: BackendRequest; threads: number | "auto"; workers: number | "auto"; splittable: boolean },
  probe: PlanProbe = MACHINE,
): Promise<ParallelPlan> {
  if (o.workers !== "auto") {
    if (o.workers > 1 && (o.request === "webgpu" || (o.request === "auto" && await probe.hardwareGpu()))) {
      throw cpuOnly("webgpu");
    }
    const threads = o.workers > 1 && o.threads === "auto" ? 1 : o.threads;
    return { workers: o.workers, threads, why: "--workers" };
  }
  const one = (why: string): ParallelPlan => ({ workers: 1, threads: o.threads, why });
  if (!o.splittable) return one("the model or dropout draws for the whole batch");
  if (o.threads !== "auto") return one("--threads is given");
  if (o.request !== "auto" && o.request !== "native") return one(`the ${o.request} backend`);
  if (!probe.native()) return one("no system BLAS");
  if (o.request === "auto" && await probe.hardwareGpu()) return one("a hardware GPU");
  const cpus = probe.cpus();
  if (cpus < 2) return one("one CPU");
  const idle = await probe.idle();
  // the calling thread's own core is idle while this samples: want nearly all of them free
  if (idle === null || idle < cpus - 0.4) {
    return one(idle === null ? "CPU load unknown" : `only ${idle.toFixed(1)} of ${cpus} CPUs idle`);
  }
  return {
    workers: 2,
    threads: Math.max(1, Math.floor(cpus / 2)),
    why: `${cpus} idle CPUs and the native backend`,
  };
}

/**
 * The sizes of `parts` parts of a batch of `n`, as equal as possible, the larger first; parts that
 * would be empty are left out.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { splitSizes } from "./parallel_plan.ts";
 * assert.deepEqual(splitSizes(16, 2), [8, 8]);
 * assert.deepEqual(splitSizes(7, 3), [3, 2, 2]);
 * assert.deepEqual(splitSizes(2, 4), [1, 1]);
 * ```
 */
export function splitSizes(n: number, parts: number): number[] {
  const k = Math.max(1, Math.min(n, parts));
  return Array.from({ length: k }, (_, i) => Math.floor(n / k) + (i < n % k ? 1 : 0));
}

/**
 * The CPU backend tfjs runs on now, as `initBackend` names it (`native` is the wasm backend with the
 * BLAS kernels registered), or null on a GPU backend: what data-parallel workers start.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { initBackend } from "./select.ts";
 * import { activeCpuBackend } from "./parallel_plan.ts";
 * await initBackend("cpu", { log: null });
 * assert.equal(activeCpuBackend(), "cpu");
 * ```
 */
export function activeCpuBackend(): "native" | "wasm" | "cpu" | null {
  const name = tf.getBackend();
  if (name === "cpu") return "cpu";
  if (name === "wasm") return activeBlas() ? "native" : "wasm";
  return null;
}

/**
 * {@linkcode activeCpuBackend}, for starting workers on it.
 *
 * @throws {DataParallelError} (refused) on a GPU backend.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { initBackend } from "./select.ts";
 * import { requireCpuBackend } from "./parallel_plan.ts";
 * await initBackend("cpu", { log: null });
 * assert.equal(requireCpuBackend(), "cpu");
 * ```
 */
export function requireCpuBackend(): "native" | "wasm" | "cpu" {
  const backend = activeCpuBackend();
  if (!backend) throw cpuOnly(tf.getBackend());
  return backend;
}

/** The refusal of workers on the GPU backend `name`. */
function cpuOnly(name: string): DataParallelError {
  return new DataParallelError(
    `data-parallel workers run on a CPU backend (native, wasm, cpu), not ${name}`,
    true,
  );
}
