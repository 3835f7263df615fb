/**
 * The flags that `deno task sample` and `deno task eval` share: how to sample (sampler, steps, η, seed,
 * backend, threads), which checkpoint, what to condition on (labels, guidance and its interval), and
 * one progress printer.
 *
 * @module
 */
import { type BackendRequest, initBackend, parseBackendRequest } from "../backend/select.ts";
import {
  activeCpuBackend,
  DataParallelError,
  type ParallelPlan,
  planParallel,
  splitSizes,
} from "../backend/parallel_plan.ts";
import type { DiffusionModel } from "../model/model.ts";
import type { DiffusionSchedule } from "../core/schedule.ts";
import { NoiseWorkers } from "../sample/parallel_noise.ts";
import { type Checkpoint, loadCheckpoint } from "../checkpoint/format.ts";
import { type Labels, resolveLabels, withDefaultLabels } from "../model/labels.ts";
import { pathExists } from "../platform/io.ts";
import {
  DEFAULT_ETA,
  DEFAULT_SAMPLER,
  DEFAULT_STEPS,
  defaultBatch,
  type SamplerName,
  SAMPLERS,
} from "../sample/defaults.ts";
import { formatSamplingProgress } from "../sample/progress.ts";
import type { GuidanceInterval } from "../sample/guidance_interval.ts";
import {
  asUsage,
  choiceFlag,
  intervalFlag,
  intFlag,
  labelFlags,
  numberFlag,
  threadsFlag,
  UsageError,
} from "./flags.ts";

