/**
 * `deno task bench`: one table of training images/s, forward ms and sampling seconds per image,
 * per backend and preset, and one of what a training step costs (kernels by kind, readbacks, bytes
 * of new tensor data: figures that do not depend on the hardware); `--peer` runs the notebook's PyTorch model in the same sitting and
 * prints the ratios.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import {
  BACKEND_REQUESTS,
  type BackendName,
  initBackend,
  nativeAvailable,
  probeGpuAdapter,
} from "../src/backend/select.ts";
import { intFlag, parseFlags, runCli, UsageError } from "../src/cli/flags.ts";
import { benchForward, benchSampling, benchTrainStep, benchTrainStepCost, splitsFor } from "./perf/bench.ts";
import { MODEL_PRESETS, modelConfig } from "../src/model/model.ts";
import { atomicWriteFile } from "../src/platform/io.ts";
import { activeCpuBackend } from "../src/backend/parallel_plan.ts";

const USAGE = `usage: deno task bench [options]
  --backends LIST   backends to measure (default: native when a system BLAS loads, wasm, and webgpu
                    when a hardware adapter exists; cpu and the llvmpipe software adapter are
                    ~100-1000x slower: ask for them by name)
  --presets LIST    model presets (default unet,seed)
  --repeats N       timed runs per figure, median reported (default 5)
  --quick           skip the full sampling runs (DDIM-50 of 64 images, DDPM-500 extrapolated)
  --peer            also run the notebook's PyTorch model (../shared/peers/seed_torch_bench.py)
  --threads N       CPU threads of every backend (wasm and BLAS) and of the --peer (default 2; with
                    --workers, each part's BLAS threads, default 1)
  --workers N       split each training batch and sampling batch into N data-parallel parts on the CPU
                    backends, as train and sample do by default on native (default 1; the seed preset
                    trains in one part)
  --json FILE       also write the figures as JSON`;

interface Row {
  backend: string;
  preset: string;
  trainImgPerS8: number;
  trainImgPerS16: number;
  trainImgPerS32: number;
  forwardMs8: number;
  forwardMs64: number;
  ddim50SPerImg?: number;
  ddim50Of64S?: number;
  ddpm500SPerImg?: number;
  /** Kernels dispatched by one training step at batch 16. */
  kernelsPerStep: number;
  /** Readbacks per training step. */
  syncsPerStep: number;
  /** MB of new tensor data per training step at batch 16. */
  mbPerStep: number;
  /** The most frequent kernels of a step. */
  topKernels: string;
}

