/**
 * `deno task sample`: generates new emojis from noise with a trained checkpoint.
 *
 * @module
 */
import { initBackend, parseBackendRequest } from "../src/backend.ts";
import {
  asUsage,
  checkWritableDir,
  choiceFlag,
  intFlag,
  numberFlag,
  parseFlags,
  runCli,
  threadsFlag,
  UsageError,
} from "../src/cli.ts";
import { type Checkpoint, DATA_MEAN_TENSOR, loadCheckpoint } from "../src/checkpoint.ts";
import { pathExists } from "../src/io.ts";
import { modelFromCheckpoint } from "../src/model/from_checkpoint.ts";
import { checkSampleOptions, sampleImages, SAMPLERS, samplerTimesteps } from "../src/sample/sample.ts";
import { DEFAULT_ETA, DEFAULT_SAMPLER, DEFAULT_STEPS, defaultBatch } from "../src/sample/defaults.ts";
import { formatSamplingProgress } from "../src/sample/progress.ts";
import { writeSampleFiles } from "../src/sample/output.ts";
import { EDIT_OPTIONS, EDIT_USAGE, isEdit, runEdit } from "./sample_edit.ts";

/** The model `deno task sample` uses when no --checkpoint is given. */
export const DEFAULT_CHECKPOINT = "data/models/apple-faces-unet.safetensors";
/** The values of `--prior`. */
export const PRIORS = ["data-mean", "standard"] as const;

/**
 * The data mean `--prior` asks for: the checkpoint's with `data-mean` (the default when it has
 * one), none with `standard` (N(0, I), the notebook's start).
 */
export function chosenDataMean(flag: string | undefined, ckpt: Checkpoint): Float32Array | undefined {
  const mean = ckpt.tensors.get(DATA_MEAN_TENSOR)?.data;
  const prior = choiceFlag("prior", flag, PRIORS, mean ? "data-mean" : "standard");
  if (prior === "standard") return undefined;
  if (!mean) {
    throw new UsageError(
      `--prior data-mean: the checkpoint has no data mean (data/mean); add it with "deno task export --data DIR"`,
    );
  }
  return mean;
}

/** The usage line of `--prior`, shared by sample and eval. */
export const PRIOR_USAGE =
  `  --prior NAME        start of the reverse process: data-mean = N(√ᾱ·mean training image, (1−ᾱ)·I), the
                      forward process's own mean (default when the checkpoint has one) | standard = N(0, I)`;

const USAGE = `usage: deno task sample [options]
  --checkpoint FILE   trained checkpoint (default ${DEFAULT_CHECKPOINT})
  --n N               images to generate (default 64)
  --batch N           images per forward pass (default min(n, ${defaultBatch(Infinity)}))
  --sampler NAME      ${SAMPLERS.join(" | ")} (default ${DEFAULT_SAMPLER}); dpm++2m = DPM-Solver++(2M)
  --steps S           steps (network evaluations) of ddim and dpm++2m, S <= T (default ${DEFAULT_STEPS})
  --eta X             DDIM eta: 0 = deterministic, 1 = DDPM-like noise (default ${DEFAULT_ETA}; ddim only)
  --clip on|off       clip the predicted x0 to [-1, 1] in every step (default on)
${PRIOR_USAGE}
  --seed N            same seed, same images (default 0)
  --backend NAME      auto | webgpu | wasm | cpu (default auto)
  --threads N         wasm threads: auto (default: all CPUs when idle at start, else 1) or N
  --out DIR           output folder (default data/samples)
  --scale N           upscaling of the written pictures (default 3)
  --each              also write every image as its own PNG
  --gif               also write reverse.gif, the reverse process (a frame every --frame-every steps)
  --frame-every K     (default: about 25 frames in all)
  --raw               use the raw weights instead of the EMA weights
${EDIT_USAGE}`;

