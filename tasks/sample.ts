/**
 * `deno task sample`: generates new emojis from noise with a trained checkpoint.
 *
 * @module
 */
import type { ParallelPlan } from "../src/backend/parallel_plan.ts";
import {
  asUsage,
  checkWritableDir,
  choiceFlag,
  chosenDataMean,
  intFlag,
  parseFlags,
  PRIOR_USAGE,
  runCli,
  UsageError,
} from "../src/cli/flags.ts";
import {
  checkpointFlag,
  conditioningFlags,
  PARALLEL_USAGE,
  progressPrinter,
  type SamplerFlags,
  samplerFlags,
  SAMPLING_OPTIONS,
  startSamplingBackend,
  withSamplingWorkers,
} from "../src/cli/sampling_flags.ts";
import type { Checkpoint } from "../src/checkpoint/format.ts";
import { modelFromCheckpoint } from "../src/model/from_checkpoint.ts";
import { LabelError, type Labels, type LabelVocabulary } from "../src/model/labels.ts";
import {
  checkSampleOptions,
  sampleImages,
  type SampleOptions,
  SAMPLERS,
  samplerTimesteps,
} from "../src/sample/sample.ts";
import {
  DEFAULT_CHECKPOINT,
  DEFAULT_ETA,
  DEFAULT_GUIDANCE,
  DEFAULT_SAMPLER,
  DEFAULT_STEPS,
  defaultBatch,
} from "../src/sample/defaults.ts";
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
${PARALLEL_USAGE}
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

interface SamplePlan {
  v: SampleFlagValues;
  ckpt: Checkpoint;
  sampling: SamplerFlags;
  options: SampleOptions & { n: number };
  perRow: number;
  scale: number;
  out: string;
  totalSteps: number;
}

type SampleFlagValues = ReturnType<typeof parseSampleFlags>;

function parseSampleFlags() {
  return parseFlags({
    args: Deno.args,
    options: {
      ...SAMPLING_OPTIONS,
      clip: { type: "string" },
      scale: { type: "string" },
      each: { type: "boolean" },
      gif: { type: "boolean" },
      "frame-every": { type: "string" },
      raw: { type: "boolean" },
      rows: { type: "string" },
      "list-labels": { type: "boolean" },
      ...EDIT_OPTIONS,
    },
    strict: true,
  }).values;
}

async function main(): Promise<void> {
  const v = parseSampleFlags();
  if (v.help) return console.log(USAGE);
  const sampling = samplerFlags(v);
  const { path, ckpt } = await checkpointFlag(
    v.checkpoint,
    DEFAULT_CHECKPOINT,
    `no default model at ${DEFAULT_CHECKPOINT}; train one with "deno task train" and pass --checkpoint data/runs/<run>/latest.safetensors`,
  );
  if (v["list-labels"]) return listLabels(path, ckpt);
  const plan = planSampling(v, path, ckpt, sampling);
  if (isEdit(v)) {
    if (v.rows !== undefined) {
      throw new UsageError("--rows draws a grid of new samples and does not combine with the edit flags");
    }
    const { labels, guidance, guidanceInterval, batch, dataMean } = plan.options;
    return await runEdit(v, {
      ckpt,
      raw: v.raw ?? false,
      ...sampling,
      clip: plan.options.clip ?? true,
      batch: v.batch === undefined ? undefined : batch,
      scale: plan.scale,
      out: plan.out,
      threads: v.threads,
      workers: sampling.workers,
      dataMean,
      labels: Array.isArray(labels) ? undefined : labels,
      guidance,
      guidanceInterval,
    });
  }
  checkPlannedOutput(plan);
  await checkWritableDir("out", plan.out);
  await drawSamples(plan, await startSamplingBackend(sampling));
}

/** `--list-labels`: the checkpoint's vocabulary and sampling defaults. */
function listLabels(path: string, ckpt: Checkpoint): void {
  const vocab = ckpt.meta.model.labels;
  if (!vocab) return console.log(`${path} is unconditional: it has no labels`);
  const defaults = ckpt.meta.sampling?.labels ?? {};
  for (const [field, values] of Object.entries(vocab)) {
    const d = defaults[field];
    console.log(`${field}: ${values.join(", ")}${d !== undefined ? ` (default: ${d})` : ""}`);
  }
  const w = ckpt.meta.sampling?.guidance;
  if (w !== undefined) console.log(`guidance: ${w} by default`);
  const iv = ckpt.meta.sampling?.guidanceInterval;
  if (iv !== undefined) console.log(`guidance interval: ${iv.join(",")} of T by default`);
}

