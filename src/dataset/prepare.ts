/**
 * Preparing a dataset: emoji images from emoji-datasource-* packages (PNGs), the SVG styles' packages
 * (rasterised with resvg) or a folder of PNG/JPEG/SVG files, composited over a background, area-resized,
 * and written as an atlas PNG plus a manifest.
 *
 * @module
 */
import { basename, dirname, extname, join, relative } from "node:path";
import { FileWriteError } from "../errors.ts";
import { atomicWriteFile, pathExists } from "../platform/io.ts";
import { areaResize, centerCropSquare } from "../image/resize.ts";
import { colorToHex, compositeOver, parseColor, type Rgb } from "../image/colour.ts";
import { decodeImage, encodePng } from "../image/codec.ts";
import { makeGrid } from "../image/grid.ts";
import { roundToBytes } from "../image/pixels.ts";
import {
  ATLAS_FILE,
  DatasetError,
  type DatasetManifest,
  MANIFEST_FILE,
  MANIFEST_FORMAT,
  MANIFEST_VERSION,
  type ManifestImage,
  type ManifestSource,
  sha256Hex,
} from "./manifest.ts";
import {
  type DatasourceVendor,
  type EmojiRecord,
  isDatasourceVendor,
  locateMetadataPackage,
  locateVendorPackage,
  parseVendors,
  readEmojiRecords,
  type ResolvedFilter,
  resolveFilter,
  slug,
  type SvgVendor,
  type Vendor,
  type VendorPackage,
  VENDORS,
} from "./vendors.ts";
import { joinEntries, summarizeMisses } from "./join.ts";
import { localPackage, openStyle, readCldrNames, SVG_STYLES, VENDOR_LICENCES } from "./svg_styles.ts";
import { locateNpmPackage } from "./npm_package.ts";
import { rasterizeSvg, RESVG_PACKAGE, SvgRenderError } from "./svg.ts";

/** The default dataset folder: Apple faces, 32 px, on black. */
export const DEFAULT_DATASET_DIR = "data/apple-faces-32";

/** Image file extensions accepted from a `--from` folder (SVGs are rasterised with resvg). */
export const IMAGE_EXTENSIONS: readonly string[] = [".png", ".jpg", ".jpeg", ".svg"];

/** The width SVGs are rendered at before the area resize: 64 px like the PNG vendors, or `size` if larger. */
export function svgRenderWidth(size: number): number {
  return Math.max(64, size);
}

/** Options of {@linkcode prepareDataset}; every field is optional. */
export interface PrepareOptions {
  /** Vendors (array, or a comma list like `apple,openmoji`; `all` for the eight). Default `["apple"]`. Not with `from`. */
  vendors?: Vendor[] | string;
  /**
   * Package folders to use instead of fetching the pinned npm packages, laid out the same way, each with
   * a `package.json` (offline mirrors, tests): by SVG vendor, and `metadata` for the folder holding
   * `emoji.json` that labels the SVG vendors' images (default: the `emoji-datasource` package).
   */
  packageDirs?: Partial<Record<SvgVendor | "metadata", string>>;
  /** A folder of PNG/JPEG files to use instead of emoji packages (searched recursively). */
  from?: string;
  /** Comma list of categories (names or slugs). */
  category?: string;
  /** Comma list of subcategories; a trailing `*` matches a prefix. */
  subcategory?: string;
  /** Output image size. Default 32. */
  size?: number;
  /** Background: `black` (default), `white`, `#rrggbb`, or an Rgb triple. */
  background?: string | Rgb;
  /**
   * How a non-square image of a `from` folder becomes square: `pad` (default) centres it on the
   * background, `crop` keeps its centre square.
   */
  fit?: "pad" | "crop";
  /** Output folder. Default `data/<name>`. */
  out?: string;
  /** Dataset name (manifest). Default derived, e.g. `apple-faces-32`. */
  name?: string;
  /** Progress and summary lines. Default `console.log`; `null` silences. */
  log?: ((line: string) => void) | null;
  /** Warnings (skipped files). Default `console.error` with a `warning:` prefix; `null` silences. */
  warn?: ((line: string) => void) | null;
}

