/**
 * One measurement of the GPU check in its own process (one tfjs backend per process), printed as one
 * JSON line on stdout. Run by `tools/gpu_check.ts`; not a user command.
 *
 * ```
 * deno run … tools/gpu_check_worker.ts auto
 * deno run … tools/gpu_check_worker.ts bench  --backend webgpu --preset unet --train-batches 8,32,128 \
 *            --sample-batches 64,256 [--sample-steps K] [--repeats N] [--budget-s S] [--software]
 * deno run … tools/gpu_check_worker.ts sample --backend wasm --checkpoint FILE --n 64 --steps 50 --seed 0 --raw FILE
 * ```
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { parseArgs } from "node:util";
import { type BackendName, initBackend, probeGpuAdapter } from "../src/backend/select.ts";
import { DATA_MEAN_TENSOR, loadCheckpoint } from "../src/checkpoint/format.ts";
import { DiffusionModel, type ModelConfig, modelConfig } from "../src/model/model.ts";
import { modelFromCheckpoint } from "../src/model/from_checkpoint.ts";
import { makeSchedule } from "../src/core/schedule.ts";
import { sampleImages } from "../src/sample/sample.ts";
import { benchTrainer, median } from "./perf/bench.ts";

/** Kernel and sync counts of one call, when the code base has the step-cost counters. */
interface Cost {
  kernels: number;
  syncs: number;
}

type Measure = <T>(fn: () => Promise<T>) => Promise<{ result: T; cost: Cost }>;

/** The step-cost counters (`tools/perf/step_cost.ts`) when this code base has them, else null. */
async function costCounter(): Promise<Measure | null> {
  // a computed specifier: the counters are optional, and a checkout without them still type-checks
  const specifier = new URL("./perf/step_cost.ts", import.meta.url).href;
  try {
    const mod = await import(specifier);
    return typeof mod.measureCost === "function" ? mod.measureCost as Measure : null;
  } catch {
    return null;
  }
}

function ints(name: string, value: string | undefined, fallback: number[]): number[] {
  if (value === undefined) return fallback;
  const xs = value.split(",").map((s) => Number(s.trim()));
  if (xs.length === 0 || xs.some((x) => !Number.isInteger(x) || x < 1)) {
    throw new RangeError(`--${name} must be a comma list of positive integers, got "${value}"`);
  }
  return xs;
}

/** Times `fn` after one warm-up call: up to `repeats` runs, stopping early once `budgetS` is spent. */
async function timeRuns(fn: () => Promise<void>, repeats: number, budgetS: number): Promise<number[]> {
  await fn();
  const times: number[] = [];
  const start = performance.now();
  while (times.length < repeats && (times.length === 0 || performance.now() - start < budgetS * 1000)) {
    const t0 = performance.now();
    await fn();
    times.push((performance.now() - t0) / 1000);
  }
  return times;
}

async function start(backend: BackendName, software: boolean, wasmThreads: number | "auto") {
  const info = await initBackend(backend, { log: null, wasmThreads, tempDir: "data/.cache" });
  if (info.name === "webgpu" && info.fallbackAdapter && !software) {
    throw new Error(
      `webgpu runs on a software adapter (${info.adapter}); pass --software to measure it anyway`,
    );
  }
  return info;
}

/** The number of steps of the default sampler, read from the sampler itself (one step is run). */
async function defaultSamplerSteps(model: DiffusionModel): Promise<number> {
  let total = 0;
  const stop = new Error("stop");
  try {
    await sampleImages(model, makeSchedule("linear", 500), {
      n: 1,
      onProgress: (_done, all) => {
        total = all;
        throw stop;
      },
    });
  } catch (err) {
    if (err !== stop) throw err;
  }
  return total;
}

