/**
 * The eight emoji vendors (styles): the four emoji-datasource-* npm packages of 64 px PNGs (Apple,
 * Google, Twitter, Facebook) and the four SVG sets (OpenMoji, Fluent, Noto, Noto's old blobs, see
 * `svg_styles.ts`); what emoji-datasource's `emoji.json` says; the category / subcategory filters.
 *
 * @module
 */
import { join } from "node:path";
import { DatasetError } from "./manifest.ts";
import { locateNpmPackage } from "./npm_package.ts";

/** An emoji vendor with an `emoji-datasource-<vendor>` package of PNGs. */
export type DatasourceVendor = "apple" | "google" | "twitter" | "facebook";
/** An emoji vendor whose images are SVGs, rasterised with resvg. */
export type SvgVendor = "openmoji" | "fluent" | "noto" | "blob";
/** An emoji image vendor (a style). */
export type Vendor = DatasourceVendor | SvgVendor;

/** The emoji-datasource vendors, in the order they are listed in messages. */
export const DATASOURCE_VENDORS: readonly DatasourceVendor[] = ["apple", "google", "twitter", "facebook"];
/** The SVG vendors, in the order they are listed in messages. */
export const SVG_VENDORS: readonly SvgVendor[] = ["openmoji", "fluent", "noto", "blob"];
/** The valid vendors, in the order they are listed in messages (`--vendor all` is all of them). */
export const VENDORS: readonly Vendor[] = [...DATASOURCE_VENDORS, ...SVG_VENDORS];

/**
 * Whether a vendor's images come from an emoji-datasource-* package (PNGs).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isDatasourceVendor } from "./vendors.ts";
 * assert.ok(isDatasourceVendor("apple") && !isDatasourceVendor("openmoji"));
 * ```
 */
export function isDatasourceVendor(vendor: Vendor): vendor is DatasourceVendor {
  return (DATASOURCE_VENDORS as readonly string[]).includes(vendor);
}

/** The pinned version of every emoji-datasource-* package (fetched on demand by prepare). */
export const EMOJI_DATASOURCE_VERSION = "16.0.0";
/**
 * The package whose `emoji.json` labels the SVG vendors' images (the same data as in every
 * emoji-datasource-* package, without the images: 3.5 MB).
 */
export const EMOJI_METADATA_PACKAGE = "emoji-datasource";

/** The category of the default filter. */
export const DEFAULT_CATEGORY = "Smileys & Emotion";
/** The default subcategory filter: every `face-*` subcategory of Smileys & Emotion. */
export const DEFAULT_SUBCATEGORY_PATTERN = "face-*";

/** One entry of emoji-data's `emoji.json` (the fields used here). */
export interface EmojiRecord {
  /** e.g. `GRINNING FACE`. */
  name: string;
  /** e.g. `1F600`. */
  unified: string;
  /** Image file name, e.g. `1f600.png`. */
  image: string;
  /** e.g. `grinning`. */
  short_name: string;
  /** e.g. `Smileys & Emotion`. */
  category: string;
  /** e.g. `face-smiling`. */
  subcategory: string;
  /** Ordering within emoji-data. */
  sort_order: number;
  /** Whether each vendor has an image (`has_img_apple`, …). */
  [key: `has_img_${string}`]: boolean | undefined;
}

/** An installed emoji-datasource package. */
export interface VendorPackage {
  /** The vendor. */
  vendor: DatasourceVendor;
  /** npm name, `emoji-datasource-<vendor>`. */
  name: string;
  /** Version from its package.json. */
  version: string;
  /** Package root folder. */
  root: string;
  /** Folder of the 64 px PNGs: `<root>/img/<vendor>/64`. */
  imageDir: string;
}

/**
 * Parses a `--vendor` value (comma list, or `all` for the eight) into vendors, in the given order,
 * without duplicates. Throws a DatasetError naming an unknown vendor and the valid choices.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseVendors } from "./vendors.ts";
 * assert.deepEqual(parseVendors("apple, openmoji,apple"), ["apple", "openmoji"]);
 * assert.equal(parseVendors("all").length, 8);
 * assert.throws(() => parseVendors("nosuch"), /choose one of apple, google, .*, blob/);
 * ```
 */
export function parseVendors(value: string): Vendor[] {
  const out: Vendor[] = [];
  const choices = `choose one of ${VENDORS.join(", ")}, or all`;
  for (const raw of value.split(",")) {
    const v = raw.trim().toLowerCase();
    if (v === "") continue;
    if (v === "all") {
      for (const all of VENDORS) if (!out.includes(all)) out.push(all);
      continue;
    }
    if (!(VENDORS as readonly string[]).includes(v)) {
      throw new DatasetError(`\`vendors\` "${raw.trim()}" is unknown: ${choices}`);
    }
    if (!out.includes(v as Vendor)) out.push(v as Vendor);
  }
  if (out.length === 0) throw new DatasetError(`\`vendors\` is empty: ${choices}`);
  return out;
}

/**
 * Fetches (on first use) and locates the `emoji-datasource-<vendor>` npm package (70–110 MB), and
 * reads its version (see `npm_package.ts`). Throws a DatasetError when it cannot be had.
 *
 * @example
 * ```ts ignore
 * import assert from "node:assert/strict";
 * import { locateVendorPackage } from "./vendors.ts";
 * const pkg = await locateVendorPackage("apple");
 * assert.equal(pkg.name, "emoji-datasource-apple");
 * assert.ok(pkg.imageDir.endsWith("img/apple/64"));
 * ```
 */
export async function locateVendorPackage(vendor: DatasourceVendor): Promise<VendorPackage> {
  const { name, version, root } = await locateNpmPackage(
    `emoji-datasource-${vendor}`,
    EMOJI_DATASOURCE_VERSION,
  );
  return { vendor, name, version, root, imageDir: join(root, "img", vendor, "64") };
}