/** What {@linkcode prepareDataset} did. */
export interface PrepareResult {
  /** The folder written. */
  dir: string;
  /** The manifest written. */
  manifest: DatasetManifest;
  /** Files that were skipped, with the reason. */
  skipped: { file: string; reason: string }[];
}

interface Item {
  meta: Omit<ManifestImage, "index">;
  path: string;
}

/** The values of `fit`: how a non-square image becomes square. */
export const FIT_MODES: readonly ("pad" | "crop")[] = ["pad", "crop"];

/**
 * Centres an RGB image on a square of the background colour (side = the longer side).
 *
 * @example A 2×1 image padded: one background row below (the odd row goes after the image)
 * ```ts
 * import assert from "node:assert/strict";
 * import { padToSquare } from "./prepare.ts";
 * const { data, side } = padToSquare(Float32Array.of(1, 1, 1, 2, 2, 2), 2, 1, [9, 9, 9]);
 * assert.equal(side, 2);
 * assert.equal(data.join(), "1,1,1,2,2,2,9,9,9,9,9,9");
 * ```
 */
export function padToSquare(rgb: Float32Array, width: number, height: number, bg: Rgb): {
  data: Float32Array;
  side: number;
} {
  if (width === height) return { data: rgb, side: width };
  const side = Math.max(width, height);
  const out = new Float32Array(side * side * 3);
  for (let i = 0; i < side * side; i++) out.set(bg, i * 3);
  const x0 = Math.floor((side - width) / 2), y0 = Math.floor((side - height) / 2);
  for (let y = 0; y < height; y++) {
    out.set(rgb.subarray(y * width * 3, (y + 1) * width * 3), ((y + y0) * side + x0) * 3);
  }
  return { data: out, side };
}

/**
 * Turns RGBA pixels into one dataset image: composite over `bg`, make square (`fit`: pad on `bg`, the
 * default, or centre-crop), area-resize to `size`, round to bytes. Returns `size·size·3` RGB bytes.
 *
 * @example A 2×2 half-transparent white image over black becomes one grey pixel
 * ```ts
 * import assert from "node:assert/strict";
 * import { rgbaToDatasetImage } from "./prepare.ts";
 * const rgba = new Uint8Array(16).fill(255).map((v, i) => (i % 4 === 3 ? 128 : v));
 * assert.equal(rgbaToDatasetImage(rgba, 2, 2, [0, 0, 0], 1).join(), "128,128,128");
 * ```
 */
export function rgbaToDatasetImage(
  rgba: Uint8Array,
  width: number,
  height: number,
  bg: Rgb,
  size: number,
  fit: "pad" | "crop" = "pad",
): Uint8Array {
  const rgb = compositeOver(rgba, bg);
  const { data, side } = fit === "pad"
    ? padToSquare(rgb, width, height, bg)
    : centerCropSquare(rgb, width, height, 3);
  return roundToBytes(areaResize(data, side, side, 3, size, size));
}

async function listImageFiles(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string) => {
    const entries: Deno.DirEntry[] = [];
    for await (const e of Deno.readDir(dir)) entries.push(e);
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const p = join(dir, e.name);
      if (e.isDirectory) await walk(p);
      else out.push(p);
    }
  };
  await walk(root);
  return out;
}

function bgSuffix(bg: Rgb): string {
  const hex = colorToHex(bg);
  return hex === "#000000" ? "" : hex === "#ffffff" ? "-white" : `-${hex.slice(1)}`;
}

/**
 * Replaces `dir` by the folder `tmp` as atomically as the file system allows: a fresh `dir` is one
 * rename; an existing dataset folder is renamed aside first and removed after.
 */
async function commitDir(tmp: string, dir: string): Promise<void> {
  if (!(await pathExists(dir))) {
    await Deno.rename(tmp, dir);
    return;
  }
  const old = `${dir}.old-${Deno.pid}-${Math.random().toString(36).slice(2)}`;
  await Deno.rename(dir, old);
  try {
    await Deno.rename(tmp, dir);
  } catch (err) {
    await Deno.rename(old, dir).catch(() => {});
    throw err;
  }
  await Deno.remove(old, { recursive: true });
}

