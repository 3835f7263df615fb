/**
 * One call that measures a set of samples against the training set ({@linkcode evaluate}) and
 * renders the result as Markdown ({@linkcode formatReportMarkdown}).
 *
 * @module
 */
import { type ColourReport, colourStats } from "./colour.ts";
import { countImages } from "./common.ts";
import { diversity, type DiversityResult } from "./diversity.ts";
import { CONV_ENCODER, PIXEL8_DIM, pixelFeatures8, randomConvFeatures } from "./features.ts";
import { kid, type KidResult, kidSplitHalfFloor } from "./kid.ts";
import { memorisation, type MemorisationResult, realMemorisationRate } from "./memorisation.ts";
import { type NearCopies, nearCopies } from "./near_copies.ts";
import { type PrecisionRecall, precisionRecall, realHalvesPrecisionRecall } from "./precision_recall.ts";

/** Options for {@linkcode evaluate}. */
export interface EvaluateOptions {
  /** Image side length. Default 32. */
  size?: number;
  /** Number of samples; inferred from the array length when omitted (checked when given). */
  nSamples?: number;
  /** Number of training images; inferred from the array length when omitted (checked when given). */
  nTrain?: number;
  /** Seed: KID subsets use `Rng(seed)`, the split-half floors `Rng(seed + 1)`. Default 0. */
  seed?: number;
  /** KID subset size (capped by the set sizes). Default 100. */
  subsetSize?: number;
  /** Number of KID subsets (and of floor splits). Default 50. */
  numSubsets?: number;
  /** Memorisation factor (see {@linkcode memorisation}). Default 0.5. */
  memorisationFactor?: number;
  /**
   * The images memorisation is measured against, when `train` is only the part of the training set the
   * samples were asked to look like (e.g. one vendor's faces of a conditioned model): the whole
   * training set, so a copy of any training image counts. Default: `train`.
   */
  memorisationSet?: Float32Array;
  /** HSV V above which a pixel is foreground. Default 0.05. */
  foregroundThreshold?: number;
  /** Called after each stage with its name and its duration in ms (for CLI progress). */
  onProgress?: (stage: string, ms: number) => void;
}

/** KID in one feature space, with the training set's split-half floor. */
export interface KidEntry extends KidResult {
  /** Feature dimension. */
  dim: number;
  /** KID between two random halves of the training set, in the same feature space. */
  floor: KidResult;
}

/** Everything {@linkcode evaluate} measures; plain numbers and arrays, JSON-serialisable. */
export interface EvalReport {
  /** Report format identifier. */
  schema: "emoji-diffusion/eval@1";
  /** Image side length. */
  size: number;
  /** Number of samples evaluated. */
  nSamples: number;
  /** Number of training images. */
  nTrain: number;
  /** Seed of the KID subsets. */
  seed: number;
  /** KID of samples vs training images in both feature spaces. */
  kid: {
    /** Random conv encoder features (d = 256). */
    conv: KidEntry;
    /** 8×8 area-downsampled pixels (d = 192). */
    pixels8: KidEntry;
  };
  /**
   * Nearest-training-image distances and the memorisation rate, with `realRate`: the same rule applied
   * to the real images of `train` against the rest of the memorisation set (see
   * {@linkcode realMemorisationRate}).
   */
  memorisation: MemorisationResult & { realRate: number };
  /** Colour statistics of samples and training images. */
  colour: {
    /** Of the samples. */
    samples: ColourReport;
    /** Of the training images. */
    train: ColourReport;
  };
  /** Mean pairwise pixel distances. */
  diversity: DiversityResult;
  /**
   * Improved precision and recall (k = 3) in the conv feature space, with `real`: the same figures
   * between two random halves of `train` (what new real images would score).
   */
  precisionRecall?: PrecisionRecall & { real: PrecisionRecall };
  /**
   * Near-copies by Carlini et al.'s rule against the memorisation set (the per-sample ratios left out),
   * with `realRate`: the rule applied to the real images of `train` against the rest of that set.
   */
  nearCopies?: Omit<NearCopies, "ratio"> & { realRate: number };
}