/** Every check of the flags against the checkpoint, before any work: what will be sampled. */
function planSampling(
  v: SampleFlagValues,
  path: string,
  ckpt: Checkpoint,
  sampling: SamplerFlags,
): SamplePlan {
  const perRow = intFlag("n", v.n, v.rows !== undefined ? 8 : 64, 1, MAX_IMAGES);
  const clip = choiceFlag("clip", v.clip, ["on", "off"] as const, "on") === "on";
  const scale = intFlag("scale", v.scale, 3, 1, 32);
  const out = v.out ?? "data/samples";
  const vocab = ckpt.meta.model.labels;
  const { asked, labels: given, guidance, guidanceInterval } = conditioningFlags(v, ckpt);
  let labels: Labels | Labels[] | undefined = Object.keys(given).length ? given : undefined;
  if (v.rows !== undefined) labels = rowLabels(v.rows, path, vocab, asked, given, perRow);
  const n = Array.isArray(labels) ? labels.length : perRow;
  const batch = intFlag("batch", v.batch, defaultBatch(n), 1, 4096);
  for (const flag of ["guidance", "guidance-interval"] as const) {
    if (v[flag] !== undefined && !vocab) {
      throw new LabelError(`--${flag}: ${path} is unconditional: it has no labels to guide by`);
    }
  }
  const T = ckpt.meta.schedule.T;
  if (sampling.sampler !== "ddpm" && sampling.steps > T) {
    throw new UsageError(`--steps ${sampling.steps} exceeds the checkpoint's T = ${T}`);
  }
  const totalSteps = samplerTimesteps(sampling.sampler, T, sampling.steps).length;
  const frameEvery = v.gif
    ? intFlag("frame-every", v["frame-every"], Math.max(1, Math.round(totalSteps / 25)), 1)
    : 0;
  const { sampler, steps, eta, seed } = sampling;
  const dataMean = chosenDataMean(v.prior, ckpt);
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
  return { v, ckpt, sampling, options, perRow, scale, out, totalSteps };
}

/** `--rows FIELD`: `perRow` images for each value of FIELD, the other labels as given. */
function rowLabels(
  field: string,
  path: string,
  vocab: LabelVocabulary | undefined,
  asked: Labels,
  given: Labels,
  perRow: number,
): Labels[] {
  if (!vocab) throw new LabelError(`--rows ${field}: ${path} is unconditional: it has no labels`);
  if (!Object.hasOwn(vocab, field)) {
    throw new LabelError(
      `--rows: unknown label field "${field}": this model knows ${Object.keys(vocab).join(", ")}`,
    );
  }
  if (Object.hasOwn(asked, field)) {
    throw new UsageError(`give --rows ${field} or --label ${field}=…, not both`);
  }
  const values = vocab[field];
  if (values.length * perRow > MAX_IMAGES) {
    throw new UsageError(
      `--rows ${field} --n ${perRow} makes ${values.length} × ${perRow} = ${
        values.length * perRow
      } images, ` +
        `more than ${MAX_IMAGES} in all: give --n ${Math.floor(MAX_IMAGES / values.length)} or less`,
    );
  }
  return values.flatMap((value) => new Array<Labels>(perRow).fill({ ...given, [field]: value }));
}

/** The sampling options and the memory of the images, the GIF's frames and the grid, before any work. */
function checkPlannedOutput({ v, ckpt, options, perRow, scale, totalSteps }: SamplePlan): void {
  asUsage(() => checkSampleOptions(options, ckpt.meta.schedule.T));
  const planned = `--n ${perRow}${v.rows !== undefined ? ` --rows ${v.rows}` : ""}${
    v.gif ? " --gif" : ""
  } --scale ${scale}: `;
  asUsage(
    () =>
      planSampleOutput({
        n: options.n,
        size: ckpt.meta.imageSize,
        scale,
        ...(v.rows !== undefined ? { columns: perRow } : {}),
        frames: options.frameEvery ? Math.ceil(totalSteps / options.frameEvery) + 1 : 0,
      }),
    planned,
  );
}

/** Samples, writes the files and says what it wrote. */
async function drawSamples(
  { v, ckpt, options, perRow, scale, out, totalSteps }: SamplePlan,
  parallel: ParallelPlan,
): Promise<void> {
  const loaded = modelFromCheckpoint(ckpt, !v.raw);
  const { n, sampler, eta, batch, labels, guidance, guidanceInterval, dataMean } = options;
  console.error(
    `model: ${loaded.model.config.preset}, step ${loaded.step}, ${loaded.usedEma ? "EMA" : "raw"} weights, ` +
      `${loaded.schedule.kind} schedule T=${ckpt.meta.schedule.T}; ${sampler}-${totalSteps}${
        sampler === "ddim" ? ` eta=${eta}` : ""
      }, batch ${Math.min(batch ?? n, n)}${labelText(labels, guidance, guidanceInterval)}, start ${
        dataMean ? "N(√ᾱ·data mean, (1−ᾱ)·I)" : "N(0, I)"
      }`,
  );
  const result = await withSamplingWorkers(
    parallel,
    loaded,
    { images: n, batch },
    (workers) =>
      sampleImages(loaded.model, loaded.schedule, {
        ...options,
        onProgress: progressPrinter(n),
        ...(workers ? { workers } : {}),
      }),
  );
  const written = await writeSampleFiles(result, {
    out,
    scale,
    each: v.each,
    gif: v.gif,
    ...(v.rows !== undefined ? { columns: perRow } : {}),
  });
  const vocab = ckpt.meta.model.labels;
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