/** Refuses to overwrite a folder that holds anything but a previous dataset. */
async function checkOutDir(dir: string): Promise<void> {
  let stat: Deno.FileInfo;
  try {
    stat = await Deno.stat(dir);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return;
    throw err;
  }
  if (!stat.isDirectory) throw new DatasetError(`\`out\` ${dir} exists and is not a folder`);
  for await (const e of Deno.readDir(dir)) {
    if (e.name !== MANIFEST_FILE && e.name !== ATLAS_FILE) {
      throw new DatasetError(
        `\`out\` ${dir} holds ${e.name}: it is not a dataset folder, choose another \`out\``,
      );
    }
  }
}

/** What a data source gives a dataset: its images in order, their manifest entries, and what was skipped. */
interface Collected {
  items: Item[];
  images: Uint8Array[];
  sources: ManifestSource[];
  skipped: { file: string; reason: string }[];
  filters: { categories: string[]; subcategories: string[] };
  name: string;
}

/** What both data sources read: the options and the resolved background, size, fit and output lines. */
interface CollectContext {
  options: PrepareOptions;
  bg: Rgb;
  size: number;
  fit: "pad" | "crop";
  log: ((line: string) => void) | null;
  warn: ((line: string) => void) | null;
}

/** The images of a `--from` folder (any PNG/JPEG below it), padded or cropped to square and resized. */
async function collectFolder(root: string, ctx: CollectContext): Promise<Collected> {
  const { options, bg, size, fit, log, warn } = ctx;
  const items: Item[] = [];
  const images: Uint8Array[] = [];
  const sources: ManifestSource[] = [];
  const skipped: { file: string; reason: string }[] = [];
  if (
    options.vendors !== undefined || options.category !== undefined || options.subcategory !== undefined
  ) {
    throw new DatasetError("`from` cannot be combined with `vendors`, `category` or `subcategory`");
  }
  let stat: Deno.FileInfo;
  try {
    stat = await Deno.stat(root);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new DatasetError(`\`from\` ${root}: no such folder`, { cause: err });
    }
    throw err;
  }
  if (!stat.isDirectory) throw new DatasetError(`\`from\` ${root} is not a folder`);
  let nonSquare = 0;
  for (const path of await listImageFiles(root)) {
    const rel = relative(root, path);
    const ext = extname(path).toLowerCase();
    if (!IMAGE_EXTENSIONS.includes(ext)) {
      skipped.push({
        file: rel,
        reason: `not an image file (extension "${ext}"; use ${IMAGE_EXTENSIONS.join(", ")})`,
      });
      continue;
    }
    let bytes: Uint8Array;
    try {
      bytes = await Deno.readFile(path);
      const img = ext === ".svg" ? await rasterizeSvg(bytes, svgRenderWidth(size)) : await decodeImage(bytes);
      images.push(rgbaToDatasetImage(img.rgba, img.width, img.height, bg, size, fit));
      if (img.width !== img.height) nonSquare++;
    } catch (err) {
      const reason = err instanceof SvgRenderError
        ? err.message
        : `cannot be decoded (${(err as Error).message})`;
      skipped.push({ file: rel, reason });
      continue;
    }
    const stem = basename(path, extname(path));
    items.push({
      meta: {
        vendor: "folder",
        name: stem,
        shortName: stem,
        unified: null,
        category: null,
        subcategory: null,
        file: rel,
        sha256: await sha256Hex(bytes),
        licence: null,
      },
      path,
    });
  }
  for (const s of skipped) warn?.(`skipped ${join(root, s.file)}: ${s.reason}`);
  if (items.length === 0) {
    throw new DatasetError(`\`from\` ${root} holds no readable ${IMAGE_EXTENSIONS.join("/")} image`);
  }
  sources.push({ kind: "folder", vendor: "folder", path: root, count: items.length });
  log?.(`folder ${root}: ${items.length} images, ${skipped.length} skipped`);
  if (nonSquare > 0) {
    log?.(
      fit === "pad"
        ? `${nonSquare} non-square image(s) padded to square on the background (\`fit\` crop crops them instead)`
        : `${nonSquare} non-square image(s) cropped to their centre square (\`fit\` pad pads them instead)`,
    );
  }
  const name = options.name ?? `${slug(basename(root)) || "folder"}-${size}${bgSuffix(bg)}`;
  return { items, images, sources, skipped, filters: { categories: [], subcategories: [] }, name };
}

