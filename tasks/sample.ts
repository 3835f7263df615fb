/**
 * `deno task sample`: generates new emojis from noise with a trained checkpoint.
 *
 * @module
 */
import { initBackend, parseBackendRequest } from "../src/backend/select.ts";
import {
  asUsage,
  checkWritableDir,
  choiceFlag,
  chosenDataMean,
  intervalFlag,
  intFlag,
  labelFlags,
  numberFlag,
  parseFlags,
  PRIOR_USAGE,
  runCli,
  threadsFlag,
  UsageError,
} from "../src/cli/flags.ts";
import { loadCheckpoint } from "../src/checkpoint/format.ts";
import { pathExists } from "../src/platform/io.ts";
import { modelFromCheckpoint } from "../src/model/from_checkpoint.ts";
import { LabelError, type Labels, resolveLabels, withDefaultLabels } from "../src/model/labels.ts";
import { checkSampleOptions, sampleImages, SAMPLERS, samplerTimesteps } from "../src/sample/sample.ts";
import {
  DEFAULT_CHECKPOINT,
  DEFAULT_ETA,
  DEFAULT_GUIDANCE,
  DEFAULT_SAMPLER,
  DEFAULT_STEPS,
  defaultBatch,
} from "../src/sample/defaults.ts";
import { formatSamplingProgress } from "../src/sample/progress.ts";
import { planSampleOutput, writeSampleFiles } from "../src/sample/output.ts";
import { EDIT_OPTIONS, EDIT_USAGE, isEdit, runEdit } from "../src/cli/sample_edit.ts";