/**
 * Fetches (on first use) and locates the `emoji-datasource` package: `emoji.json` without images, the
 * labels of the SVG vendors. Its `vendor` field is `apple` (any emoji-datasource vendor would do: the
 * records are the same) and its `imageDir` does not exist.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { locateMetadataPackage, readEmojiRecords } from "./vendors.ts";
 * const records = await readEmojiRecords(await locateMetadataPackage());
 * assert.ok(records.some((r) => r.unified === "1F600"));
 * ```
 */
export async function locateMetadataPackage(): Promise<VendorPackage> {
  const { name, version, root } = await locateNpmPackage(EMOJI_METADATA_PACKAGE, EMOJI_DATASOURCE_VERSION);
  return { vendor: "apple", name, version, root, imageDir: join(root, "img", "apple", "64") };
}

/**
 * Reads a package's `emoji.json`, sorted by emoji-data's `sort_order`.
 *
 * @example
 * ```ts ignore
 * import assert from "node:assert/strict";
 * import { locateVendorPackage, readEmojiRecords } from "./vendors.ts";
 * const records = await readEmojiRecords(await locateVendorPackage("apple"));
 * assert.ok(records.some((r) => r.short_name === "grinning"));
 * ```
 */
export async function readEmojiRecords(pkg: VendorPackage): Promise<EmojiRecord[]> {
  const records = JSON.parse(await Deno.readTextFile(join(pkg.root, "emoji.json"))) as EmojiRecord[];
  return records.slice().sort((a, b) => a.sort_order - b.sort_order);
}

/**
 * Lower case, runs of non-alphanumerics → `-`: `Smileys & Emotion` → `smileys-emotion`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { slug } from "./vendors.ts";
 * assert.equal(slug("Smileys & Emotion"), "smileys-emotion");
 * ```
 */
export function slug(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "");
}

function parseList(value: string | undefined): string[] {
  return (value ?? "").split(",").map((s) => s.trim()).filter((s) => s !== "");
}

/** What {@linkcode resolveFilter} found: the exact category and subcategory names selected. */
export interface ResolvedFilter {
  /** Whole categories selected (exact names). */
  categories: string[];
  /** Subcategories selected (exact names), besides those inside `categories`. */
  subcategories: string[];
  /** Whether this is the default filter (`face-*` of Smileys & Emotion). */
  isDefault: boolean;
}

/**
 * Resolves `--category` / `--subcategory` comma lists against the records. Names match exactly,
 * case-insensitively, or by slug (`smileys-emotion`); a subcategory may end in `*` to match a prefix.
 * The selection is the union of the listed categories and subcategories. With neither given, the
 * default is the `face-*` subcategories of Smileys & Emotion. An unknown name, or a pattern that
 * matches nothing, throws a DatasetError listing the valid choices.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { locateVendorPackage, readEmojiRecords, resolveFilter } from "./vendors.ts";
 * const records = await readEmojiRecords(await locateVendorPackage("apple"));
 * const f = resolveFilter(records, undefined, undefined);
 * assert.ok(f.isDefault);
 * assert.ok(f.subcategories.includes("face-smiling"));
 * ```
 */
export function resolveFilter(
  records: EmojiRecord[],
  category: string | undefined,
  subcategory: string | undefined,
): ResolvedFilter {
  const allCategories = [...new Set(records.map((r) => r.category))];
  const allSubs = [...new Set(records.map((r) => r.subcategory))];
  const cats = parseList(category), subs = parseList(subcategory);
  const isDefault = cats.length === 0 && subs.length === 0;
  if (isDefault) {
    const faces = [
      ...new Set(records.filter((r) => r.category === DEFAULT_CATEGORY).map((r) => r.subcategory)),
    ]
      .filter((s) => s.startsWith("face-"));
    return { categories: [], subcategories: faces, isDefault };
  }
  const match = (want: string, have: string) =>
    have.toLowerCase() === want.toLowerCase() || slug(have) === slug(want);
  const categories: string[] = [];
  for (const c of cats) {
    const found = allCategories.find((have) => match(c, have));
    if (!found) {
      throw new DatasetError(`\`category\` "${c}" is unknown: choose one of ${allCategories.join(", ")}`);
    }
    if (!categories.includes(found)) categories.push(found);
  }
  const subcategories: string[] = [];
  for (const s of subs) {
    const found = s.endsWith("*")
      ? allSubs.filter((have) => have.toLowerCase().startsWith(s.slice(0, -1).toLowerCase()))
      : allSubs.filter((have) => match(s, have));
    if (found.length === 0) {
      throw new DatasetError(`\`subcategory\` "${s}" matches nothing: choose from ${allSubs.join(", ")}`);
    }
    for (const f of found) if (!subcategories.includes(f)) subcategories.push(f);
  }
  return { categories, subcategories, isDefault };
}

/**
 * The records selected by a filter that the vendor has an image for, in emoji-data order.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { locateVendorPackage, readEmojiRecords, resolveFilter, selectRecords } from "./vendors.ts";
 * const records = await readEmojiRecords(await locateVendorPackage("apple"));
 * const faces = selectRecords(records, resolveFilter(records, undefined, undefined), "apple");
 * assert.ok(faces.length > 100);
 * ```
 */
export function selectRecords(
  records: EmojiRecord[],
  filter: ResolvedFilter,
  vendor: DatasourceVendor,
): EmojiRecord[] {
  return records.filter((r) =>
    (filter.categories.includes(r.category) || filter.subcategories.includes(r.subcategory)) &&
    r[`has_img_${vendor}`] === true
  );
}