/** What one vendor adds to the dataset. */
interface VendorPart {
  items: Item[];
  images: Uint8Array[];
  source: ManifestSource;
  skipped: { file: string; reason: string }[];
}

/** The shared inputs of every vendor: the filter options, background, size and output lines. */
interface VendorContext extends CollectContext {
  /** `emoji.json` records by package root, read once. */
  records: Map<string, ReturnType<typeof readEmojiRecords>>;
}

/** A vendor image's manifest entry: emoji-datasource's labels, the source file, its hash and licence. */
async function imageMeta(
  vendor: Vendor,
  r: EmojiRecord,
  file: string,
  bytes: Uint8Array,
  licence: string,
): Promise<Item["meta"]> {
  return {
    vendor,
    name: r.name,
    shortName: r.short_name,
    unified: r.unified,
    category: r.category,
    subcategory: r.subcategory,
    file,
    sha256: await sha256Hex(bytes),
    licence,
  };
}

/** Records a vendor image that could not be read or drawn, warns, and returns its line for the summary. */
function skipImage(
  part: VendorPart,
  vendor: Vendor,
  r: EmojiRecord,
  file: string,
  path: string,
  err: unknown,
  warn: ((line: string) => void) | null | undefined,
): string {
  const reason = err instanceof Deno.errors.NotFound ? "file missing" : (err as Error).message;
  part.skipped.push({ file: `${vendor}/${file}`, reason });
  warn?.(`skipped ${path}: ${reason}`);
  return `${r.short_name} (${reason})`;
}

function recordsOf(ctx: VendorContext, pkg: VendorPackage) {
  if (!ctx.records.has(pkg.root)) ctx.records.set(pkg.root, readEmojiRecords(pkg));
  return ctx.records.get(pkg.root)!;
}

function selectedBy(records: EmojiRecord[], filter: ResolvedFilter): EmojiRecord[] {
  return records.filter((r) =>
    filter.categories.includes(r.category) || filter.subcategories.includes(r.subcategory)
  );
}

function noMatch(vendor: Vendor, filter: ResolvedFilter): DatasetError {
  return new DatasetError(
    `no ${vendor} image matches the filter (${
      describeFilter(filter)
    }): choose other \`category\`/\`subcategory\``,
  );
}

/** The PNGs of an emoji-datasource-* package that match the filter. */
async function collectDatasource(
  vendor: DatasourceVendor,
  ctx: VendorContext,
): Promise<VendorPart & { filter: ResolvedFilter }> {
  const { options, bg, size, log, warn } = ctx;
  const pkg = await locateVendorPackage(vendor);
  const records = await recordsOf(ctx, pkg);
  const filter = resolveFilter(records, options.category, options.subcategory);
  const selected = selectedBy(records, filter);
  const part: VendorPart = { items: [], images: [], skipped: [], source: undefined! };
  const vendorSkipped: string[] = [];
  for (const r of selected) {
    if (r[`has_img_${vendor}`] !== true) {
      vendorSkipped.push(`${r.short_name} (no ${vendor} image)`);
      continue;
    }
    const path = join(pkg.imageDir, r.image);
    let bytes: Uint8Array;
    try {
      bytes = await Deno.readFile(path);
      const img = await decodeImage(bytes);
      part.images.push(rgbaToDatasetImage(img.rgba, img.width, img.height, bg, size));
    } catch (err) {
      vendorSkipped.push(skipImage(part, vendor, r, r.image, path, err, warn));
      continue;
    }
    part.items.push({ meta: await imageMeta(vendor, r, r.image, bytes, VENDOR_LICENCES[vendor]), path });
  }
  const count = part.items.length;
  if (count === 0) throw noMatch(vendor, filter);
  part.source = {
    kind: "package",
    vendor,
    package: pkg.name,
    version: pkg.version,
    count,
    licence: VENDOR_LICENCES[vendor],
  };
  const subs = new Set(selected.map((r) => r.subcategory));
  log?.(
    `${vendor} (${pkg.name}@${pkg.version}): ${count} images from ${subs.size} subcategories` +
      (vendorSkipped.length ? `; skipped ${vendorSkipped.length}: ${vendorSkipped.join(", ")}` : ""),
  );
  return { ...part, filter };
}