/**
 * Measures `samples` against `train` (both NHWC `Float32Array` in [−1, 1], `size`×`size`):
 * KID in the random-conv and 8×8-pixel feature spaces with their split-half floors,
 * memorisation, colour statistics and diversity. Deterministic for a given seed. For 256
 * samples vs 120 training images at 32×32 it takes a few seconds on one CPU core.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { evaluate } from "./report.ts";
 * import { Rng } from "../core/rng.ts";
 * const rng = new Rng(1);
 * const train = Float32Array.from({ length: 8 * 8 * 8 * 3 }, () => rng.uniform() * 2 - 1);
 * const samples = train.slice(0, 4 * 8 * 8 * 3);
 * const r = evaluate(samples, train, { size: 8, numSubsets: 5 });
 * assert.equal(r.nSamples, 4);
 * assert.equal(r.memorisation.rate, 1);
 * assert.equal(JSON.parse(JSON.stringify(r)).kid.conv.dim, 256);
 * ```
 */
export function evaluate(samples: Float32Array, train: Float32Array, opts: EvaluateOptions = {}): EvalReport {
  const size = opts.size ?? 32;
  const nSamples = countImages(samples, size, "samples"), nTrain = countImages(train, size, "train");
  if (opts.nSamples !== undefined && opts.nSamples !== nSamples) {
    throw new RangeError(`nSamples is ${opts.nSamples} but the samples array holds ${nSamples} images`);
  }
  if (opts.nTrain !== undefined && opts.nTrain !== nTrain) {
    throw new RangeError(`nTrain is ${opts.nTrain} but the train array holds ${nTrain} images`);
  }
  if (nSamples < 2) throw new RangeError(`evaluate needs at least 2 samples, got ${nSamples}`);
  if (nTrain < 4) throw new RangeError(`evaluate needs at least 4 training images, got ${nTrain}`);
  const seed = opts.seed ?? 0;
  const kidOpts = { subsetSize: opts.subsetSize ?? 100, numSubsets: opts.numSubsets ?? 50 };
  let t0 = performance.now();
  const stage = (name: string) => {
    const t = performance.now();
    opts.onProgress?.(name, t - t0);
    t0 = t;
  };

  const convS = randomConvFeatures(samples, nSamples, size), convT = randomConvFeatures(train, nTrain, size);
  stage("conv features");
  const conv: KidEntry = {
    dim: CONV_ENCODER.dim,
    ...kid(convS, convT, CONV_ENCODER.dim, { ...kidOpts, seed }),
    floor: kidSplitHalfFloor(convT, CONV_ENCODER.dim, { ...kidOpts, seed: seed + 1 }),
  };
  stage("conv KID");
  const pixS = pixelFeatures8(samples, nSamples, size), pixT = pixelFeatures8(train, nTrain, size);
  const pixels8: KidEntry = {
    dim: PIXEL8_DIM,
    ...kid(pixS, pixT, PIXEL8_DIM, { ...kidOpts, seed }),
    floor: kidSplitHalfFloor(pixT, PIXEL8_DIM, { ...kidOpts, seed: seed + 1 }),
  };
  stage("pixel KID");
  const memoSet = opts.memorisationSet ?? train;
  const nMemo = countImages(memoSet, size, "memorisationSet");
  const memo = memorisation(samples, nSamples, memoSet, nMemo, size, { factor: opts.memorisationFactor });
  const realRate = realMemorisationRate(train, nTrain, memoSet, nMemo, memo.threshold, size);
  stage("memorisation");
  const colourOpts = { foregroundThreshold: opts.foregroundThreshold };
  const colour = {
    samples: colourStats(samples, nSamples, size, colourOpts),
    train: colourStats(train, nTrain, size, colourOpts),
  };
  stage("colour");
  const div = diversity(samples, nSamples, train, nTrain, size);
  stage("diversity");
  const pr = nTrain >= 8 && nSamples > 3
    ? {
      ...precisionRecall(convS, convT, CONV_ENCODER.dim),
      real: realHalvesPrecisionRecall(convT, CONV_ENCODER.dim, 3, seed + 2),
    }
    : undefined;
  stage("precision and recall");
  let copies: EvalReport["nearCopies"];
  if (nMemo > 11) {
    const { ratio: _, ...sampleCopies } = nearCopies(samples, nSamples, memoSet, nMemo, size);
    copies = { ...sampleCopies, realRate: nearCopies(train, nTrain, memoSet, nMemo, size, true).rate };
  }
  stage("near-copies");
  return {
    schema: "emoji-diffusion/eval@1",
    size,
    nSamples,
    nTrain,
    seed,
    kid: { conv, pixels8 },
    memorisation: { ...memo, realRate },
    colour,
    diversity: div,
    ...(pr ? { precisionRecall: pr } : {}),
    ...(copies ? { nearCopies: copies } : {}),
  };
}

