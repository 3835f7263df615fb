/**
 * `deno task gpu-check`: one prepared command that proves and measures the WebGPU path on a machine
 * with a hardware GPU adapter, and writes one JSON report and one markdown table.
 *
 * Steps, most valuable first, each in its own process with a time limit, the report rewritten after
 * each so that a run cut short still leaves what it measured:
 * 1. `--backend auto` must pick WebGPU on a hardware adapter;
 * 2. the WebGPU tests (`tests/webgpu_suite.ts`);
 * 3. the benchmark per backend × preset: training images/s per batch, sampling seconds per image of
 *    the default sampler per batch (wasm: timed over a few steps and scaled to the sampler's length),
 *    kernels and syncs per step where the code base has the step-cost counters;
 * 4. 64 samples of the shipped model with deterministic DDIM (η = 0) on WebGPU and on wasm from the
 *    same seed, and their mean absolute difference in 255 levels;
 * 5. the notebook's PyTorch model on CUDA (`seed_torch_bench.py --device cuda`) when torch imports.
 *
 * `--quick` shrinks every size so that the whole sequence can be rehearsed on a software adapter
 * (Mesa llvmpipe) in minutes; it then allows the software adapter where the real check refuses it.
 * This is a tool for developers, not part of the library: it lives in `tools/` and is not published.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { atomicWriteFile, pathExists } from "../src/platform/io.ts";
import { encodePng } from "../src/image/codec.ts";
import { makeGrid } from "../src/image/grid.ts";
import { runCli, UsageError } from "../src/cli/flags.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** Everything the check is told by its flags. */
export interface GpuCheckOptions {
  /** Tiny sizes for a rehearsal; the software adapter is accepted. */
  quick: boolean;
  /** Report folder. */
  out: string;
  /** Backends to benchmark, in order. */
  backends: ("webgpu" | "wasm")[];
  /** Model presets to benchmark. */
  presets: ("unet" | "seed")[];
  /** Training batch sizes. */
  trainBatches: number[];
  /** Sampling batch sizes. */
  sampleBatches: number[];
  /** Sampling steps timed on wasm before scaling to the full sampler (0 = all). */
  wasmSampleSteps: number;
  /** Timed runs per training figure (fewer when a figure's time budget runs out). */
  repeats: number;
  /** Images and DDIM steps of the WebGPU-vs-wasm comparison. */
  compareN: number;
  /** DDIM steps of the comparison. */
  compareSteps: number;
  /** Checkpoint sampled for the comparison. */
  checkpoint: string;
  /** The PyTorch peer script, or null to skip it. */
  peerScript: string | null;
  /** Run the WebGPU tests. */
  tests: boolean;
  /** Seconds each step may take before it is stopped and recorded as timed out. */
  stepTimeoutS: number;
}

const USAGE = `usage: deno task gpu-check [options]
  --quick              tiny sizes, software adapter allowed: a rehearsal (minutes on llvmpipe)
  --out DIR            report folder (default data/gpu-check): gpu-check.json, gpu-check.md, grids
  --backends LIST      webgpu,wasm (default both)
  --presets LIST       unet,seed (default both; --quick: seed)
  --train-batches LIST training batch sizes (default 8,32,128; --quick: 2)
  --sample-batches LIST sampling batch sizes (default 64,256; --quick: 2)
  --wasm-sample-steps K time K sampler steps on wasm and scale to the full sampler (default 3; 0 = all)
  --repeats N          timed runs per training figure (default 3; --quick: 1)
  --compare-n N        images of the WebGPU-vs-wasm comparison (default 64; --quick: 2)
  --compare-steps S    DDIM steps of the comparison (default 50; --quick: 2)
  --checkpoint FILE    model of the comparison (default data/models/apple-faces-unet.safetensors)
  --peer FILE          seed_torch_bench.py (default ../shared/peers/…, else .carry/peers/…)
  --no-peer            skip the PyTorch peer     --no-tests   skip the WebGPU tests
  --step-timeout S     seconds per step before it is stopped (default 300; --quick: 900)`;