/** How many misses of one kind a log line names before it says how many more there are. */
const MISSES_SHOWN = 12;

/** The SVGs of an SVG style's package that join an `emoji.json` record matching the filter, rasterised. */
async function collectSvgStyle(
  vendor: SvgVendor,
  ctx: VendorContext,
): Promise<VendorPart & { filter: ResolvedFilter }> {
  const { options, bg, size, log, warn } = ctx;
  const dirs = options.packageDirs ?? {};
  const metaPkg: VendorPackage = dirs.metadata === undefined
    ? await locateMetadataPackage()
    : { vendor: "apple", ...(await localPackage(dirs.metadata)), imageDir: dirs.metadata };
  const records = await recordsOf(ctx, metaPkg);
  const filter = resolveFilter(records, options.category, options.subcategory);
  const opened = await openStyle(vendor, dirs[vendor]);
  const { style, pkg } = opened;
  // Name-keyed styles also join by CLDR name, from OpenMoji's annotations.
  const cldr = style.keyKind === "name"
    ? [
      ...await readCldrNames(
        dirs.openmoji ?? (await locateNpmPackage("openmoji", SVG_STYLES.openmoji.version)).root,
      ),
      ...Object.entries(style.aliases ?? {}),
    ]
    : undefined;
  const report = joinEntries(opened.entries, records, cldr);
  const byCldr = report.matches.filter((m) => m.via === "cldr").length;
  const missLine = summarizeMisses(report.misses, false, MISSES_SHOWN);
  log?.(
    `${vendor} (${pkg.name}@${pkg.version}): ${opened.entries.length} SVGs, ${report.matches.length} joined to ` +
      `${metaPkg.name}@${metaPkg.version} emoji.json (by ${
        style.keyKind === "codepoints" ? "code points" : `name, ${byCldr} of them by CLDR name`
      })` + (report.misses.length ? `; not joined: ${missLine}` : ""),
  );
  const byUnified = new Map(report.matches.map((m) => [m.record.unified, m]));
  const selected = selectedBy(records, filter);
  const part: VendorPart = { items: [], images: [], skipped: [], source: undefined! };
  const vendorSkipped: string[] = [];
  const width = svgRenderWidth(size);
  const brokenRefs = new Map(opened.brokenRefs.map((b) => [b.id, b.missing]));
  const drawnWithout: string[] = [];
  for (const r of selected) {
    const m = byUnified.get(r.unified);
    if (!m) {
      vendorSkipped.push(`${r.short_name} (no ${vendor} image)`);
      continue;
    }
    const path = join(pkg.root, m.entry.file);
    let bytes: Uint8Array;
    try {
      bytes = await m.entry.load();
      const img = await rasterizeSvg(bytes, width);
      const missing = brokenRefs.get(m.entry.key);
      if (missing) drawnWithout.push(`${m.entry.file} (${missing.join(", ")})`);
      part.images.push(rgbaToDatasetImage(img.rgba, img.width, img.height, bg, size));
    } catch (err) {
      vendorSkipped.push(skipImage(part, vendor, r, m.entry.file, path, err, warn));
      continue;
    }
    part.items.push({ meta: await imageMeta(vendor, r, m.entry.file, bytes, style.licence), path });
  }
  const count = part.items.length;
  if (count === 0) throw noMatch(vendor, filter);
  const files: Record<string, string> = {};
  if (opened.container) {
    files[opened.container] = await sha256Hex(await Deno.readFile(join(pkg.root, opened.container)));
  }
  part.source = {
    kind: "package",
    vendor,
    package: pkg.name,
    version: pkg.version,
    count,
    licence: style.licence,
    metadata: `${metaPkg.name}@${metaPkg.version}`,
    renderer: RESVG_PACKAGE,
    ...(opened.container ? { files } : {}),
    join: {
      entries: opened.entries.length,
      matched: report.matches.length,
      byCldrName: byCldr,
      missed: report.misses.length,
    },
  };
  const subs = new Set(selected.map((r) => r.subcategory));
  log?.(
    `${vendor}: ${count} images from ${subs.size} subcategories` +
      (vendorSkipped.length ? `; skipped ${vendorSkipped.length}: ${vendorSkipped.join(", ")}` : ""),
  );
  if (drawnWithout.length) {
    log?.(
      `${vendor}: ${drawnWithout.length} SVGs refer to ids their sprite defines nowhere, and are drawn ` +
        `without them: ${drawnWithout.join(", ")}`,
    );
  }
  return { ...part, filter };
}