/** The parseArgs options both tasks take. */
export const SAMPLING_OPTIONS = {
  checkpoint: { type: "string" },
  n: { type: "string" },
  batch: { type: "string" },
  sampler: { type: "string" },
  steps: { type: "string" },
  eta: { type: "string" },
  seed: { type: "string" },
  prior: { type: "string" },
  backend: { type: "string" },
  threads: { type: "string" },
  workers: { type: "string" },
  out: { type: "string" },
  label: { type: "string", multiple: true },
  guidance: { type: "string" },
  "guidance-interval": { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

/** The raw values of {@linkcode SAMPLING_OPTIONS}. */
export interface SamplingFlagValues {
  checkpoint?: string;
  sampler?: string;
  steps?: string;
  eta?: string;
  seed?: string;
  backend?: string;
  threads?: string;
  workers?: string;
  label?: string[];
  guidance?: string;
  "guidance-interval"?: string;
}

/** How to sample, from the flags. */
export interface SamplerFlags {
  /** The sampler. */
  sampler: SamplerName;
  /** Its steps (network evaluations of ddim and dpm++2m). */
  steps: number;
  /** DDIM's η. */
  eta: number;
  /** The sampling seed. */
  seed: number;
  /** The backend asked for. */
  backend: BackendRequest;
  /** CPU threads. */
  threads: number | "auto";
  /** Parts each batch's network evaluations are split into (`auto`: see `planParallel`). */
  workers: number | "auto";
}

/** The usage lines of `--threads` and `--workers`, shared by sample and eval. */
export const PARALLEL_USAGE =
  `  --threads N         CPU threads (wasm and BLAS): auto (default: all CPUs when idle at start, else 1) or N;
                      with several --workers parts, each part's BLAS threads (auto: 1)
  --workers N         split each batch's network evaluations into N parts computed at the same time, this
                      thread and N-1 workers each with its own backend (CPU backends; the same images to
                      within float rounding). auto (default): 2 parts of half the CPUs each on the native
                      backend when at least 2 CPUs are idle, else 1`;

/**
 * `--sampler`, `--steps`, `--eta`, `--seed`, `--backend`, `--threads` and `--workers`, each checked by
 * name.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { samplerFlags } from "./sampling_flags.ts";
 * assert.deepEqual(samplerFlags({ sampler: "ddpm", seed: "3" }), {
 *   sampler: "ddpm", steps: 20, eta: 0, seed: 3, backend: "auto", threads: "auto", workers: "auto",
 * });
 * assert.throws(() => samplerFlags({ eta: "2" }), /--eta must be a number in \[0, 1\]/);
 * ```
 */
export function samplerFlags(v: SamplingFlagValues): SamplerFlags {
  return {
    sampler: choiceFlag("sampler", v.sampler, SAMPLERS, DEFAULT_SAMPLER),
    steps: intFlag("steps", v.steps, DEFAULT_STEPS, 1),
    eta: numberFlag("eta", v.eta, DEFAULT_ETA, 0, 1),
    seed: intFlag("seed", v.seed, 0, 0),
    backend: asUsage(() => parseBackendRequest(v.backend ?? "auto"), "--backend: "),
    threads: threadsFlag(v.threads),
    workers: v.workers === undefined || v.workers === "auto"
      ? "auto"
      : intFlag("workers", v.workers, 1, 1, 16),
  };
}

/**
 * Plans the parts of `--workers` and `--threads` ({@linkcode planParallel}) and starts the backend
 * with them; returns the plan, for {@linkcode withSamplingWorkers}.
 *
 * @throws {UsageError} for several given parts on a GPU backend.
 */
export async function startSamplingBackend(
  s: Pick<SamplerFlags, "backend" | "threads" | "workers">,
): Promise<ParallelPlan> {
  const plan = await planParallel({
    request: s.backend,
    threads: s.threads,
    workers: s.workers,
    splittable: true,
  })
    .catch((err) => {
      throw err instanceof DataParallelError
        ? new UsageError(`--workers: ${err.message}`, { cause: err })
        : err;
    });
  // several parts: each runs its wasm kernels on one thread and its products on `threads` BLAS threads
  await initBackend(
    s.backend,
    plan.workers > 1
      ? { wasmThreads: 1, blasThreads: plan.threads as number, tempDir: "data/.cache" }
      : { wasmThreads: plan.threads, tempDir: "data/.cache" },
  );
  return plan;
}

/**
 * Runs `run` with the sampling workers of a plan for `model` (undefined for one part, or a batch too
 * small to split), started on the backend in use for `images` images drawn `batch` at a time (default
 * {@linkcode defaultBatch}), and closes them when it ends; says on stderr how each batch is split.
 */
export async function withSamplingWorkers<T>(
  plan: ParallelPlan,
  loaded: { model: DiffusionModel; schedule: DiffusionSchedule },
  sizing: { images: number; batch?: number },
  run: (workers: NoiseWorkers | undefined) => Promise<T>,
): Promise<T> {
  const workers = await startWorkers(
    plan,
    loaded,
    Math.min(sizing.batch ?? defaultBatch(sizing.images), sizing.images),
  );
  try {
    return await run(workers);
  } finally {
    workers?.close();
  }
}

async function startWorkers(
  plan: ParallelPlan,
  { model, schedule }: { model: DiffusionModel; schedule: DiffusionSchedule },
  batch: number,
): Promise<NoiseWorkers | undefined> {
  const sizes = splitSizes(batch, plan.workers);
  const backend = activeCpuBackend();
  if (sizes.length <= 1 || !backend) return undefined;
  const workers = await NoiseWorkers.start(sizes.length - 1, model, schedule, {
    backend,
    threads: plan.threads === "auto" ? 1 : plan.threads,
    tempDir: "data/.cache",
  });
  console.error(
    `data-parallel: each batch of ${batch} in ${sizes.length} parts (${
      sizes.join(" + ")
    }), this thread and ` +
      `${sizes.length - 1} worker${sizes.length > 2 ? "s" : ""} on ${backend}`,
  );
  return workers;
}

/**
 * The checkpoint of `--checkpoint` (else `fallback`), loaded; a missing file is a usage error whose
 * message says how to make one (`missingDefault` when the default is missing).
 */
export async function checkpointFlag(
  value: string | undefined,
  fallback: string,
  missingDefault?: string,
): Promise<{ path: string; ckpt: Checkpoint }> {
  const path = value ?? fallback;
  if (!(await pathExists(path))) {
    throw new UsageError(
      value === undefined && missingDefault
        ? missingDefault
        : `--checkpoint "${path}" does not exist; train one with "deno task train"`,
    );
  }
  return { path, ckpt: await loadCheckpoint(path) };
}

/** What to condition on, from the flags and the checkpoint's own sampling defaults. */
export interface ConditioningFlags {
  /** The labels given with `--label`, checked against the vocabulary. */
  asked: Labels;
  /** `asked` with the model's default labels filling the fields not asked for. */
  labels: Labels;
  /** `--guidance`, else the model's own weight. */
  guidance?: number;
  /** `--guidance-interval`, else the model's own. */
  guidanceInterval?: GuidanceInterval;
}

/**
 * `--label`, `--guidance` and `--guidance-interval` against the checkpoint: unknown fields or values,
 * and labels or guidance for an unconditional model, are usage errors (LabelError) naming the flag.
 */
export function conditioningFlags(v: SamplingFlagValues, ckpt: Checkpoint): ConditioningFlags {
  const asked = labelFlags("label", v.label ?? []);
  resolveLabels(ckpt.meta.model.labels, asked); // unknown fields or values, or labels for an unconditional model
  const guidance = v.guidance === undefined
    ? ckpt.meta.sampling?.guidance
    : numberFlag("guidance", v.guidance, 1, -100, 100);
  const guidanceInterval = intervalFlag("guidance-interval", v["guidance-interval"]) ??
    ckpt.meta.sampling?.guidanceInterval;
  return { asked, labels: withDefaultLabels(asked, ckpt.meta.sampling), guidance, guidanceInterval };
}

/**
 * A sampling progress callback for `n` images: on a terminal one line rewritten in place at every
 * percent, otherwise a line every `every` percent.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { progressPrinter } from "./sampling_flags.ts";
 * const lines: string[] = [];
 * const onProgress = progressPrinter(8, { every: 50, tty: false, print: (l) => lines.push(l) });
 * for (let i = 1; i <= 4; i++) onProgress(i, 4);
 * assert.equal(lines.length, 2); // 50 % and 100 %
 * assert.match(lines[1], /^sampling 4\/4 steps \(100%\)/);
 * ```
 */
export function progressPrinter(
  n: number,
  { every = 25, tty = Deno.stderr.isTerminal(), print = (line: string) => console.error(line) }: {
    every?: number;
    tty?: boolean;
    print?: (line: string) => void;
  } = {},
): (done: number, total: number) => void {
  let last = -1;
  const t0 = performance.now();
  const encoder = new TextEncoder();
  return (done, total) => {
    const pct = Math.floor(100 * done / total);
    if (pct === last || !(tty || pct % every === 0)) return;
    last = pct;
    const line = formatSamplingProgress(done, total, n, (performance.now() - t0) / 1000);
    if (tty) Deno.stderr.writeSync(encoder.encode(`\r${line}\x1b[K${done === total ? "\n" : ""}`));
    else print(line);
  };
}