function list(name: string, value: string | undefined, fallback: number[]): number[] {
  if (value === undefined) return fallback;
  const xs = value.split(",").map((s) => Number(s.trim()));
  if (value.trim() === "" || xs.some((x) => !Number.isInteger(x) || x < 1 || x > 4096)) {
    throw new UsageError(`--${name} must be a comma list of integers in [1, 4096], got "${value}"`);
  }
  return xs;
}

function int(name: string, value: string | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (value.trim() === "" || !Number.isInteger(n) || n < min || n > max) {
    throw new UsageError(`--${name} must be an integer in [${min}, ${max}], got "${value}"`);
  }
  return n;
}

function choices<T extends string>(
  name: string,
  value: string | undefined,
  all: readonly T[],
  fallback: T[],
): T[] {
  if (value === undefined) return fallback;
  const xs = value.split(",").map((s) => s.trim());
  for (const x of xs) {
    if (!(all as readonly string[]).includes(x)) {
      throw new UsageError(`--${name} "${x}" is unknown: choose from ${all.join(", ")}`);
    }
  }
  return xs as T[];
}

/**
 * Parses the check's flags; a bad flag throws a {@linkcode UsageError} naming it. `peerCandidates`
 * are tried in order for the default `--peer` (the first that exists wins).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseGpuCheckArgs } from "./gpu_check.ts";
 * const o = parseGpuCheckArgs(["--quick", "--no-peer"], []);
 * assert.ok(o.quick);
 * assert.equal(o.trainBatches.join(), "2");
 * assert.equal(o.peerScript, null);
 * ```
 */
export function parseGpuCheckArgs(args: string[], peerCandidates: string[]): GpuCheckOptions {
  const { values: v, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      quick: { type: "boolean" },
      out: { type: "string" },
      backends: { type: "string" },
      presets: { type: "string" },
      "train-batches": { type: "string" },
      "sample-batches": { type: "string" },
      "wasm-sample-steps": { type: "string" },
      repeats: { type: "string" },
      "compare-n": { type: "string" },
      "compare-steps": { type: "string" },
      checkpoint: { type: "string" },
      peer: { type: "string" },
      "no-peer": { type: "boolean" },
      "no-tests": { type: "boolean" },
      "step-timeout": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (v.help) throw new HelpRequested();
  if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}"; see --help`);
  const quick = Boolean(v.quick);
  if (v.out !== undefined && v.out.trim() === "") throw new UsageError("--out must name a folder");
  if (v.peer !== undefined && v["no-peer"]) throw new UsageError("give --peer or --no-peer, not both");
  return {
    quick,
    out: v.out ?? "data/gpu-check",
    backends: choices("backends", v.backends, ["webgpu", "wasm"] as const, ["webgpu", "wasm"]),
    presets: choices("presets", v.presets, ["unet", "seed"] as const, quick ? ["seed"] : ["unet", "seed"]),
    trainBatches: list("train-batches", v["train-batches"], quick ? [2] : [8, 32, 128]),
    sampleBatches: list("sample-batches", v["sample-batches"], quick ? [2] : [64, 256]),
    wasmSampleSteps: int("wasm-sample-steps", v["wasm-sample-steps"], quick ? 1 : 3, 0, 1000),
    repeats: int("repeats", v.repeats, quick ? 1 : 3, 1, 100),
    compareN: int("compare-n", v["compare-n"], quick ? 2 : 64, 1, 1024),
    compareSteps: int("compare-steps", v["compare-steps"], quick ? 2 : 50, 1, 1000),
    checkpoint: v.checkpoint ?? "data/models/apple-faces-unet.safetensors",
    peerScript: v["no-peer"] ? null : v.peer ?? peerCandidates[0] ?? null,
    tests: !v["no-tests"],
    stepTimeoutS: int("step-timeout", v["step-timeout"], quick ? 900 : 300, 1, 3600),
  };
}

/** Thrown by {@linkcode parseGpuCheckArgs} for `--help`. */
export class HelpRequested extends Error {
  /** Always `"HelpRequested"`. */
  override name = "HelpRequested";
}

/** One step's outcome in the report. */
export interface StepResult {
  /** `ok`, `failed`, `timeout` or `skipped`. */
  status: "ok" | "failed" | "timeout" | "skipped";
  /** Seconds the step took. */
  seconds: number;
  /** The step's JSON result, when it printed one. */
  result?: unknown;
  /** Why it failed or was skipped (last lines of its output). */
  note?: string;
}

