/**
 * `deno task export`: turns a training checkpoint into a compact sampling checkpoint (EMA weights
 * and model state only, F32 or F16, with the training set's mean image), optionally recording
 * evaluation reports in its metadata.
 *
 * @module
 */
import { dirname, resolve } from "node:path";
import {
  asUsage,
  checkWritableDir,
  choiceFlag,
  intervalFlag,
  labelFlags,
  numberFlag,
  parseFlags,
  runCli,
  UsageError,
} from "../src/cli/flags.ts";
import { type SamplingDefaults, validateSamplingDefaults } from "../src/model/labels.ts";
import {
  type Checkpoint,
  DATA_MEAN_TENSOR,
  loadCheckpoint,
  samplingCheckpoint,
  saveCheckpoint,
} from "../src/checkpoint/format.ts";
import { chooseEma } from "../src/checkpoint/ema_choice.ts";
import { CheckpointError } from "../src/checkpoint/error.ts";
import { loadEmojiDataset } from "../src/dataset/mod.ts";
import { pathExists } from "../src/platform/io.ts";
import { trainingMean } from "../src/sample/prior.ts";

const USAGE =
  `usage: deno task export --checkpoint FILE --out FILE [--dtype F32|F16] [--data DIR] [--eval report.json,...] [--full]
  --checkpoint FILE   training checkpoint (e.g. data/runs/<run>/latest.safetensors)
  --out FILE          the sampling checkpoint to write (in the current format: this also rewrites an old file)
  --full              keep every tensor (raw weights, optimizer moments, random state), so --resume still works
  --dtype F32|F16     storage type (default F32)
  --ema-decay D       the average to export from a run that kept several (--ema LIST in train; default: its
                      main one); an unknown decay is refused with the ones the checkpoint keeps
  --data DIR          the prepared set the checkpoint was trained on: (re)computes its mean image (data/mean),
                      where sampling starts; needed only for checkpoints written before training stored it
  --eval LIST         report.json files of deno task eval to record in the metadata
  --default-label FIELD=VALUE
                      a conditioned model's default label for FIELD, used when a sample call does not
                      give that field (repeatable; e.g. vendor=apple)
  --default-guidance W
                      a conditioned model's default classifier-free guidance weight
  --default-guidance-interval LO,HI
                      the steps it guides by default (LO <= t/T <= HI)`;

/** The checkpoint with `--ema-decay`'s average as its EMA; a decay it does not keep is a usage error. */
function chooseEmaFlag(ckpt: Checkpoint, decay: number): Checkpoint {
  try {
    return chooseEma(ckpt, decay);
  } catch (err) {
    if (err instanceof CheckpointError) throw new UsageError(`--ema-decay: ${err.message}`, { cause: err });
    throw err;
  }
}

/** Whether two paths name one file (the same path, or links to one file). */
async function sameFile(a: string, b: string): Promise<boolean> {
  if (resolve(a) === resolve(b)) return true;
  const [sa, sb] = await Promise.all([Deno.stat(a).catch(() => null), Deno.stat(b).catch(() => null)]);
  return sa !== null && sb !== null && sa.ino !== null && sa.ino === sb.ino && sa.dev === sb.dev;
}