async function main(): Promise<void> {
  const { values: v } = parseFlags({
    args: Deno.args,
    options: {
      checkpoint: { type: "string" },
      n: { type: "string" },
      batch: { type: "string" },
      sampler: { type: "string" },
      steps: { type: "string" },
      eta: { type: "string" },
      clip: { type: "string" },
      prior: { type: "string" },
      seed: { type: "string" },
      backend: { type: "string" },
      threads: { type: "string" },
      out: { type: "string" },
      scale: { type: "string" },
      each: { type: "boolean" },
      gif: { type: "boolean" },
      "frame-every": { type: "string" },
      raw: { type: "boolean" },
      help: { type: "boolean", short: "h" },
      ...EDIT_OPTIONS,
    },
    strict: true,
  });
  if (v.help) return console.log(USAGE);
  const n = intFlag("n", v.n, 64, 1, 100000);
  const sampler = choiceFlag("sampler", v.sampler, SAMPLERS, DEFAULT_SAMPLER);
  const steps = intFlag("steps", v.steps, DEFAULT_STEPS, 1);
  const eta = numberFlag("eta", v.eta, DEFAULT_ETA, 0, 1);
  const clip = choiceFlag("clip", v.clip, ["on", "off"] as const, "on") === "on";
  const seed = intFlag("seed", v.seed, 0, 0);
  const batch = intFlag("batch", v.batch, defaultBatch(n), 1, 4096);
  const scale = intFlag("scale", v.scale, 3, 1, 32);
  const out = v.out ?? "data/samples";
  const backend = asUsage(() => parseBackendRequest(v.backend ?? "auto"), "--backend: ");
  const threads = threadsFlag(v.threads);
  const checkpoint = v.checkpoint ?? DEFAULT_CHECKPOINT;
  if (!(await pathExists(checkpoint))) {
    throw new UsageError(
      v.checkpoint === undefined
        ? `no default model at ${DEFAULT_CHECKPOINT}; train one with "deno task train" and pass --checkpoint data/runs/<run>/latest.safetensors`
        : `--checkpoint "${checkpoint}" does not exist; train one with "deno task train"`,
    );
  }
  const ckpt = await loadCheckpoint(checkpoint);
  const T = ckpt.meta.schedule.T;
  if (sampler !== "ddpm" && steps > T) {
    throw new UsageError(`--steps ${steps} exceeds the checkpoint's T = ${T}`);
  }
  const totalSteps = samplerTimesteps(sampler, T, steps).length;
  const frameEvery = v.gif
    ? intFlag("frame-every", v["frame-every"], Math.max(1, Math.round(totalSteps / 25)), 1)
    : 0;
  const dataMean = chosenDataMean(v.prior, ckpt);
  if (isEdit(v)) {
    return await runEdit(v, {
      ckpt,
      raw: v.raw ?? false,
      sampler,
      steps,
      eta,
      clip,
      seed,
      batch: v.batch === undefined ? undefined : batch,
      scale,
      out,
      backend,
      threads: v.threads,
      dataMean,
    });
  }
  const options = { n, batch, sampler, steps, eta, clip, seed, frameEvery, dataMean };
  asUsage(() => checkSampleOptions(options, T));
  await checkWritableDir("out", out);
  await initBackend(backend, { wasmThreads: threads, tempDir: "data/.cache" });
  const loaded = modelFromCheckpoint(ckpt, !v.raw);
  console.error(
    `model: ${loaded.model.config.preset}, step ${loaded.step}, ${loaded.usedEma ? "EMA" : "raw"} weights, ` +
      `${loaded.schedule.kind} schedule T=${T}; ${sampler}-${totalSteps}${
        sampler === "ddim" ? ` eta=${eta}` : ""
      }, batch ${Math.min(batch, n)}, start ${dataMean ? "N(√ᾱ·data mean, (1−ᾱ)·I)" : "N(0, I)"}`,
  );
  const isTty = Deno.stderr.isTerminal();
  let lastPct = -1;
  const t0 = performance.now();
  const result = await sampleImages(loaded.model, loaded.schedule, {
    ...options,
    onProgress: (done, total) => {
      const pct = Math.floor(100 * done / total);
      if (pct !== lastPct && (isTty || pct % 25 === 0)) {
        lastPct = pct;
        const line = formatSamplingProgress(done, total, n, (performance.now() - t0) / 1000);
        if (isTty) Deno.stderr.writeSync(new TextEncoder().encode(`\r${line}\x1b[K`));
        else console.error(line);
      }
    },
  });
  if (isTty) Deno.stderr.writeSync(new TextEncoder().encode("\n"));
  const written = await writeSampleFiles(result, { out, scale, each: v.each, gif: v.gif });
  loaded.model.dispose();
  console.log(
    `${n} images in ${result.seconds.toFixed(1)} s (${(result.seconds / n).toFixed(3)} s per image); ` +
      `wrote ${
        written.length > 3 ? `${written[0]} and ${written.length - 1} more files` : written.join(", ")
      }`,
  );
}

if (import.meta.main) await runCli(main);