/** The whole report: the machine, the options and each step's result by name. */
export interface GpuCheckReport {
  /** ISO time the check started. */
  started: string;
  /** `deno --version` first line, OS and CPU count. */
  machine: { deno: string; os: string; cpus: number };
  /** The options it ran with. */
  options: GpuCheckOptions;
  /** Step results by name (`auto`, `tests`, `bench-webgpu-unet`, `sample-webgpu`, `compare`, `peer-8`, …). */
  steps: Record<string, StepResult>;
}

const f = (x: unknown, digits = 1) => typeof x === "number" && Number.isFinite(x) ? x.toFixed(digits) : "–";

interface BenchResult {
  backend: string;
  adapter: string | null;
  software: boolean;
  preset: string;
  train: { batch: number; imgPerS: number; kernels?: number; syncs?: number }[];
  sample: {
    batch: number;
    sPerImg: number;
    defaultSteps: number;
    measuredSteps: number;
    forwardKernels?: number;
  }[];
}

/**
 * Renders the report as markdown: a status line per step, then the speed table (backend × preset ×
 * batch), the PyTorch peer and its ratios, and the WebGPU-vs-wasm sample difference.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { renderMarkdown } from "./gpu_check.ts";
 * const md = renderMarkdown({ started: "t", machine: { deno: "deno 2", os: "linux", cpus: 1 }, options: {} as never,
 *   steps: { compare: { status: "ok", seconds: 1, result: { meanAbsDiff255: 0.25, maxAbsDiff255: 3, n: 2 } } } });
 * assert.ok(md.includes("0.25"));
 * ```
 */