async function main(): Promise<void> {
  const { values: v } = parseFlags({
    args: Deno.args,
    options: {
      checkpoint: { type: "string" },
      out: { type: "string" },
      dtype: { type: "string" },
      eval: { type: "string" },
      data: { type: "string" },
      full: { type: "boolean" },
      "ema-decay": { type: "string" },
      "default-label": { type: "string", multiple: true },
      "default-guidance": { type: "string" },
      "default-guidance-interval": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (v.help) return console.log(USAGE);
  if (!v.checkpoint || !v.out) throw new UsageError("--checkpoint and --out are required (see --help)");
  if (!(await pathExists(v.checkpoint))) {
    throw new UsageError(`--checkpoint "${v.checkpoint}" does not exist`);
  }
  const dtype = choiceFlag("dtype", v.dtype, ["F32", "F16"] as const, "F32");
  if (v.full && dtype !== "F32") {
    throw new UsageError("--full keeps a training checkpoint exact: drop --dtype F16");
  }
  const emaDecay = v["ema-decay"] === undefined
    ? undefined
    : numberFlag("ema-decay", v["ema-decay"], 0, 0, 0.999999);
  if (v.full && emaDecay !== undefined) {
    throw new UsageError("--full keeps every average of a training checkpoint: drop --ema-decay");
  }
  await checkWritableDir("out", dirname(v.out));
  if (!v.full && await sameFile(v.out, v.checkpoint)) {
    throw new UsageError(
      `--out ${v.out} is the --checkpoint itself: a sampling checkpoint would replace the training one ` +
        `(and --resume from it would fail); choose another --out, or add --full to rewrite it whole`,
    );
  }
  const evals: Record<string, unknown> = {};
  for (const path of v.eval?.split(",").filter((s) => s) ?? []) {
    const [key, summary] = await evalSummary(path);
    evals[key] = summary;
  }
  // the old-format warning is what this task answers: say nothing of it here
  const loaded = await loadCheckpoint(v.checkpoint, { warn: null });
  const ckpt = emaDecay === undefined ? loaded : chooseEmaFlag(loaded, emaDecay);
  const sampling = samplingDefaultsFlags(v, ckpt);
  const extra = {
    ...(Object.keys(evals).length ? { eval: evals } : {}),
    ...(Object.keys(sampling).length ? { sampling } : {}),
  };
  const out = v.full
    ? { meta: { ...ckpt.meta, ...extra }, tensors: new Map(ckpt.tensors) }
    : samplingCheckpoint(ckpt, extra);
  await addDataMean(out, v.data, ckpt);
  await saveCheckpoint(v.out, out, { dtype });
  const bytes = (await Deno.stat(v.out)).size;
  console.log(
    `wrote ${v.out}: ${out.tensors.size} tensors, ${dtype}, ${
      (bytes / 1e6).toFixed(2)
    } MB, step ${out.meta.step}`,
  );
}

if (import.meta.main) await runCli(main);

/** One `--eval` report as the checkpoint records it: its key (sampler, start, labels) and its figures. */
async function evalSummary(path: string): Promise<[string, Record<string, unknown>]> {
  if (!(await pathExists(path))) throw new UsageError(`--eval "${path}" does not exist`);
  const { meta, report } = JSON.parse(await Deno.readTextFile(path));
  // the untrained reference shares the sampler name: keep it apart from the model's own numbers
  const untrained = String(meta?.weights ?? "").startsWith("untrained");
  // reports from before the data-mean start say nothing about it: they started from N(0, I)
  const prior = meta?.prior ?? "standard";
  // a conditioned model's reports differ by the labels and guidance they asked for
  const asked = meta?.labels && meta.labels !== "none"
    ? ` ${meta.labels} w=${meta.guidance}${meta.guidanceInterval ? ` in ${meta.guidanceInterval}` : ""}`
    : "";
  const key = `${untrained ? "untrained " : ""}${meta?.sampler ?? path}${
    prior === "standard" ? " N(0, I) start" : ""
  }${asked}`;
  return [key, {
    n: report.nSamples,
    prior,
    kidConv: report.kid.conv.mean,
    kidConvStd: report.kid.conv.std,
    kidConvFloor: report.kid.conv.floor.mean,
    kidPixels8: report.kid.pixels8.mean,
    kidPixels8Std: report.kid.pixels8.std,
    kidPixels8Floor: report.kid.pixels8.floor.mean,
    memorisationRate: report.memorisation.rate,
    ...(report.precisionRecall
      ? {
        precision: report.precisionRecall.precision,
        recall: report.precisionRecall.recall,
        realPrecision: report.precisionRecall.real.precision,
        realRecall: report.precisionRecall.real.recall,
      }
      : {}),
    ...(report.nearCopies
      ? { nearCopies: report.nearCopies.rate, realNearCopies: report.nearCopies.realRate }
      : {}),
    colour: report.colour,
    diversity: report.diversity,
    command: meta?.command,
  }];
}

/** The checkpoint's sampling defaults with `--default-label`, `--default-guidance(-interval)` applied. */
function samplingDefaultsFlags(
  v: { "default-label"?: string[]; "default-guidance"?: string; "default-guidance-interval"?: string },
  ckpt: Checkpoint,
): SamplingDefaults {
  const sampling: SamplingDefaults = { ...ckpt.meta.sampling };
  if (v["default-label"]) {
    sampling.labels = { ...sampling.labels, ...labelFlags("default-label", v["default-label"]) };
  }
  if (v["default-guidance"] !== undefined) {
    sampling.guidance = numberFlag("default-guidance", v["default-guidance"], 1, -100, 100);
  }
  const interval = intervalFlag("default-guidance-interval", v["default-guidance-interval"]);
  if (interval) sampling.guidanceInterval = interval;
  asUsage(() => validateSamplingDefaults(sampling, ckpt.meta.model.labels), "--default-label: ");
  return sampling;
}

/** With `--data` (the checkpoint's own training set, checked), stores its mean image for sampling. */
async function addDataMean(out: Checkpoint, data: string | undefined, ckpt: Checkpoint): Promise<void> {
  if (data !== undefined) {
    if (!(await pathExists(`${data}/manifest.json`))) {
      throw new UsageError(
        `--data "${data}" has no manifest.json; prepare it with: deno task prepare --out ${data}`,
      );
    }
    const dataset = await loadEmojiDataset(data);
    const hash = dataset.manifest?.atlas.sha256 ?? null;
    if (ckpt.meta.dataHash && hash !== ckpt.meta.dataHash) {
      throw new UsageError(
        `--data "${data}" is not the set the checkpoint was trained on (atlas ${hash?.slice(0, 12)}…, ` +
          `checkpoint ${ckpt.meta.dataHash.slice(0, 12)}…); pass the training set`,
      );
    }
    if (dataset.size !== ckpt.meta.imageSize) {
      throw new UsageError(
        `--data "${data}" has ${dataset.size}px images, the checkpoint ${ckpt.meta.imageSize}px`,
      );
    }
    out.tensors.set(DATA_MEAN_TENSOR, {
      shape: [dataset.size, dataset.size, 3],
      data: trainingMean(dataset),
    });
  } else if (!out.tensors.has(DATA_MEAN_TENSOR)) {
    console.error(
      `note: the checkpoint has no ${DATA_MEAN_TENSOR}; samples will start from N(0, I) (pass --data)`,
    );
  }
}
