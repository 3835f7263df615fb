/**
 * The emoji-datasource-* npm packages: where they are on disk, what `emoji.json` says, and the
 * category / subcategory filters.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import { DatasetError } from "./manifest.ts";

/** An emoji image vendor with an `emoji-datasource-<vendor>` package. */
export type Vendor = "apple" | "google" | "twitter" | "facebook";

/** The valid vendors, in the order they are listed in messages. */
export const VENDORS: readonly Vendor[] = ["apple", "google", "twitter", "facebook"];

/** The pinned version of every emoji-datasource-* package (fetched on demand by prepare). */
export const EMOJI_DATASOURCE_VERSION = "16.0.0";

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
  vendor: Vendor;
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
 * Parses a `--vendor` value (comma list) into vendors, in the given order, without duplicates.
 * Throws a DatasetError naming an unknown vendor and the valid choices.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseVendors } from "./vendors.ts";
 * assert.equal(parseVendors("apple,google").join(), "apple,google");
 * ```
 */
export function parseVendors(value: string): Vendor[] {
  const out: Vendor[] = [];
  for (const raw of value.split(",")) {
    const v = raw.trim().toLowerCase();
    if (v === "") continue;
    if (!(VENDORS as readonly string[]).includes(v)) {
      throw new DatasetError(`--vendor "${raw.trim()}" is unknown: choose one of ${VENDORS.join(", ")}`);
    }
    if (!out.includes(v as Vendor)) out.push(v as Vendor);
  }
  if (out.length === 0) throw new DatasetError(`--vendor is empty: choose one of ${VENDORS.join(", ")}`);
  return out;
}

/**
 * Fetches (on first use) and locates the `emoji-datasource-<vendor>` npm package, and reads its
 * version. The packages are 70–110 MB each and only `prepare` needs them, so they are not in the
 * import map (which every `deno run` would install): a dynamic `npm:` import brings the one asked
 * for into node_modules. Throws a DatasetError when it cannot be had.
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
export async function locateVendorPackage(vendor: Vendor): Promise<VendorPackage> {
  const name = `emoji-datasource-${vendor}`;
  const spec = `npm:${name}@${EMOJI_DATASOURCE_VERSION}/package.json`;
  let pkgJson: string;
  let version: string;
  try {
    const pkg = await import(spec, { with: { type: "json" } });
    version = String(pkg.default.version);
    pkgJson = fileURLToPath(import.meta.resolve(spec));
  } catch (err) {
    throw new DatasetError(
      `package ${name}@${EMOJI_DATASOURCE_VERSION} could not be fetched from npm (${
        (err as Error).message.split("\n")[0]
      })`,
    );
  }
  const root = dirname(pkgJson);
  return { vendor, name, version, root, imageDir: join(root, "img", vendor, "64") };
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
      throw new DatasetError(`--category "${c}" is unknown: choose one of ${allCategories.join(", ")}`);
    }
    if (!categories.includes(found)) categories.push(found);
  }
  const subcategories: string[] = [];
  for (const s of subs) {
    const found = s.endsWith("*")
      ? allSubs.filter((have) => have.toLowerCase().startsWith(s.slice(0, -1).toLowerCase()))
      : allSubs.filter((have) => match(s, have));
    if (found.length === 0) {
      throw new DatasetError(`--subcategory "${s}" matches nothing: choose from ${allSubs.join(", ")}`);
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
export function selectRecords(records: EmojiRecord[], filter: ResolvedFilter, vendor: Vendor): EmojiRecord[] {
  return records.filter((r) =>
    (filter.categories.includes(r.category) || filter.subcategories.includes(r.subcategory)) &&
    r[`has_img_${vendor}`] === true
  );
}