export function renderMarkdown(report: GpuCheckReport): string {
  const lines = [
    `# GPU check (${report.started})`,
    "",
    `${report.machine.deno}, ${report.machine.os}, ${report.machine.cpus} CPUs${
      report.options.quick ? "; **--quick rehearsal: tiny sizes, not figures**" : ""
    }`,
    "",
    "| step | status | seconds | note |",
    "|---|---|---:|---|",
    ...Object.entries(report.steps).map(([name, s]) =>
      `| ${name} | ${s.status} | ${f(s.seconds)} | ${
        (s.note ?? "").replaceAll("|", "/").replaceAll("\n", " ")
      } |`
    ),
  ];
  const auto = report.steps.auto?.result as
    | { picked?: string; adapter?: string; hardwareAdapter?: boolean }
    | undefined;
  if (auto) {
    lines.push(
      "",
      `--backend auto picked **${auto.picked}**; adapter: ${auto.adapter ?? "none"} (${
        auto.hardwareAdapter ? "hardware" : "no hardware adapter"
      })`,
    );
  }
  const benches = Object.entries(report.steps)
    .filter(([name, s]) => name.startsWith("bench-") && s.status === "ok")
    .map(([, s]) => s.result as BenchResult);
  const peers = Object.entries(report.steps)
    .filter(([name, s]) => name.startsWith("peer-") && s.status === "ok")
    .map(([, s]) =>
      s.result as {
        batch: number;
        train_img_per_s: number;
        sample_batch: number;
        sample_s_per_img: number;
        sample_steps: number;
        device: string;
        torch: string;
      }
    );
  if (benches.length) {
    lines.push(
      "",
      "| backend | preset | batch | train img/s | kernels/step | syncs/step | sampling s/img | forward kernels | train vs PyTorch |",
      "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    );
    for (const b of benches) {
      const name = `${b.backend}${b.software ? " (software)" : ""}`;
      const batches = [...new Set([...b.train.map((t) => t.batch), ...b.sample.map((s) => s.batch)])];
      for (const batch of batches) {
        const t = b.train.find((x) => x.batch === batch);
        const s = b.sample.find((x) => x.batch === batch);
        const peer = b.preset === "seed" ? peers.find((p) => p.batch === batch) : undefined;
        lines.push(
          `| ${name} | ${b.preset} | ${batch} | ${f(t?.imgPerS)} | ${t?.kernels ?? "–"} | ${
            t?.syncs ?? "–"
          } | ` +
            `${f(s?.sPerImg, 4)}${
              s && s.measuredSteps < s.defaultSteps
                ? ` (${s.measuredSteps} of ${s.defaultSteps} steps, scaled)`
                : ""
            } | ` +
            `${s?.forwardKernels ?? "–"} | ${
              peer && t ? `${f(t.imgPerS / peer.train_img_per_s, 2)}×` : "–"
            } |`,
        );
      }
    }
  }
  if (peers.length) {
    lines.push(
      "",
      "| PyTorch peer (notebook's model) | batch | train img/s | sampling batch | DDPM steps | sampling s/img |",
      "|---|---:|---:|---:|---:|---:|",
    );
    for (const p of peers) {
      lines.push(
        `| torch ${p.torch} on ${p.device} | ${p.batch} | ${
          f(p.train_img_per_s)
        } | ${p.sample_batch} | ${p.sample_steps} | ${f(p.sample_s_per_img, 4)} |`,
      );
    }
  }
  const cmp = report.steps.compare?.result as {
    meanAbsDiff255: number;
    maxAbsDiff255: number;
    n: number;
    steps?: number;
  } | undefined;
  if (cmp) {
    lines.push(
      "",
      `WebGPU vs wasm, ${cmp.n} samples of the same seed (DDIM${cmp.steps ? `-${cmp.steps}` : ""}, η = 0): ` +
        `mean |difference| ${f(cmp.meanAbsDiff255, 4)} / 255, max ${f(cmp.maxAbsDiff255, 3)} / 255`,
    );
  }
  return lines.join("\n") + "\n";
}

/**
 * Writes `gpu-check.json` and `gpu-check.md` into `dir` (each atomically) and returns their paths.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { writeReport } from "./gpu_check.ts";
 * const dir = await Deno.makeTempDir();
 * const paths = await writeReport(dir, { started: "t", machine: { deno: "d", os: "o", cpus: 1 }, options: {} as never, steps: {} });
 * assert.equal(paths.length, 2);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function writeReport(dir: string, report: GpuCheckReport): Promise<string[]> {
  await Deno.mkdir(dir, { recursive: true });
  const json = join(dir, "gpu-check.json"), md = join(dir, "gpu-check.md");
  await atomicWriteFile(json, JSON.stringify(report, null, 2) + "\n");
  await atomicWriteFile(md, renderMarkdown(report));
  return [json, md];
}

/**
 * Mean and largest absolute difference of two images sets in [−1, 1], in 255 levels.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { imageDifference } from "./gpu_check.ts";
 * const d = imageDifference(Float32Array.of(0, 1), Float32Array.of(0, 0));
 * assert.ok(Math.abs(d.mean - 63.75) < 1e-9);
 * assert.equal(d.max, 127.5);
 * ```
 */
export function imageDifference(a: Float32Array, b: Float32Array): { mean: number; max: number } {
  if (a.length !== b.length || a.length === 0) {
    throw new RangeError(`image sets differ in size: ${a.length} vs ${b.length} values`);
  }
  let sum = 0, max = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]) * 127.5;
    sum += d;
    if (d > max) max = d;
  }
  return { mean: sum / a.length, max };
}

interface Outcome {
  code: number | "timeout";
  stdout: string;
  stderr: string;
  seconds: number;
}

async function runProcess(
  cmd: string,
  args: string[],
  timeoutS: number,
  env?: Record<string, string>,
): Promise<Outcome> {
  const t0 = performance.now();
  const child = new Deno.Command(cmd, {
    args,
    stdout: "piped",
    stderr: "piped",
    cwd: ROOT,
    env: { NO_COLOR: "1", ...env },
  }).spawn();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
  }, timeoutS * 1000);
  const out = await child.output();
  clearTimeout(timer);
  const dec = new TextDecoder();
  return {
    code: timedOut ? "timeout" : out.code,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
    seconds: (performance.now() - t0) / 1000,
  };
}

