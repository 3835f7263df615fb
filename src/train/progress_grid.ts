/**
 * The layout of the sample grid a training run writes with every checkpoint: a square grid for an
 * unconditional model, and for a conditioned one a row per value of its smallest label field, so that
 * the grids show what each label has learned rather than only the null (unconditioned) network.
 *
 * @module
 */
import type { Labels, LabelVocabulary } from "../model/labels.ts";

/** Where each image of a progress grid goes and which labels it is drawn with. */
export interface ProgressGridLayout {
  /** Rows of the grid. */
  rows: number;
  /** Images per row. */
  cols: number;
  /** One label set per image, row by row; absent for an unconditional model. */
  labels?: Labels[];
  /** The label field whose values are the rows, and those values; absent for an unconditional model. */
  rowsBy?: { field: string; values: string[] };
}

/**
 * The progress grid of `n` images (at most: a conditioned grid holds `rows × cols ≤ n`). Unconditional:
 * ⌈n/side⌉ rows of side = ⌈√n⌉. Conditioned: one row per value of the field with the fewest values (the
 * first such field on a tie; at most `n` rows), ⌊n/rows⌋ images each, every other field at its null
 * entry.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { progressGridLayout } from "./progress_grid.ts";
 * const plain = progressGridLayout(undefined, 16);
 * assert.equal(plain.rows, 4);
 * assert.equal(plain.cols, 4);
 * assert.equal(plain.labels, undefined);
 * const vocab = { vendor: ["apple", "google"], subcategory: ["face-smiling", "face-sleepy", "face-hat"] };
 * const cond = progressGridLayout(vocab, 16);
 * assert.equal(cond.rowsBy!.field, "vendor");
 * assert.equal(cond.rows, 2);
 * assert.equal(cond.cols, 8);
 * assert.equal(cond.labels!.length, 16);
 * assert.equal(cond.labels![8].vendor, "google");
 * ```
 */
export function progressGridLayout(vocab: LabelVocabulary | undefined, n: number): ProgressGridLayout {
  if (!Number.isInteger(n) || n < 1) {
    throw new RangeError(`progress grid: n must be an integer >= 1, got ${n}`);
  }
  if (!vocab) {
    const side = Math.ceil(Math.sqrt(n));
    return { rows: Math.ceil(n / side), cols: side };
  }
  // a vocabulary has at least one field, and every field at least one value (validateVocabulary)
  const [field, all] = Object.entries(vocab).reduce((best, f) => f[1].length < best[1].length ? f : best);
  const values = all.slice(0, n);
  const cols = Math.floor(n / values.length);
  const labels = values.flatMap((value) => new Array<Labels>(cols).fill({ [field]: value }));
  return { rows: values.length, cols, labels, rowsBy: { field, values } };
}
