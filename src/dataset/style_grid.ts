/**
 * The layout of a grid of styles side by side: one row per vendor of a prepared dataset, one column per
 * subcategory, each column the same emoji in every style.
 *
 * @module
 */
import type { DatasetManifest } from "./manifest.ts";

/** What {@linkcode styleGridLayout} chose. */
export interface StyleGridLayout {
  /** One row per vendor, in the manifest's source order. */
  vendors: string[];
  /** One column per subcategory that has an emoji every vendor draws: its short name. */
  columns: { subcategory: string; shortName: string }[];
  /** Dataset image indices, row-major (`vendors.length × columns.length`). */
  indices: number[];
  /** Subcategories left out because no emoji of theirs is in every vendor. */
  leftOut: string[];
}

/**
 * Picks, for each subcategory in dataset order, the first emoji (in dataset order) that every vendor
 * of the dataset has, and lays out the images as one row per vendor.
 *
 * @example Two vendors, two subcategories: only `b` is drawn by both in the second
 * ```ts
 * import assert from "node:assert/strict";
 * import { styleGridLayout } from "./style_grid.ts";
 * import type { DatasetManifest } from "./manifest.ts";
 * const img = (vendor: string, shortName: string, subcategory: string) => ({ vendor, shortName, subcategory });
 * const manifest = {
 *   sources: [{ vendor: "x" }, { vendor: "y" }],
 *   images: [img("x", "a", "s1"), img("x", "c", "s2"), img("x", "b", "s2"), img("y", "a", "s1"), img("y", "b", "s2")],
 * } as unknown as DatasetManifest;
 * const layout = styleGridLayout(manifest);
 * assert.deepEqual(layout.columns.map((c) => c.shortName), ["a", "b"]);
 * assert.deepEqual(layout.indices, [0, 2, 3, 4]);
 * ```
 */
export function styleGridLayout(manifest: DatasetManifest): StyleGridLayout {
  const vendors = [...new Set(manifest.sources.map((s) => s.vendor))];
  const index = new Map<string, number>();
  manifest.images.forEach((im, i) => {
    const key = `${im.vendor}\u0000${im.shortName}`;
    if (!index.has(key)) index.set(key, i);
  });
  const subcategories = [...new Set(manifest.images.map((im) => im.subcategory ?? ""))];
  const columns: StyleGridLayout["columns"] = [];
  const leftOut: string[] = [];
  for (const subcategory of subcategories) {
    const pick = manifest.images.find((im) =>
      (im.subcategory ?? "") === subcategory && vendors.every((v) => index.has(`${v}\u0000${im.shortName}`))
    );
    if (pick) columns.push({ subcategory, shortName: pick.shortName });
    else leftOut.push(subcategory);
  }
  const indices = vendors.flatMap((v) => columns.map((c) => index.get(`${v}\u0000${c.shortName}`)!));
  return { vendors, columns, indices, leftOut };
}