function toStep(o: Outcome, parseJson: boolean): StepResult {
  const tail = (o.stderr.trim() || o.stdout.trim()).split("\n").slice(-3).join(" / ").slice(0, 400);
  if (o.code === "timeout") return { status: "timeout", seconds: o.seconds, note: tail };
  if (o.code !== 0) return { status: "failed", seconds: o.seconds, note: `exit ${o.code}: ${tail}` };
  if (!parseJson) return { status: "ok", seconds: o.seconds, note: tail };
  const last = o.stdout.trim().split("\n").pop() ?? "";
  try {
    return { status: "ok", seconds: o.seconds, result: JSON.parse(last) };
  } catch {
    return { status: "failed", seconds: o.seconds, note: `no JSON result: ${tail}` };
  }
}

const PERMS = ["--allow-read", "--allow-write", "--allow-env", "--allow-ffi", "--allow-sys"];

async function main(): Promise<void> {
  const candidates = [
    join(ROOT, "..", "shared", "peers", "seed_torch_bench.py"),
    join(ROOT, ".carry", "peers", "seed_torch_bench.py"),
  ];
  const existing = [];
  for (const c of candidates) if (await pathExists(c)) existing.push(c);
  let o: GpuCheckOptions;
  try {
    o = parseGpuCheckArgs(Deno.args, existing);
  } catch (err) {
    if (err instanceof HelpRequested) return console.log(USAGE);
    throw err;
  }
  if (!(await pathExists(join(ROOT, o.checkpoint)))) {
    throw new UsageError(`--checkpoint "${o.checkpoint}" does not exist; give a .safetensors checkpoint`);
  }
  // the deno on PATH is the one running this (tools/gpu_run.sh puts the carried one first)
  const deno = "deno";
  const version = (await runProcess(deno, ["--version"], 30)).stdout.split("\n")[0];
  const report: GpuCheckReport = {
    started: new Date().toISOString(),
    machine: {
      deno: version,
      os: `${Deno.build.os} ${Deno.osRelease()}`,
      cpus: navigator.hardwareConcurrency,
    },
    options: o,
    steps: {},
  };
  const out = resolve(ROOT, o.out);
  const record = async (name: string, step: StepResult) => {
    report.steps[name] = step;
    console.error(
      `${name}: ${step.status} (${step.seconds.toFixed(1)} s)${
        step.note ? ` ${step.note.slice(0, 200)}` : ""
      }`,
    );
    await writeReport(out, report);
  };
  const worker = (args: string[]) => [...PERMS, "--cached-only", "tools/gpu_check_worker.ts", ...args];
  const software = o.quick ? ["--software"] : [];

  // 1. auto must pick the hardware adapter
  const auto = toStep(await runProcess(deno, worker(["auto"]), 120), true);
  const a = auto.result as { picked: string; hardwareAdapter: boolean } | undefined;
  if (a && a.hardwareAdapter && a.picked !== "webgpu") {
    auto.status = "failed";
    auto.note = "a hardware adapter exists but --backend auto did not pick webgpu";
  } else if (a && !a.hardwareAdapter) {
    auto.note = o.quick
      ? "no hardware adapter (expected in a rehearsal)"
      : "no hardware adapter: nothing to prove";
    if (!o.quick) auto.status = "failed";
  }
  await record("auto", auto);

  // 2. the WebGPU tests
  if (o.tests) {
    // every WebGPU test lives in tests/webgpu_suite.ts (the quick rehearsal runs only the auto-pick one)
    const files = ["tests/webgpu_suite.ts"];
    const filter = o.quick ? "auto picks webgpu" : "";
    await record(
      "tests",
      toStep(
        await runProcess(deno, [
          "test",
          ...PERMS,
          "--allow-run",
          "--no-check",
          "--cached-only",
          ...(filter ? ["--filter", filter] : []),
          ...files,
        ], o.stepTimeoutS),
        false,
      ),
    );
  } else await record("tests", { status: "skipped", seconds: 0, note: "--no-tests" });

  // 3 + 4, WebGPU first: the measurements that only a GPU machine can give
  const raw: Record<string, string> = {};
  for (const backend of o.backends) {
    for (const preset of o.presets) {
      await record(
        `bench-${backend}-${preset}`,
        toStep(
          await runProcess(
            deno,
            worker([
              "bench",
              "--backend",
              backend,
              "--preset",
              preset,
              "--train-batches",
              o.trainBatches.join(","),
              "--sample-batches",
              o.sampleBatches.join(","),
              "--sample-steps",
              String(backend === "wasm" ? o.wasmSampleSteps : o.quick ? 1 : 0),
              "--repeats",
              String(o.repeats),
              ...software,
            ]),
            o.stepTimeoutS,
          ),
          true,
        ),
      );
    }
    raw[backend] = join(out, `samples-${backend}.f32`);
    const s = toStep(
      await runProcess(
        deno,
        worker([
          "sample",
          "--backend",
          backend,
          "--checkpoint",
          o.checkpoint,
          "--n",
          String(o.compareN),
          "--steps",
          String(o.compareSteps),
          "--seed",
          "0",
          "--raw",
          raw[backend],
          ...software,
        ]),
        o.stepTimeoutS,
      ),
      true,
    );
    await record(`sample-${backend}`, s);
    if (s.status === "ok") {
      const r = s.result as { size: number; n: number };
      const images = new Float32Array((await Deno.readFile(raw[backend])).buffer);
      const side = Math.ceil(Math.sqrt(r.n));
      const grid = makeGrid(images, Math.ceil(r.n / side), side, r.size, { gutter: 1, scale: 2 });
      await atomicWriteFile(
        join(out, `samples-${backend}.png`),
        await encodePng(grid.rgba, grid.width, grid.height),
      );
    }
  }
  if (report.steps["sample-webgpu"]?.status === "ok" && report.steps["sample-wasm"]?.status === "ok") {
    const [x, y] = await Promise.all(
      ["webgpu", "wasm"].map(async (b) => new Float32Array((await Deno.readFile(raw[b])).buffer)),
    );
    const d = imageDifference(x, y);
    await record("compare", {
      status: "ok",
      seconds: 0,
      result: { meanAbsDiff255: d.mean, maxAbsDiff255: d.max, n: o.compareN, steps: o.compareSteps },
    });
  }
  for (const b of Object.keys(raw)) await Deno.remove(raw[b]).catch(() => {});

  // 5. the PyTorch peer on CUDA, one process per training batch
  if (o.peerScript) {
    // the first interpreter that imports torch: plain python3 (the GPU image's), else the system's
    let python = "", probe: Outcome | null = null;
    for (const candidate of ["python3", "/usr/bin/python3"]) {
      probe = await runProcess(candidate, ["-c", "import torch; print(torch.cuda.is_available())"], 120)
        .catch(() => null);
      if (probe?.code === 0) {
        python = candidate;
        break;
      }
    }
    const cuda = probe?.code === 0 && probe.stdout.trim() === "True";
    if (!python) {
      await record("peer", { status: "skipped", seconds: 0, note: "no python3 here imports torch" });
    } else {
      const device = cuda ? "cuda" : "cpu";
      for (const [i, batch] of o.trainBatches.entries()) {
        const sampleBatch = o.sampleBatches[Math.min(i, o.sampleBatches.length - 1)];
        const args = [
          o.peerScript,
          "--device",
          device,
          "--threads",
          String(navigator.hardwareConcurrency),
          "--batch",
          String(batch),
          "--sample-batch",
          String(sampleBatch),
        ];
        args.push(
          ...(o.quick ? ["--steps", "2", "--sample-steps", "3"] : ["--steps", "30", "--sample-steps", "50"]),
        );
        const step = toStep(
          await runProcess(python, args, o.stepTimeoutS, { PYTHONUNBUFFERED: "1" }),
          true,
        );
        if (step.result) step.result = { ...step.result as object, batch };
        if (!cuda && step.status === "ok") step.note = "torch has no CUDA device here: measured on the CPU";
        await record(`peer-${batch}`, step);
      }
    }
  } else {await record("peer", {
      status: "skipped",
      seconds: 0,
      note: "no peer script (--no-peer or none found)",
    });}

  const failed = Object.entries(report.steps).filter(([, s]) =>
    s.status === "failed" || s.status === "timeout"
  );
  console.log(renderMarkdown(report));
  console.log(`report: ${join(o.out, "gpu-check.json")}, ${join(o.out, "gpu-check.md")}`);
  if (failed.length) {
    throw new Error(`${failed.length} step(s) did not pass: ${failed.map(([n]) => n).join(", ")}`);
  }
}

if (import.meta.main) await runCli(main);