/** The images of the emoji packages of `options.vendors` that match the category filters, resized. */
async function collectPackages(ctx: CollectContext): Promise<Collected> {
  const { options, bg, size } = ctx;
  const items: Item[] = [];
  const images: Uint8Array[] = [];
  const sources: ManifestSource[] = [];
  const skipped: { file: string; reason: string }[] = [];
  let filters = { categories: [] as string[], subcategories: [] as string[] };
  const vendors = typeof options.vendors === "string"
    ? parseVendors(options.vendors)
    : parseVendors((options.vendors ?? ["apple"]).join(","));
  let filterSlug = "faces";
  const vctx: VendorContext = { ...ctx, records: new Map() };
  for (const vendor of vendors) {
    const part = isDatasourceVendor(vendor)
      ? await collectDatasource(vendor, vctx)
      : await collectSvgStyle(vendor, vctx);
    const { filter } = part;
    filters = { categories: filter.categories, subcategories: filter.subcategories };
    if (!filter.isDefault) filterSlug = [...filter.categories, ...filter.subcategories].map(slug).join("+");
    items.push(...part.items);
    images.push(...part.images);
    skipped.push(...part.skipped);
    sources.push(part.source);
  }
  const vendorSlug = vendors.length === VENDORS.length ? "all" : vendors.join("+");
  const name = options.name ?? `${vendorSlug}-${filterSlug}-${size}${bgSuffix(bg)}`;
  return { items, images, sources, skipped, filters, name };
}

/**
 * Prepares a dataset and writes `<out>/atlas.png` and `<out>/manifest.json`. Everything is decoded
 * and checked before anything is written; the folder is built beside the target and renamed into
 * place, so a failure leaves no half-written dataset. Deterministic: the same inputs give the same
 * bytes (and so the same atlas hash).
 *
 * Bad input throws a {@linkcode DatasetError} (one line, naming the value and the valid choices):
 * an unknown vendor, category or subcategory, a filter or folder that yields no image, mixing
 * `from` with vendor filters. Unreadable files in a `from` folder are skipped with a warning.
 * Non-square images of a `from` folder are padded to square on the background (`fit: "crop"` crops
 * them), and the log says how many.
 *
 * @throws {DatasetError} for bad input (a usage error).
 *
 * @example Prepare a dataset from a folder of one generated PNG
 * ```ts
 * import assert from "node:assert/strict";
 * import { prepareDataset } from "./prepare.ts";
 * import { encodePng } from "../image/codec.ts";
 * const src = await Deno.makeTempDir(), out = `${await Deno.makeTempDir()}/set`;
 * await Deno.writeFile(`${src}/red.png`, await encodePng(Uint8Array.of(255, 0, 0, 255), 1, 1));
 * const { manifest } = await prepareDataset({ from: src, size: 4, out, log: null });
 * assert.equal(manifest.count, 1);
 * assert.equal(manifest.images[0].shortName, "red");
 * ```
 */