/** The most images one command samples, --rows included. */
const MAX_IMAGES = 100000;

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
  --backend NAME      auto | webgpu | native | wasm | cpu (default auto: a hardware GPU, else the
                      system BLAS (native), else wasm)
  --threads N         CPU threads (wasm and BLAS): auto (default: all CPUs when idle at start, else 1) or N
  --out DIR           output folder (default data/samples)
  --scale N           upscaling of the written pictures (default 3)
  --each              also write every image as its own PNG
  --gif               also write reverse.gif, the reverse process (a frame every --frame-every steps)
  --frame-every K     (default: about 25 frames in all)
  --raw               use the raw weights instead of the EMA weights
  --label FIELD=VALUE a label of a conditioned model (repeatable); a field not given takes the model's
                      default label (the shipped default: vendor=apple) or else any value; FIELD=* any value
  --guidance W        classifier-free guidance weight (default: the model's own, else ${DEFAULT_GUIDANCE}, the
                      conditional model alone)
  --guidance-interval LO,HI  guide only the steps with LO <= t/T <= HI, the others are one conditional
                      pass (default: the model's own, else 0,1: every step)
  --rows FIELD        grid with one row per value of FIELD (--n images per row, default 8)
  --list-labels       print the checkpoint's label vocabulary (field: values) and stop
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
      label: { type: "string", multiple: true },
      guidance: { type: "string" },
      "guidance-interval": { type: "string" },
      rows: { type: "string" },
      "list-labels": { type: "boolean" },
      help: { type: "boolean", short: "h" },
      ...EDIT_OPTIONS,
    },
    strict: true,
  });
  if (v.help) return console.log(USAGE);
  const perRow = intFlag("n", v.n, v.rows !== undefined ? 8 : 64, 1, MAX_IMAGES);
  let n = perRow;
  const sampler = choiceFlag("sampler", v.sampler, SAMPLERS, DEFAULT_SAMPLER);
  const steps = intFlag("steps", v.steps, DEFAULT_STEPS, 1);
  const eta = numberFlag("eta", v.eta, DEFAULT_ETA, 0, 1);
  const clip = choiceFlag("clip", v.clip, ["on", "off"] as const, "on") === "on";
  const seed = intFlag("seed", v.seed, 0, 0);
  let batch = intFlag("batch", v.batch, defaultBatch(n), 1, 4096);
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
  const vocab = ckpt.meta.model.labels;
  if (v["list-labels"]) {
    if (!vocab) return console.log(`${checkpoint} is unconditional: it has no labels`);
    const defaults = ckpt.meta.sampling?.labels ?? {};
    for (const [field, values] of Object.entries(vocab)) {
      const d = defaults[field];
      console.log(`${field}: ${values.join(", ")}${d !== undefined ? ` (default: ${d})` : ""}`);
    }
    const w = ckpt.meta.sampling?.guidance;
    if (w !== undefined) console.log(`guidance: ${w} by default`);
    const iv = ckpt.meta.sampling?.guidanceInterval;
    if (iv !== undefined) console.log(`guidance interval: ${iv.join(",")} of T by default`);
    return;
  }
  const asked = labelFlags("label", v.label ?? []);
  resolveLabels(vocab, asked); // unknown fields or values, or labels for an unconditional model: exit 2
  // fields not asked for take the model's own default label (the shipped default: vendor=apple)
  const given = withDefaultLabels(asked, ckpt.meta.sampling);
  const guidance = v.guidance === undefined
    ? ckpt.meta.sampling?.guidance
    : numberFlag("guidance", v.guidance, 1, -100, 100);
  const guidanceInterval = intervalFlag("guidance-interval", v["guidance-interval"]) ??
    ckpt.meta.sampling?.guidanceInterval;
  let labels: Labels | Labels[] | undefined = Object.keys(given).length ? given : undefined;
  if (v.rows !== undefined) {
    if (!vocab) throw new LabelError(`--rows ${v.rows}: ${checkpoint} is unconditional: it has no labels`);
    if (!Object.hasOwn(vocab, v.rows)) {
      throw new LabelError(
        `--rows: unknown label field "${v.rows}": this model knows ${Object.keys(vocab).join(", ")}`,
      );
    }
    if (Object.hasOwn(asked, v.rows)) {
      throw new UsageError(`give --rows ${v.rows} or --label ${v.rows}=…, not both`);
    }
    const values = vocab[v.rows];
    if (values.length * perRow > MAX_IMAGES) {
      throw new UsageError(
        `--rows ${v.rows} --n ${perRow} makes ${values.length} × ${perRow} = ${
          values.length * perRow
        } images, ` +
          `more than ${MAX_IMAGES} in all: give --n ${Math.floor(MAX_IMAGES / values.length)} or less`,
      );
    }
    labels = values.flatMap((value) => new Array<Labels>(perRow).fill({ ...given, [v.rows!]: value }));
    n = labels.length;
    if (v.batch === undefined) batch = defaultBatch(n);
  }
  for (const flag of ["guidance", "guidance-interval"] as const) {
    if (v[flag] !== undefined && !vocab) {
      throw new LabelError(`--${flag}: ${checkpoint} is unconditional: it has no labels to guide by`);
    }
  }
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
    if (v.rows !== undefined) {
      throw new UsageError("--rows draws a grid of new samples and does not combine with the edit flags");
    }
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
      labels: Array.isArray(labels) ? undefined : labels,
      guidance,
      guidanceInterval,
    });
  }
  const options = {
    n,
    batch,
    sampler,
    steps,
    eta,
    clip,
    seed,
    frameEvery,
    dataMean,
    labels,
    guidance,
    guidanceInterval,
  };
  asUsage(() => checkSampleOptions(options, T));
  // the memory of the images, the GIF's frames and the grid, planned before any work
  const planned = `--n ${perRow}${v.rows !== undefined ? ` --rows ${v.rows}` : ""}${
    v.gif ? " --gif" : ""
  } --scale ${scale}: `;
  asUsage(
    () =>
      planSampleOutput({
        n,
        size: ckpt.meta.imageSize,
        scale,
        ...(v.rows !== undefined ? { columns: perRow } : {}),
        frames: frameEvery ? Math.ceil(totalSteps / frameEvery) + 1 : 0,
      }),
    planned,
  );
  await checkWritableDir("out", out);
  await initBackend(backend, { wasmThreads: threads, tempDir: "data/.cache" });
  const loaded = modelFromCheckpoint(ckpt, !v.raw);
  console.error(
    `model: ${loaded.model.config.preset}, step ${loaded.step}, ${loaded.usedEma ? "EMA" : "raw"} weights, ` +
      `${loaded.schedule.kind} schedule T=${T}; ${sampler}-${totalSteps}${
        sampler === "ddim" ? ` eta=${eta}` : ""
      }, batch ${Math.min(batch, n)}${labelText(labels, guidance, guidanceInterval)}, start ${
        dataMean ? "N(√ᾱ·data mean, (1−ᾱ)·I)" : "N(0, I)"
      }`,
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
  const written = await writeSampleFiles(result, {
    out,
    scale,
    each: v.each,
    gif: v.gif,
    ...(v.rows !== undefined ? { columns: perRow } : {}),
  });
  if (v.rows !== undefined && vocab) console.log(`rows (top to bottom): ${vocab[v.rows].join(", ")}`);
  loaded.model.dispose();
  console.log(
    `${n} images in ${result.seconds.toFixed(1)} s (${(result.seconds / n).toFixed(3)} s per image); ` +
      `wrote ${
        written.length > 3 ? `${written[0]} and ${written.length - 1} more files` : written.join(", ")
      }`,
  );
}

function labelText(
  labels: Labels | Labels[] | undefined,
  guidance: number | undefined,
  interval: readonly [number, number] | undefined,
): string {
  if (!labels) return "";
  const shown = Array.isArray(labels)
    ? "one label value per row"
    : Object.entries(labels).map(([k, x]) => `${k}=${x}`).join(" ");
  const limit = interval && (interval[0] > 0 || interval[1] < 1) ? ` at t/T in [${interval.join(", ")}]` : "";
  return `, labels ${shown}, guidance ${guidance ?? DEFAULT_GUIDANCE}${limit}`;
}

if (import.meta.main) await runCli(main);