async function bench(v: Record<string, string | boolean | undefined>): Promise<unknown> {
  const backend = String(v.backend) as BackendName;
  const info = await start(backend, Boolean(v.software), v["wasm-threads"] === "1" ? 1 : "auto");
  const preset = String(v.preset ?? "unet") as ModelConfig["preset"];
  const model = modelConfig(preset);
  const repeats = Number(v.repeats ?? 3);
  const budgetS = Number(v["budget-s"] ?? 10);
  const measure = await costCounter();
  const train = [];
  for (const batch of ints("train-batches", v["train-batches"] as string, [8, 32, 128])) {
    const trainer = benchTrainer(model, batch);
    try {
      const times = await timeRuns(async () => void await trainer.trainStep(), repeats, budgetS);
      const cost = measure ? (await measure(() => trainer.trainStep())).cost : null;
      const stepS = median(times);
      train.push({
        batch,
        stepS,
        imgPerS: batch / stepS,
        runs: times.length,
        ...(cost ? { kernels: cost.kernels, syncs: cost.syncs } : {}),
      });
    } finally {
      trainer.dispose();
    }
  }
  const m = new DiffusionModel(model, 0);
  const sample = [];
  try {
    const defaultSteps = await defaultSamplerSteps(m);
    // --sample-steps K times K steps of the default sampler and scales to its full length; 0 = all
    const k = Number(v["sample-steps"] ?? 0);
    for (const batch of ints("sample-batches", v["sample-batches"] as string, [64, 256])) {
      const measured = k > 0 ? Math.min(k, defaultSteps) : defaultSteps;
      const run = async () => {
        const r = await sampleImages(m, makeSchedule("linear", 500), {
          n: batch,
          batch,
          seed: 0,
          ...(measured < defaultSteps ? { steps: measured } : {}),
        });
        return r.seconds;
      };
      await run(); // warm-up: shader compiles and buffer pools
      const seconds = await run();
      let cost: Cost | null = null;
      if (measure) {
        const x = tf.randomNormal([batch, 32, 32, 3]) as tf.Tensor4D;
        cost = (await measure(async () => {
          const y = m.predict(x, new Array(batch).fill(250));
          await y.data();
          y.dispose();
        })).cost;
        x.dispose();
      }
      sample.push({
        batch,
        defaultSteps,
        measuredSteps: measured,
        sPerImg: seconds / measured * defaultSteps / batch,
        ...(cost ? { forwardKernels: cost.kernels, forwardSyncs: cost.syncs } : {}),
      });
    }
  } finally {
    m.dispose();
  }
  return {
    backend: info.name,
    adapter: info.adapter ?? null,
    software: info.fallbackAdapter ?? false,
    reason: info.reason,
    preset,
    counters: Boolean(measure),
    train,
    sample,
  };
}

async function sample(v: Record<string, string | boolean | undefined>): Promise<unknown> {
  const info = await start(String(v.backend) as BackendName, Boolean(v.software), "auto");
  const ckpt = await loadCheckpoint(String(v.checkpoint));
  const loaded = modelFromCheckpoint(ckpt, true);
  const n = Number(v.n ?? 64), steps = Number(v.steps ?? 50), seed = Number(v.seed ?? 0);
  const result = await sampleImages(loaded.model, loaded.schedule, {
    n,
    batch: n,
    sampler: "ddim",
    steps,
    eta: 0,
    seed,
    dataMean: ckpt.tensors.get(DATA_MEAN_TENSOR)?.data,
  });
  await Deno.writeFile(String(v.raw), new Uint8Array(result.images.buffer));
  loaded.model.dispose();
  return {
    backend: info.name,
    adapter: info.adapter ?? null,
    n,
    steps,
    seed,
    size: result.size,
    seconds: result.seconds,
  };
}

async function auto(): Promise<unknown> {
  const probe = await probeGpuAdapter();
  const info = await initBackend("auto", { log: null, tempDir: "data/.cache" });
  return {
    picked: info.name,
    reason: info.reason,
    adapter: probe.adapter ? probe.description : null,
    software: probe.fallback,
    hardwareAdapter: Boolean(probe.adapter && !probe.fallback),
  };
}

if (import.meta.main) {
  const { values: v, positionals } = parseArgs({
    args: Deno.args,
    allowPositionals: true,
    options: Object.fromEntries(
      [
        "backend",
        "preset",
        "train-batches",
        "sample-batches",
        "sample-steps",
        "repeats",
        "budget-s",
        "wasm-threads",
        "checkpoint",
        "n",
        "steps",
        "seed",
        "raw",
      ].map((k) => [k, { type: "string" as const }]).concat(
        [["software", { type: "boolean" as const }]] as never,
      ),
    ),
  });
  const mode = positionals[0];
  const run = mode === "auto" ? auto : mode === "bench" ? bench : mode === "sample" ? sample : null;
  if (!run) {
    console.error(`error: mode must be auto, bench or sample, got "${mode}"`);
    Deno.exit(2);
  }
  try {
    console.log(JSON.stringify(await run(v as Record<string, string | boolean | undefined>)));
    // wasm worker threads and GPU devices would otherwise keep the process alive
    Deno.exit(0);
  } catch (err) {
    console.error(`error: ${(err as Error).message}`);
    Deno.exit(1);
  }
}
