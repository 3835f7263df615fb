/**
 * A per-kernel profile of one inference forward pass or one training step: which tfjs kernels run,
 * how often, and how long each takes, so that the non-convolution time can be found and removed.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { DiffusionModel, type ModelConfig } from "../../src/model/model.ts";
import { Rng } from "../../src/core/rng.ts";
import type { Trainer } from "../../src/train/trainer.ts";

/** One kernel's share of a forward pass. */
export interface KernelProfileRow {
  /** The tfjs kernel name (Conv2D, FusedConv2D, Add, …). */
  kernel: string;
  /** Calls per forward pass. */
  count: number;
  /** Milliseconds per forward pass, summed over the calls. */
  ms: number;
}

/** What {@linkcode profileForward} measures. */
export interface ForwardProfile {
  /** Kernels by total time, largest first. */
  rows: KernelProfileRow[];
  /** Wall-clock milliseconds of the profiled forward pass (with the profiler's own overhead). */
  wallMs: number;
  /** Milliseconds of the same forward pass run without the profiler (median of the runs). */
  plainMs: number;
  /** Sum of the kernels' milliseconds. */
  kernelMs: number;
}

/**
 * Profiles one inference forward pass of a fresh model (weights drawn from seed 0) at `batch` on
 * the active backend, kernel by kernel, after `warmup` unprofiled passes; `repeats` profiled
 * passes are summed per kernel and averaged.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { initBackend } from "../../src/backend/select.ts";
 * import { modelConfig } from "../../src/model/model.ts";
 * import { profileForward } from "./profile.ts";
 * await initBackend("cpu", { log: null });
 * const p = await profileForward(modelConfig("unet", { channels: 8, channelMult: [1, 2], groups: 4 }), 1, 1, 0);
 * assert.ok(p.rows.some((r) => r.kernel.includes("Conv2D")));
 * assert.ok(p.kernelMs > 0);
 * ```
 */
export async function profileForward(
  config: ModelConfig,
  batch: number,
  repeats = 3,
  warmup = 1,
): Promise<ForwardProfile> {
  const model = new DiffusionModel(config, 0);
  const rng = new Rng(5);
  const x = tf.tensor4d(rng.normalArray(batch * 32 * 32 * 3), [batch, 32, 32, 3]);
  const t = Array.from({ length: batch }, (_, i) => (i * 37) % 500);
  try {
    return await profileRuns(
      async () => {
        const y = model.predict(x, t);
        await y.data();
        y.dispose();
      },
      repeats,
      warmup,
    );
  } finally {
    x.dispose();
    model.dispose();
  }
}

/**
 * Profiles one training step (forward, backward, Adam, EMA) of `trainer` the same way as
 * {@linkcode profileForward}: per kernel, after `warmup` unprofiled steps.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { initBackend } from "../../src/backend/select.ts";
 * import { benchTrainer } from "./bench.ts";
 * import { modelConfig } from "../../src/model/model.ts";
 * import { profileTrainStep } from "./profile.ts";
 * await initBackend("cpu", { log: null });
 * const trainer = benchTrainer(modelConfig("unet", { channels: 8, channelMult: [1, 2], groups: 4 }), 1);
 * const p = await profileTrainStep(trainer, 1, 0);
 * trainer.dispose();
 * assert.ok(p.rows.some((r) => r.kernel === "Conv2DBackpropFilter") && p.kernelMs > 0);
 * ```
 */
export function profileTrainStep(trainer: Trainer, repeats = 3, warmup = 1): Promise<ForwardProfile> {
  return profileRuns(async () => void await trainer.trainStep(), repeats, warmup);
}

/** Times `run` plainly, then under tf.profile, and sums the registered kernels' times. */
async function profileRuns(
  run: () => Promise<void>,
  repeats: number,
  warmup: number,
): Promise<ForwardProfile> {
  const backend = tf.getBackend();
  for (let i = 0; i < warmup; i++) await run();
  const plain: number[] = [];
  for (let i = 0; i < Math.max(1, repeats); i++) {
    const t0 = performance.now();
    await run();
    plain.push(performance.now() - t0);
  }
  const byKernel = new Map<string, KernelProfileRow>();
  let wall = 0;
  for (let r = 0; r < Math.max(1, repeats); r++) {
    const t0 = performance.now();
    const info = await tf.profile(run);
    wall += performance.now() - t0;
    for (const k of info.kernels) {
      // ops with their own gradient (tf.customGrad, fused ops) are recorded as scopes around
      // kernels that are listed themselves: count only registered kernels
      if (!tf.getKernel(k.name, backend)) continue;
      const row = byKernel.get(k.name) ?? { kernel: k.name, count: 0, ms: 0 };
      row.count++;
      // a backend without kernel timers reports {error}: count the call, not its time
      if (typeof k.kernelTimeMs === "number") row.ms += k.kernelTimeMs;
      byKernel.set(k.name, row);
    }
  }
  const n = Math.max(1, repeats);
  const rows = [...byKernel.values()].map((r) => ({ kernel: r.kernel, count: r.count / n, ms: r.ms / n }))
    .sort((a, b) => b.ms - a.ms);
  plain.sort((a, b) => a - b);
  return {
    rows,
    wallMs: wall / n,
    plainMs: plain[plain.length >> 1],
    kernelMs: rows.reduce((s, r) => s + r.ms, 0),
  };
}

/**
 * The profile as a Markdown table: the `top` kernels by time, then the rest summed, the kernel total
 * and the time outside kernels (op dispatch, JS work between kernels).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatProfile } from "./profile.ts";
 * const text = formatProfile({ rows: [{ kernel: "Conv2D", count: 2, ms: 8 }, { kernel: "Add", count: 4, ms: 2 }], wallMs: 11, plainMs: 10.5, kernelMs: 10 }, 1);
 * assert.ok(text.includes("| Conv2D | 2 | 8.0 | 80 % |"));
 * assert.ok(text.includes("| (1 other kernels) | 4 | 2.0 | 20 % |"));
 * ```
 */
export function formatProfile(p: ForwardProfile, top = 15): string {
  const pct = (ms: number) => `${Math.round(100 * ms / p.kernelMs)} %`;
  const lines = ["| kernel | calls | ms | share of kernel time |", "|---|---:|---:|---:|"];
  for (const r of p.rows.slice(0, top)) {
    lines.push(`| ${r.kernel} | ${Math.round(r.count)} | ${r.ms.toFixed(1)} | ${pct(r.ms)} |`);
  }
  const rest = p.rows.slice(top);
  if (rest.length) {
    const ms = rest.reduce((s, r) => s + r.ms, 0), count = rest.reduce((s, r) => s + r.count, 0);
    lines.push(`| (${rest.length} other kernels) | ${Math.round(count)} | ${ms.toFixed(1)} | ${pct(ms)} |`);
  }
  const calls = p.rows.reduce((s, r) => s + r.count, 0);
  lines.push(`| **all kernels** | ${Math.round(calls)} | ${p.kernelMs.toFixed(1)} | 100 % |`);
  lines.push(
    "",
    `forward pass without the profiler: ${p.plainMs.toFixed(1)} ms; outside kernels (dispatch, JS): ` +
      `${Math.max(0, p.plainMs - p.kernelMs).toFixed(1)} ms`,
  );
  return lines.join("\n");
}
