/**
 * Sample-quality metrics for emoji-diffusion, backend-free (plain typed arrays): KID in two
 * fixed feature spaces with a split-half floor, memorisation against the training set, colour
 * statistics and diversity. Images are NHWC `Float32Array`s with values in [−1, 1].
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { closestPairs, evaluate, formatReportMarkdown } from "./mod.ts";
 * import { Rng } from "../core/rng.ts";
 * const rng = new Rng(5);
 * const train = Float32Array.from({ length: 8 * 8 * 8 * 3 }, () => rng.uniform() * 2 - 1);
 * const samples = Float32Array.from({ length: 6 * 8 * 8 * 3 }, () => rng.uniform() * 2 - 1);
 * const report = evaluate(samples, train, { size: 8, numSubsets: 5 });
 * const pairs = closestPairs(samples, train, report.memorisation, 3, 8);
 * assert.equal(pairs.k, 3);
 * assert.ok(formatReportMarkdown(report).startsWith("# "));
 * ```
 *
 * @module
 */
export * from "./colour.ts";
export * from "./common.ts";
export * from "./diversity.ts";
export * from "./features.ts";
export * from "./kid.ts";
export * from "./memorisation.ts";
export * from "./report.ts";
export * from "./near_copies.ts";
export * from "./precision_recall.ts";
export * from "./label_agreement.ts";