async function runPeer(threads: number): Promise<Record<string, number> | null> {
  const script = fileURLToPath(new URL("../../shared/peers/seed_torch_bench.py", import.meta.url));
  for (const python of ["/usr/bin/python3", "python3"]) {
    try {
      const out = await new Deno.Command(python, {
        args: [script, "--threads", String(threads), "--sample-steps", "50"],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder().decode(out.stdout).trim().split("\n").pop() ?? "";
      if (out.code === 0 && text.startsWith("{")) return JSON.parse(text);
    } catch {
      // try the next interpreter
    }
  }
  return null;
}

async function main(): Promise<void> {
  const { values: v } = parseFlags({
    args: Deno.args,
    options: {
      backends: { type: "string" },
      presets: { type: "string" },
      repeats: { type: "string" },
      quick: { type: "boolean" },
      peer: { type: "boolean" },
      threads: { type: "string" },
      workers: { type: "string" },
      json: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (v.help) return console.log(USAGE);
  const repeats = intFlag("repeats", v.repeats, 5, 1, 100);
  const parts = intFlag("workers", v.workers, 1, 1, 16);
  const threads = intFlag("threads", v.threads, parts > 1 ? 1 : 2, 1, 256);
  const gpu = await probeGpuAdapter();
  const backends = (v.backends?.split(",").map((s) => s.trim()) ??
    [
      ...(gpu.adapter && !gpu.fallback ? ["webgpu"] : []),
      ...(nativeAvailable() ? ["native"] : []),
      "wasm",
    ]) as BackendName[];
  for (const b of backends) {
    if (!BACKEND_REQUESTS.includes(b) || b === ("auto" as string)) {
      throw new UsageError(`--backends "${b}" is unknown: choose from webgpu, native, wasm, cpu`);
    }
  }
  const presets = (v.presets?.split(",").map((s) => s.trim()) ?? ["unet", "seed"]) as ("unet" | "seed")[];
  for (const p of presets) {
    if (!MODEL_PRESETS.includes(p)) {
      throw new UsageError(`--presets "${p}" is unknown: choose from ${MODEL_PRESETS.join(", ")}`);
    }
  }
  const rows: Row[] = [];
  for (const backend of backends) {
    const info = await initBackend(
      backend,
      parts > 1
        ? { wasmThreads: 1, blasThreads: threads, tempDir: "data/.cache" }
        : { wasmThreads: threads, tempDir: "data/.cache" },
    );
    for (const preset of presets) {
      const model = modelConfig(preset);
      console.error(`measuring ${preset} on ${info.name}…`);
      const cost = await benchTrainStepCost(model, 16);
      const row: Row = {
        backend: info.name + (info.fallbackAdapter ? " (software)" : "") +
          (splitsFor(model, parts) > 1 ? `, ${parts} parts` : ""),
        preset,
        kernelsPerStep: cost.kernels,
        syncsPerStep: cost.syncs,
        mbPerStep: cost.bytes / 1e6,
        topKernels: cost.byKind.slice(0, 6).map(([k, n]) => `${k} ${n}`).join(", "),
        trainImgPerS8: 8 / await benchTrainStep(model, 8, repeats, parts),
        trainImgPerS16: 16 / await benchTrainStep(model, 16, repeats, parts),
        trainImgPerS32: 32 / await benchTrainStep(model, 32, repeats, parts),
        forwardMs8: await benchForward(model, 8, repeats),
        forwardMs64: await benchForward(model, 64, repeats),
      };
      // one denoising step is one forward pass: DDPM-500 per image = 500 × forward(64) / 64
      row.ddpm500SPerImg = 500 * row.forwardMs64 / 1000 / 64;
      if (!v.quick) {
        row.ddim50Of64S = 64 * await benchSampling(model, "ddim", 64, 64, 50, activeCpuBackend() ? parts : 1);
        row.ddim50SPerImg = row.ddim50Of64S / 64;
      } else {
        row.ddim50SPerImg = 50 * row.forwardMs64 / 1000 / 64;
      }
      rows.push(row);
    }
  }
  const f = (x: number | undefined, d = 1) => x === undefined ? "–" : x.toFixed(d);
  const lines = [
    "| backend | preset | train img/s b8 | b16 | b32 | forward ms b8 | forward ms b64 | DDIM-50 s/img | 64 × DDIM-50 s | DDPM-500 s/img |",
    "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ...rows.map((r) =>
      `| ${r.backend} | ${r.preset} | ${f(r.trainImgPerS8)} | ${f(r.trainImgPerS16)} | ${
        f(r.trainImgPerS32)
      } | ${f(r.forwardMs8, 0)} | ` +
      `${f(r.forwardMs64, 0)} | ${f(r.ddim50SPerImg, 3)} | ${f(r.ddim50Of64S)} | ${f(r.ddpm500SPerImg, 2)} |`
    ),
  ];
  lines.push(
    "",
    "| backend | preset | kernels / step b16 | syncs / step | MB new tensor data / step b16 | most frequent kernels |",
    "|---|---|---:|---:|---:|---|",
    ...rows.map((r) =>
      `| ${r.backend} | ${r.preset} | ${r.kernelsPerStep} | ${r.syncsPerStep} | ${
        f(r.mbPerStep, 0)
      } | ${r.topKernels} |`
    ),
  );
  let peer: Record<string, number> | null = null;
  if (v.peer) {
    console.error("running the PyTorch peer…");
    peer = await runPeer(threads);
    if (!peer) {
      lines.push(
        "",
        "peer: python3 with torch not found (apt-get install python3-torch libopenblas0-pthread)",
      );
    } else {
      lines.push(
        "",
        `peer (notebook's PyTorch model, torch ${peer.torch}, ${peer.threads} threads): ` +
          `train ${peer.train_img_per_s} img/s at batch 8; DDPM ${peer.sample_steps} steps ` +
          `${peer.sample_s_per_img} s/img at batch ${peer.sample_batch}`,
      );
      for (const r of rows.filter((r) => r.preset === "seed")) {
        const perStep = r.forwardMs8 / 1000 / 8;
        const peerPerStep = peer.sample_s_per_img / peer.sample_steps;
        lines.push(
          `ratio ${r.backend}/peer, seed preset: training ${
            (r.trainImgPerS8 / peer.train_img_per_s).toFixed(2)
          }× ` +
            `(higher is better), sampling step at batch 8 ${(peerPerStep / perStep).toFixed(2)}× as fast`,
        );
      }
    }
  }
  console.log(lines.join("\n"));
  if (v.json) await atomicWriteFile(v.json, JSON.stringify({ rows, peer }, null, 2) + "\n");
}

if (import.meta.main) await runCli(main);