/** Extra information for the head of {@linkcode formatReportMarkdown}. */
export interface ReportMeta {
  /** Title of the report. Default "Sample quality". */
  title?: string;
  /** Path of the closest-pairs PNG, relative to the report, to embed. */
  pairsImage?: string;
  /** Key/value rows shown at the top (checkpoint, step, sampler, date, …). */
  fields?: Record<string, string | number | boolean>;
}

/**
 * Formats a number for the report: 4 significant digits, exponent form for tiny magnitudes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatNumber } from "./report.ts";
 * assert.equal(formatNumber(0.012345), "0.01235");
 * assert.equal(formatNumber(0.00001234), "1.23e-5");
 * ```
 */
export function formatNumber(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  if (x === 0) return "0";
  const a = Math.abs(x);
  if (a < 1e-3) return x.toExponential(2);
  if (a >= 1e4) return x.toFixed(0);
  return x.toPrecision(4);
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
const rgb = (c: [number, number, number]) => c.map(formatNumber).join(" / ");

/**
 * Renders an {@linkcode EvalReport} as Markdown for report.md: the meta fields, a KID table with
 * the floors and how to read them, memorisation (rule, rate, optional closest-pairs image),
 * colour and diversity tables.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { evaluate, formatReportMarkdown } from "./report.ts";
 * import { Rng } from "../core/rng.ts";
 * const rng = new Rng(2);
 * const train = Float32Array.from({ length: 8 * 8 * 8 * 3 }, () => rng.uniform() * 2 - 1);
 * const samples = Float32Array.from({ length: 4 * 8 * 8 * 3 }, () => rng.uniform() * 2 - 1);
 * const md = formatReportMarkdown(evaluate(samples, train, { size: 8, numSubsets: 5 }), {
 *   fields: { checkpoint: "step-1000" },
 *   pairsImage: "closest_pairs.png",
 * });
 * assert.ok(md.includes("## KID"));
 * assert.ok(md.includes("closest_pairs.png"));
 * assert.ok(md.includes("step-1000"));
 * ```
 */
export function formatReportMarkdown(report: EvalReport, meta: ReportMeta = {}): string {
  const L: string[] = [];
  L.push(`# ${meta.title ?? "Sample quality"}`, "");
  L.push("| | |", "|---|---|");
  for (const [k, v] of Object.entries(meta.fields ?? {})) L.push(`| ${k} | ${v} |`);
  L.push(`| samples | ${report.nSamples} |`, `| training images | ${report.nTrain} |`);
  L.push(`| image size | ${report.size}×${report.size} |`, `| seed | ${report.seed} |`, "");

  L.push("## KID (lower is better)", "");
  L.push("| feature space | d | KID samples vs train | floor: train half vs half | subsets × size (floor) |");
  L.push("|---|---:|---:|---:|---:|");
  const kidRow = (name: string, e: KidEntry) =>
    `| ${name} | ${e.dim} | ${formatNumber(e.mean)} ± ${formatNumber(e.std)} | ${
      formatNumber(e.floor.mean)
    } ± ${
      formatNumber(e.floor.std)
    } | ${e.numSubsets} × ${e.subsetSize} (${e.floor.numSubsets} × ${e.floor.subsetSize}) |`;
  L.push(
    kidRow("random conv encoder (seed 1234)", report.kid.conv),
    kidRow("8×8 pixels", report.kid.pixels8),
  );
  L.push("");
  L.push(
    "Unbiased MMD² with the cubic kernel (x·y/d + 1)³, mean ± std over random subsets. The floor is the same",
    "estimator between two random halves of the training set: ≈ 0 by construction, and its std is the noise of a",
    "KID on this little data. A KID within about two floor stds of the floor is indistinguishable from fresh",
    "training data at this sample size; a negative KID can mean samples copy training images (see below).",
    "",
  );

  const m = report.memorisation;
  L.push("## Memorisation", "");
  L.push(
    `A sample counts as memorised when its L2 pixel distance to the nearest training image is below ${m.factor} ×`,
    "the median leave-one-out nearest-neighbour distance within the training set.",
    "",
  );
  L.push("| | |", "|---|---:|");
  L.push(`| memorised | ${pct(m.rate)} (${m.count} / ${report.nSamples}) |`);
  L.push(`| real images of the reference set, same rule against the others | ${pct(m.realRate)} |`);
  L.push(`| threshold | ${formatNumber(m.threshold)} |`);
  L.push(`| training set LOO NN distance, median | ${formatNumber(m.trainLooMedian)} |`);
  L.push(`| sample → nearest training image, median | ${formatNumber(m.sampleNnMedian)} |`);
  L.push(`| sample → nearest training image, min | ${formatNumber(m.sampleNnMin)} |`, "");
  if (meta.pairsImage) {
    L.push(`![closest sample/training pairs](${meta.pairsImage})`, "");
    L.push(
      "Closest pairs first; in each pair the sample is on the left, its nearest training image on the right.",
      "",
    );
  }

  if (report.precisionRecall || report.nearCopies) {
    L.push("## Precision, recall and near-copies", "");
    L.push("| | samples | real images |", "|---|---:|---:|");
    const pr = report.precisionRecall;
    if (pr) {
      L.push(
        `| precision (k = ${pr.k}, conv features) | ${formatNumber(pr.precision)} | ${
          formatNumber(pr.real.precision)
        } |`,
      );
      L.push(
        `| recall (k = ${pr.k}, conv features) | ${formatNumber(pr.recall)} | ${
          formatNumber(pr.real.recall)
        } |`,
      );
    }
    const nc = report.nearCopies;
    if (nc) L.push(`| near-copies (Carlini et al.) | ${pct(nc.rate)} (${nc.count}) | ${pct(nc.realRate)} |`);
    L.push(
      "",
      "Precision: samples inside the real images' k-NN balls (they look real); recall: real images inside the",
      "samples' balls (the samples cover them) (Kynkäänniemi et al. 2019). The real column is one random half of",
      "the real set against the other. A near-copy's nearest training image is closer than a third of the mean",
      "distance to its next ten (Carlini et al. 2023, pixel space); the real column applies the rule to each real",
      "image against the rest.",
      "",
    );
  }

  const cs = report.colour.samples, ct = report.colour.train;
  L.push("## Colour", "");
  L.push(
    `Pixel units [0, 1]; brightness is HSV V = max(r, g, b). Foreground: pixels with V > ${cs.foregroundThreshold}.`,
    "",
  );
  L.push("| | samples | train |", "|---|---:|---:|");
  L.push(
    `| saturation, all pixels | ${formatNumber(cs.all.saturation)} | ${formatNumber(ct.all.saturation)} |`,
  );
  L.push(
    `| brightness, all pixels | ${formatNumber(cs.all.brightness)} | ${formatNumber(ct.all.brightness)} |`,
  );
  L.push(`| mean R / G / B, all pixels | ${rgb(cs.all.channelMeans)} | ${rgb(ct.all.channelMeans)} |`);
  L.push(`| foreground fraction | ${pct(cs.foreground.fraction)} | ${pct(ct.foreground.fraction)} |`);
  L.push(
    `| saturation, foreground | ${formatNumber(cs.foreground.saturation)} | ${
      formatNumber(ct.foreground.saturation)
    } |`,
  );
  L.push(
    `| brightness, foreground | ${formatNumber(cs.foreground.brightness)} | ${
      formatNumber(ct.foreground.brightness)
    } |`,
  );
  L.push(
    `| mean R / G / B, foreground | ${rgb(cs.foreground.channelMeans)} | ${
      rgb(ct.foreground.channelMeans)
    } |`,
  );
  L.push("");

  const d = report.diversity;
  L.push("## Diversity", "");
  L.push("| mean pairwise L2 pixel distance | value |", "|---|---:|");
  L.push(
    `| among samples | ${formatNumber(d.samples)} |`,
    `| among training images | ${formatNumber(d.train)} |`,
  );
  L.push(`| ratio samples / train | ${formatNumber(d.ratio)} |`, "");
  return L.join("\n");
}
