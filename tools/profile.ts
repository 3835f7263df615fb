/**
 * `deno task profile`: the top kernels of one inference forward pass per model preset, by time and
 * call count, on one backend (default wasm with 2 threads, batch 64).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { type BackendName, initBackend } from "../src/backend/select.ts";
import { choiceFlag, intFlag, runCli, threadsFlag, UsageError } from "../src/cli/flags.ts";
import { MODEL_PRESETS, modelConfig } from "../src/model/model.ts";
import { formatProfile, profileForward, profileTrainStep } from "./perf/profile.ts";
import { benchTrainer } from "./perf/bench.ts";
import { setInferenceFusion } from "../src/model/fusion.ts";

const USAGE = `usage: deno task profile [options]
  --presets LIST    model presets (default unet,seed)
  --batch N         images per forward pass (default 64)
  --backend NAME    wasm (default) | native | cpu | webgpu
  --threads N       wasm and BLAS threads (default 2)
  --repeats N       profiled passes averaged (default 3)
  --top N           kernels listed before the rest is summed (default 15)
  --unfused         without the inference fast paths (the op-by-op forward the gradients use)
  --train           one training step (forward, backward, Adam, EMA) instead of a forward pass
  --compare         both, interleaved: fast, op-by-op, fast, op-by-op`;

async function main(): Promise<void> {
  const { values: v } = parseArgs({
    args: Deno.args,
    options: {
      presets: { type: "string" },
      batch: { type: "string" },
      backend: { type: "string" },
      threads: { type: "string" },
      repeats: { type: "string" },
      top: { type: "string" },
      unfused: { type: "boolean" },
      compare: { type: "boolean" },
      train: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (v.help) return console.log(USAGE);
  const batch = intFlag("batch", v.batch, 64, 1, 1024);
  const repeats = intFlag("repeats", v.repeats, 3, 1, 100);
  const top = intFlag("top", v.top, 15, 1, 1000);
  const backend = choiceFlag(
    "backend",
    v.backend,
    ["wasm", "native", "cpu", "webgpu"] as const,
    "wasm",
  ) as BackendName;
  const presets = (v.presets?.split(",").map((s) => s.trim()) ?? ["unet", "seed"]) as ("unet" | "seed")[];
  for (const p of presets) {
    if (!MODEL_PRESETS.includes(p)) {
      throw new UsageError(`--presets "${p}" is unknown: choose from ${MODEL_PRESETS.join(", ")}`);
    }
  }
  const info = await initBackend(backend, { wasmThreads: threadsFlag(v.threads, 2), tempDir: "data/.cache" });
  if (v.train) {
    for (const preset of presets) {
      console.error(`profiling a ${preset} training step at batch ${batch} on ${info.name}…`);
      const trainer = benchTrainer(modelConfig(preset), batch);
      try {
        const p = await profileTrainStep(trainer, repeats);
        console.log(`\n### ${preset} training step, batch ${batch}, ${info.name} (${info.reason})\n`);
        console.log(formatProfile(p, top).replace("forward pass", "training step"));
      } finally {
        trainer.dispose();
      }
    }
    return;
  }
  const modes = v.compare ? [true, false, true, false] : [!v.unfused];
  for (const preset of presets) {
    for (const fused of modes) {
      setInferenceFusion(fused);
      console.error(`profiling ${preset} at batch ${batch} on ${info.name}${fused ? "" : ", op by op"}…`);
      const p = await profileForward(modelConfig(preset), batch, repeats);
      const mode = fused ? "inference fast paths" : "op by op (--unfused)";
      console.log(`\n### ${preset}, batch ${batch}, ${info.name} (${info.reason}), ${mode}\n`);
      console.log(formatProfile(p, top));
    }
  }
}

if (import.meta.main) await runCli(main);
