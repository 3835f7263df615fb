/**
 * Emoji datasets: prepare (emoji-datasource-* packages, SVG emoji sets or a folder → atlas PNG + manifest), load
 * (verified), and sample seeded shuffled, flipped batches. Parts live in `src/dataset/`.
 *
 * @module
 */
import { join, normalize } from "node:path";
import { pathExists } from "../platform/io.ts";
import { MANIFEST_FILE } from "./manifest.ts";
import { type EmojiDataset, loadEmojiDataset } from "./load.ts";
import { DEFAULT_DATASET_DIR, prepareDataset, type PrepareOptions } from "./prepare.ts";

export {
  ATLAS_FILE,
  DatasetError,
  type DatasetManifest,
  MANIFEST_FILE,
  MANIFEST_FORMAT,
  MANIFEST_VERSION,
  type ManifestAtlas,
  type ManifestImage,
  type ManifestSource,
  sha256Hex,
  validateManifest,
} from "./manifest.ts";
export {
  DATASOURCE_VENDORS,
  type DatasourceVendor,
  DEFAULT_CATEGORY,
  DEFAULT_SUBCATEGORY_PATTERN,
  EMOJI_DATASOURCE_VERSION,
  EMOJI_METADATA_PACKAGE,
  type EmojiRecord,
  isDatasourceVendor,
  locateMetadataPackage,
  locateVendorPackage,
  parseVendors,
  readEmojiRecords,
  type ResolvedFilter,
  resolveFilter,
  selectRecords,
  SVG_VENDORS,
  type SvgVendor,
  type Vendor,
  type VendorPackage,
  VENDORS,
} from "./vendors.ts";
export {
  iconifySvg,
  listStyleEntries,
  localPackage,
  type OpenedStyle,
  openStyle,
  readCldrNames,
  type StyleEntry,
  SVG_STYLES,
  type SvgStyle,
  VENDOR_LICENCES,
} from "./svg_styles.ts";
export {
  codepointKey,
  joinEntries,
  type JoinMatch,
  type JoinMiss,
  type JoinReport,
  type JoinVia,
  nameKey,
  type SetEntry,
  summarizeMisses,
} from "./join.ts";
export { splitSprite, type SpriteEntry, SpriteError } from "./sprite.ts";
export { rasterizeSvg, RESVG_PACKAGE, SvgRenderError } from "./svg.ts";
export { locateNpmPackage, type NpmPackage } from "./npm_package.ts";
export { type StyleGridLayout, styleGridLayout } from "./style_grid.ts";
export {
  DEFAULT_DATASET_DIR,
  IMAGE_EXTENSIONS,
  prepareDataset,
  type PrepareOptions,
  type PrepareResult,
  rgbaToDatasetImage,
  svgRenderWidth,
} from "./prepare.ts";
export {
  type BatchSamplerOptions,
  DatasetSampler,
  EmojiDataset,
  flipHorizontal,
  loadEmojiDataset,
  type SamplerState,
} from "./load.ts";
export { type ForwardStrip, forwardStrip } from "./forward_strip.ts";

/**
 * The dataset folders the shipped recipes train on, with what `prepare` makes of them: each is
 * prepared on demand when missing (`data/apple-faces-32`, the default; `data/faces4-32`, four PNG
 * vendors; `data/all-faces-32`, all eight styles).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PREPARED_ON_DEMAND } from "./mod.ts";
 * assert.equal(PREPARED_ON_DEMAND["data/all-faces-32"].vendors, "all");
 * ```
 */
export const PREPARED_ON_DEMAND: Readonly<Record<string, Omit<PrepareOptions, "out">>> = {
  [DEFAULT_DATASET_DIR]: {},
  "data/faces4-32": { vendors: "apple,google,twitter,facebook" },
  "data/all-faces-32": { vendors: "all" },
};

/**
 * Loads the dataset in `dir`, preparing it first if `dir` has no manifest and either `dir` is one of
 * the shipped recipes' folders ({@linkcode PREPARED_ON_DEMAND}) or `options` say what to prepare
 * (`vendors`, `from`, `category`, `subcategory`, `size` or `background`; `out` is always `dir`).
 * Any other missing folder is a {@linkcode DatasetError} listing the datasets that exist, so a typo
 * never silently creates a dataset. A dataset that exists but fails verification is an error, never
 * overwritten. Needs `--allow-read --allow-ffi --allow-env`, and `--allow-write` for `dir` when it
 * prepares.
 *
 * @throws {DatasetError} for a missing dataset nobody said how to prepare, bad prepare options, or
 * (with `corrupt`) files that fail their checks.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ensureDataset } from "./mod.ts";
 * import { encodePng } from "../image/codec.ts";
 * const src = await Deno.makeTempDir(), dir = `${await Deno.makeTempDir()}/set`;
 * await Deno.writeFile(`${src}/a.png`, await encodePng(Uint8Array.of(0, 0, 0, 255), 1, 1));
 * const ds = await ensureDataset(dir, { from: src, size: 2, log: null });
 * assert.equal(ds.count, 1);
 * assert.equal((await ensureDataset(dir)).count, 1);
 * ```
 */
export async function ensureDataset(
  dir: string = DEFAULT_DATASET_DIR,
  options: Omit<PrepareOptions, "out"> = {},
): Promise<EmojiDataset> {
  if (!(await pathExists(join(dir, MANIFEST_FILE)))) {
    const { vendors, from, category, subcategory, size, background } = options;
    const saysWhat = [vendors, from, category, subcategory, size, background].some((v) => v !== undefined);
    const known = Object.entries(PREPARED_ON_DEMAND).find(([d]) => normalize(d) === normalize(dir))?.[1];
    if (saysWhat || known) await prepareDataset({ ...(saysWhat ? {} : known), ...options, out: dir });
  }
  return await loadEmojiDataset(dir);
}