export async function prepareDataset(options: PrepareOptions = {}): Promise<PrepareResult> {
  const log = options.log === undefined ? (l: string) => console.log(l) : options.log;
  const warn = options.warn === undefined ? (l: string) => console.error(`warning: ${l}`) : options.warn;
  const size = options.size ?? 32;
  if (!Number.isInteger(size) || size < 1 || size > 1024) {
    throw new DatasetError(`\`size\` must be an integer in [1, 1024], got "${size}"`);
  }
  let bg: Rgb;
  try {
    bg = typeof options.background === "object"
      ? options.background
      : parseColor(options.background ?? "black");
  } catch (err) {
    throw new DatasetError(`\`background\`: ${(err as Error).message}`, { cause: err });
  }

  const fit = options.fit ?? "pad";
  if (!FIT_MODES.includes(fit)) {
    throw new DatasetError(`\`fit\` "${fit}" is unknown: choose one of pad, crop`);
  }
  if (options.out !== undefined) await checkOutDir(options.out);
  const { items, images: imagesByItem, sources, skipped, filters, name } = options.from !== undefined
    ? await collectFolder(options.from, { options, bg, size, fit, log, warn })
    : await collectPackages({ options, bg, size, fit, log, warn });

  const out = options.out ?? join("data", name);
  await checkOutDir(out);

  // Atlas: a near-square grid, row-major, no gutters; empty cells in the background colour.
  const count = items.length;
  const columns = Math.ceil(Math.sqrt(count)), rows = Math.ceil(count / columns);
  const all = new Uint8Array(count * size * size * 3);
  imagesByItem.forEach((img, i) => all.set(img, i * size * size * 3));
  const grid = makeGrid(all, rows, columns, size, { gutterColor: bg });
  const png = await encodePng(grid.rgba, grid.width, grid.height);
  const manifest: DatasetManifest = {
    format: MANIFEST_FORMAT,
    formatVersion: MANIFEST_VERSION,
    name,
    size,
    channels: 3,
    background: colorToHex(bg),
    resize: "area",
    count,
    filters,
    sources,
    atlas: {
      file: ATLAS_FILE,
      sha256: await sha256Hex(png),
      columns,
      rows,
      cellSize: size,
      width: grid.width,
      height: grid.height,
    },
    images: items.map((it, index) => ({ index, ...it.meta })),
  };

  await Deno.mkdir(dirname(out) || ".", { recursive: true });
  const tmp = `${out}.tmp-${Deno.pid}-${Math.random().toString(36).slice(2)}`;
  try {
    await atomicWriteFile(join(tmp, ATLAS_FILE), png);
    await atomicWriteFile(join(tmp, MANIFEST_FILE), JSON.stringify(manifest, null, 2) + "\n");
    await commitDir(tmp, out);
  } catch (err) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    // name the file where it was going, not the temp folder it was written in
    if (err instanceof FileWriteError && dirname(err.path) === tmp) {
      throw new FileWriteError(join(out, basename(err.path)), err.reason, `${out} was left as it was`, {
        cause: err,
      });
    }
    throw err;
  }
  log?.(
    `wrote ${out}: ${count} images ${size}x${size} on ${manifest.background}, atlas ${rows}x${columns} ` +
      `(${grid.width}x${grid.height} px), sha256 ${manifest.atlas.sha256.slice(0, 16)}…` +
      (skipped.length ? `, ${skipped.length} files skipped` : ""),
  );
  return { dir: out, manifest, skipped };
}

function describeFilter(f: { categories: string[]; subcategories: string[] }): string {
  const parts = [];
  if (f.categories.length) parts.push(`categories ${f.categories.join(", ")}`);
  if (f.subcategories.length) parts.push(`subcategories ${f.subcategories.join(", ")}`);
  return parts.join("; ") || "empty";
}
