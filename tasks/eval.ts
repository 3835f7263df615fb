/**
 * `deno task eval`: samples n images from a checkpoint and measures them against the training set
 * (KID in two download-free feature spaces with the split-half floor, memorisation, colour,
 * diversity). Writes report.md, report.json, pairs.png and samples.png.
 *
 * @module
 */
import { join } from "node:path";
import { asUsage, checkWritableDir, intFlag, parseFlags, runCli, UsageError } from "../src/cli/flags.ts";
import {
  checkpointFlag,
  type ConditioningFlags,
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
import { loadEmojiDataset } from "../src/dataset/mod.ts";
import { closestPairs, evaluate, formatReportMarkdown } from "../src/eval/mod.ts";
import { encodePng } from "../src/image/codec.ts";
import { makeGrid } from "../src/image/grid.ts";
import { OutputFiles, pathExists } from "../src/platform/io.ts";
import { modelFromCheckpoint } from "../src/model/from_checkpoint.ts";
import { DiffusionModel } from "../src/model/model.ts";
import { predictsZeroNoise, ZeroNoiseModel } from "../src/model/zero_noise.ts";
import { checkSampleOptions, sampleImages, SAMPLERS, samplerTimesteps } from "../src/sample/sample.ts";
import {
  DEFAULT_CHECKPOINT,
  DEFAULT_ETA,
  DEFAULT_GUIDANCE,
  DEFAULT_SAMPLER,
  DEFAULT_STEPS,
  defaultBatch,
} from "../src/sample/defaults.ts";
import type { SampleOptions } from "../src/sample/sample.ts";
import type { SamplerName } from "../src/sample/defaults.ts";
import type { DiffusionSchedule } from "../src/core/schedule.ts";
import type { EmojiDataset } from "../src/dataset/mod.ts";
import { ANY_VALUE, imageLabelIndices, LabelError, type LabelField } from "../src/model/labels.ts";
import { CONV_ENCODER, randomConvFeatures } from "../src/eval/features.ts";
import { leaveOneOutAccuracy, sampleAgreement } from "../src/eval/label_agreement.ts";
import { sampleGrid } from "../src/sample/output.ts";
import { chosenDataMean, PRIOR_USAGE } from "../src/cli/flags.ts";

const USAGE = `usage: deno task eval [options]
  --checkpoint FILE   checkpoint to evaluate (default ${DEFAULT_CHECKPOINT})
  --untrained         evaluate the checkpoint's architecture with fresh random weights (the reference)
  --data DIR          training set to compare with (default: the checkpoint's, else data/apple-faces-32)
  --n N               samples (default 256)     --batch N   (default min(n, ${defaultBatch(Infinity)}))
  --sampler NAME      ${SAMPLERS.join(" | ")} (default ${DEFAULT_SAMPLER})
  --steps S           steps of ddim and dpm++2m (default ${DEFAULT_STEPS})   --eta X   ddim only (default ${DEFAULT_ETA})
  --seed N            sampling seed (default 0)
${PRIOR_USAGE}
  --backend NAME      auto | webgpu | native | wasm | cpu (default auto: a hardware GPU, else the
                      system BLAS (native), else wasm)
${PARALLEL_USAGE}
  --label FIELD=VALUE for a conditioned checkpoint: samples asked for this label (repeatable; fields not
                      given take the model's default label, FIELD=* any value); KID against the training
                      images with these labels, memorisation against the whole training set
  --label-agreement   for a conditioned checkpoint: per label field, sample --n images spread over its
                      values and report a k-NN classifier's accuracy on them (k = 5, fit on the real
                      images in the conv feature space) against its leave-one-out accuracy on the real ones
  --guidance W        classifier-free guidance weight (default: the model's own, else ${DEFAULT_GUIDANCE})
  --guidance-interval LO,HI  guide only the steps with LO <= t/T <= HI (default: the model's own, else 0,1)
  --out DIR           report folder (default data/eval/<checkpoint name>-<sampler>, plus -standard when starting from N(0, I))`;

interface EvalPlan {
  v: ReturnType<typeof parseEvalFlags>;
  checkpoint: string;
  ckpt: Checkpoint;
  sampling: SamplerFlags;
  options: SampleOptions & { n: number; seed: number; sampler: SamplerName; steps: number };
  conditioning: ConditioningFlags;
  dataset: EmojiDataset;
  name: string;
}

function parseEvalFlags() {
  return parseFlags({
    args: Deno.args,
    options: {
      ...SAMPLING_OPTIONS,
      untrained: { type: "boolean" },
      data: { type: "string" },
      "label-agreement": { type: "boolean" },
    },
    strict: true,
  }).values;
}

async function main(): Promise<void> {
  const v = parseEvalFlags();
  if (v.help) return console.log(USAGE);
  const plan = await planEval(v);
  const { conditioning: { guidance }, name } = plan;
  if (v["label-agreement"]) {
    const out = v.out ?? `data/eval/${name}-labels-w${guidance ?? DEFAULT_GUIDANCE}`;
    await checkWritableDir("out", out);
    const parallel = await startSamplingBackend(plan.sampling);
    const loaded = modelFromCheckpoint(plan.ckpt);
    const { labels: _, ...unlabelled } = plan.options;
    await withSamplingWorkers(
      parallel,
      loaded,
      { images: unlabelled.n, batch: unlabelled.batch },
      (workers) =>
        labelAgreementReport(loaded.model, loaded.schedule, plan.dataset, { ...unlabelled, workers }, out),
    );
    loaded.model.dispose();
    return;
  }
  await sampleAndEvaluate(plan);
}

/** Every check of the flags, the checkpoint and the data set, before any work. */
async function planEval(v: ReturnType<typeof parseEvalFlags>): Promise<EvalPlan> {
  const n = intFlag("n", v.n, 256, 2, 100000);
  const sampling = samplerFlags(v);
  const batch = intFlag("batch", v.batch, defaultBatch(n), 1, 4096);
  const { path: checkpoint, ckpt } = await checkpointFlag(v.checkpoint, DEFAULT_CHECKPOINT);
  const vocab = ckpt.meta.model.labels;
  const conditioningFlag = v["label-agreement"]
    ? "--label-agreement"
    : v.guidance !== undefined
    ? "--guidance"
    : v["guidance-interval"] !== undefined
    ? "--guidance-interval"
    : v.label
    ? "--label"
    : undefined;
  if (conditioningFlag && !vocab) {
    throw new LabelError(`${conditioningFlag}: ${checkpoint} is unconditional: it has no labels`);
  }
  // what deno task sample would draw: the model's default labels fill the fields not asked for
  const conditioning = conditioningFlags(v, ckpt);
  if (v["label-agreement"] && v.label) {
    throw new UsageError("--label-agreement spreads its samples over every label value: drop --label");
  }
  // compare with the set the checkpoint was trained on unless told otherwise
  const trainedOn = typeof ckpt.meta.train?.data === "string" ? ckpt.meta.train.data : undefined;
  const data = v.data ?? trainedOn ?? "data/apple-faces-32";
  if (!(await pathExists(join(data, "manifest.json")))) {
    const given = v.data !== undefined ? "--data" : "the checkpoint's training set";
    throw new UsageError(
      `${given} "${data}" has no manifest.json; prepare it with: deno task prepare --out ${data}`,
    );
  }
  const { sampler, steps, eta, seed } = sampling;
  const { labels, guidance, guidanceInterval } = conditioning;
  const options = {
    n,
    batch,
    sampler,
    steps,
    eta,
    seed,
    dataMean: chosenDataMean(v.prior, ckpt),
    ...(vocab ? { labels, guidance, guidanceInterval } : {}),
  };
  asUsage(() => checkSampleOptions(options, ckpt.meta.schedule.T));
  const dataset = await loadEmojiDataset(data);
  if (ckpt.meta.dataHash && dataset.manifest && ckpt.meta.dataHash !== dataset.manifest.atlas.sha256) {
    console.error(`warning: the checkpoint was trained on other data (${ckpt.meta.dataHash.slice(0, 12)}…)`);
  }
  const name = checkpoint.split("/").pop()!.replace(/\.safetensors$/, "");
  return { v, checkpoint, ckpt, sampling, options, conditioning, dataset, name };
}

/** The model itself, or with `--untrained` the same architecture at its initial weights. */
async function modelToEvaluate(plan: EvalPlan): Promise<ReturnType<typeof modelFromCheckpoint>> {
  const loaded = modelFromCheckpoint(plan.ckpt);
  if (!plan.v.untrained) return loaded;
  // same architecture, weights as at initialisation (seed 0): the reference an untrained model gives
  const fresh = new DiffusionModel(loaded.model.config, plan.ckpt.meta.seed, loaded.model.imageSize);
  loaded.model.dispose();
  loaded.model = fresh;
  if (await predictsZeroNoise(fresh)) {
    // identical samples, no network evaluations: the DDPM-500 reference takes seconds, not an hour
    console.error("the fresh model's output conv is zero-initialised (ε ≡ 0): sampling without the network");
    loaded.model = new ZeroNoiseModel(fresh.config, plan.ckpt.meta.seed, fresh.imageSize);
    fresh.dispose();
  }
  return loaded;
}

/** Samples, evaluates against the (labelled) reference images and writes the report. */
async function sampleAndEvaluate(plan: EvalPlan): Promise<void> {
  const { v, checkpoint, ckpt, options, dataset, name } = plan;
  const { sampler, steps, eta, seed, n, dataMean } = options;
  const { labels, guidance, guidanceInterval } = plan.conditioning;
  const vocab = ckpt.meta.model.labels;
  const labelled = Object.entries(labels).filter(([, value]) => value !== ANY_VALUE);
  // KID compares with the training images that carry the labels asked for (all of them when none)
  const reference = labelled.length ? labelledSubset(dataset, labelled) : dataset.images;
  const labelSuffix = labelled.map(([, value]) => `-${value}`).join("") +
    (labelled.length && (guidance ?? DEFAULT_GUIDANCE) !== 1 ? `-w${guidance}` : "");
  const out = v.out ??
    `data/eval/${name}${v.untrained ? "-untrained" : ""}-${sampler}${sampler === "ddpm" ? "" : steps}${
      dataMean ? "" : "-standard"
    }${labelSuffix}`;
  await checkWritableDir("out", out);
  const parallel = await startSamplingBackend(plan.sampling);
  const loaded = await modelToEvaluate(plan);
  const result = await withSamplingWorkers(
    parallel,
    loaded,
    { images: n, batch: options.batch },
    (workers) =>
      sampleImages(loaded.model, loaded.schedule, {
        ...options,
        onProgress: progressPrinter(n, { every: 10, tty: false }),
        ...(workers ? { workers } : {}),
      }),
  );
  console.error(`sampled ${n} images in ${result.seconds.toFixed(1)} s; evaluating…`);
  const report = evaluate(result.images, reference, {
    size: dataset.size,
    seed,
    memorisationSet: dataset.images,
    onProgress: (stage, ms) => console.error(`  ${stage}: ${(ms / 1000).toFixed(1)} s`),
  });
  const pairs = closestPairs(result.images, dataset.images, report.memorisation, 8, dataset.size);
  const pairsGrid = makeGrid(pairs.interleaved, pairs.k, 2, dataset.size, {
    gutter: 1,
    scale: 3,
    gutterColor: [40, 40, 40],
  });
  const files = new OutputFiles();
  await files.write(
    join(out, "pairs.png"),
    await encodePng(pairsGrid.rgba, pairsGrid.width, pairsGrid.height),
  );
  const grid = sampleGrid(result.images, n, dataset.size, 2);
  await files.write(join(out, "samples.png"), await encodePng(grid.rgba, grid.width, grid.height));
  const noNetwork = loaded.model instanceof ZeroNoiseModel ? ": ε ≡ 0, no network run" : "";
  const weights = v.untrained
    ? `untrained (fresh initialisation${noNetwork})`
    : loaded.usedEma
    ? "EMA"
    : "raw";
  const evaluations = samplerTimesteps(sampler, loaded.schedule.T, steps).length;
  const meta = {
    checkpoint,
    weights,
    step: v.untrained ? 0 : loaded.step,
    sampler: sampler === "ddim" ? `ddim-${steps} eta=${eta}` : `${sampler}-${evaluations}`,
    networkEvaluations: evaluations,
    prior: dataMean ? "data-mean" : "standard",
    ...(vocab
      ? {
        labels: Object.entries(labels).map(([f, x]) => `${f}=${x}`).join(" ") || "none",
        guidance: guidance ?? DEFAULT_GUIDANCE,
        ...(guidanceInterval ? { guidanceInterval: guidanceInterval.join(",") } : {}),
        referenceImages: reference.length / (dataset.size * dataset.size * 3),
      }
      : {}),
    samplingSeconds: Number(result.seconds.toFixed(2)),
    command: `deno task eval ${Deno.args.join(" ")}`.trim(),
  };
  await files.write(join(out, "report.json"), JSON.stringify({ meta, report }, null, 2) + "\n");
  await files.write(
    join(out, "report.md"),
    formatReportMarkdown(report, {
      title: `Sample quality: ${name}${v.untrained ? " (untrained)" : ""}`,
      pairsImage: "pairs.png",
      fields: meta,
    }),
  );
  loaded.model.dispose();
  console.log(summaryLine(report, join(out, "report.md")));
}

/** The one-line summary of a report. */
function summaryLine(report: ReturnType<typeof evaluate>, path: string): string {
  const k = report.kid, pr = report.precisionRecall, nc = report.nearCopies;
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  return (pr
    ? `precision ${pr.precision.toFixed(2)} (real halves ${pr.real.precision.toFixed(2)}), recall ` +
      `${pr.recall.toFixed(2)} (real halves ${pr.real.recall.toFixed(2)}), `
    : "") +
    (nc ? `near-copies ${pct(nc.rate)} (real ${pct(nc.realRate)}), ` : "") +
    `KID conv ${k.conv.mean.toExponential(2)} (floor ${k.conv.floor.mean.toExponential(2)}), ` +
    `KID pixels8 ${k.pixels8.mean.toExponential(2)} (floor ${k.pixels8.floor.mean.toExponential(2)}), ` +
    `memorised ${pct(report.memorisation.rate)} (real images by the same rule: ${
      pct(report.memorisation.realRate)
    }); report: ${path}`;
}

/** The training images whose manifest labels match every (field, value) given. */
function labelledSubset(dataset: EmojiDataset, labelled: [string, string][]): Float32Array {
  if (!dataset.manifest) throw new UsageError("--label needs a prepared dataset with a manifest");
  const per = dataset.size * dataset.size * 3;
  const keep = dataset.manifest.images.flatMap((im, i) =>
    labelled.every(([field, value]) => im[field as LabelField] === value) ? [i] : []
  );
  if (keep.length < 4) {
    throw new UsageError(
      `only ${keep.length} training images carry ${labelled.map(([f, x]) => `${f}=${x}`).join(" ")}: ` +
        `KID needs at least 4; ask for fewer labels`,
    );
  }
  const out = new Float32Array(keep.length * per);
  keep.forEach((i, j) => out.set(dataset.images.subarray(i * per, (i + 1) * per), j * per));
  return out;
}

/** Per label field: samples spread over its values, the k-NN agreement and the real images' ceiling. */
async function labelAgreementReport(
  model: DiffusionModel,
  schedule: DiffusionSchedule,
  dataset: EmojiDataset,
  options: Omit<SampleOptions, "labels">,
  out: string,
): Promise<void> {
  const vocab = model.labels!;
  if (!dataset.manifest) throw new UsageError("--label-agreement needs a prepared dataset with a manifest");
  const realFeatures = randomConvFeatures(dataset.images, dataset.count, dataset.size);
  const indices = imageLabelIndices(dataset.manifest.images, vocab);
  const rows: { field: string; values: number; samples: number; ceiling: number; agreement: number }[] = [];
  for (const [f, [field, values]] of Object.entries(vocab).entries()) {
    const per = Math.max(1, Math.ceil(options.n / values.length));
    const asked = Int32Array.from({ length: per * values.length }, (_, i) => Math.floor(i / per));
    const labels = Array.from(asked, (k) => ({ [field]: values[k] }));
    const result = await sampleImages(model, schedule, { ...options, n: asked.length, labels });
    const ref = { features: realFeatures, dim: CONV_ENCODER.dim, labels: indices[f] };
    const row = {
      field,
      values: values.length,
      samples: asked.length,
      ceiling: leaveOneOutAccuracy(ref),
      agreement: sampleAgreement(ref, randomConvFeatures(result.images, asked.length, dataset.size), asked),
    };
    rows.push(row);
    console.log(
      `${field}: ${row.values} values, ${row.samples} samples: k-NN agreement ${
        (100 * row.agreement).toFixed(1)
      }% ` +
        `(real images, leave-one-out: ${(100 * row.ceiling).toFixed(1)}%; chance ${
          (100 / row.values).toFixed(1)
        }%)`,
    );
  }
  const report = {
    guidance: options.guidance ?? DEFAULT_GUIDANCE,
    ...(options.guidanceInterval ? { guidanceInterval: options.guidanceInterval } : {}),
    k: 5,
    features: "conv",
    rows,
  };
  await new OutputFiles().write(join(out, "label-agreement.json"), JSON.stringify(report, null, 2) + "\n");
}

if (import.meta.main) await runCli(main);
