/**
 * The on-disk format of a prepared dataset: `data/<name>/atlas.png` (a grid of all images) and
 * `data/<name>/manifest.json` (what is in it, where from, and the SHA-256 of the atlas bytes).
 *
 * @module
 */
import { UsageError } from "../errors.ts";

/** The `format` field of every manifest. */
export const MANIFEST_FORMAT = "emoji-diffusion-dataset";
/** The manifest format version this code writes and reads. */
export const MANIFEST_VERSION = 1;
/** File name of the manifest inside a dataset folder. */
export const MANIFEST_FILE = "manifest.json";
/** File name of the atlas inside a dataset folder. */
export const ATLAS_FILE = "atlas.png";

/**
 * A problem with a dataset: bad input the user can fix (a missing dataset, a bad filter: a
 * UsageError), or, with `corrupt`, a dataset on disk that fails its checks (a tampered atlas, a broken
 * manifest: a runtime failure). The CLIs exit 2 for the first, 1 for the second.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DatasetError } from "./manifest.ts";
 * import { UsageError } from "../errors.ts";
 * assert.ok(new DatasetError("x") instanceof UsageError);
 * assert.ok(!new DatasetError("x").corrupt);
 * assert.ok(new DatasetError("x", { corrupt: true }).corrupt);
 * ```
 */
export class DatasetError extends UsageError {
  /** Always `DatasetError`. */
  override name = "DatasetError";
  /** Whether the dataset on disk is corrupt (a runtime failure) rather than the input wrong. */
  readonly corrupt: boolean;
  /**
   * Creates the error.
   *
   * @param message One line naming the path or value and the fix.
   * @param options `corrupt`: the files fail their checks; `cause`: the error this one wraps.
   */
  constructor(message: string, options: { corrupt?: boolean; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.corrupt = options.corrupt ?? false;
  }
}

/** Where the images of one vendor (or folder) came from. */
export interface ManifestSource {
  /** `package` for an emoji-datasource-* npm package, `folder` for `--from`. */
  kind: "package" | "folder";
  /** Vendor name (`apple`, `google`, …) or `folder`. */
  vendor: string;
  /** npm package name, for `package` sources. */
  package?: string;
  /** npm package version, for `package` sources. */
  version?: string;
  /** The folder given to `--from`, for `folder` sources. */
  path?: string;
  /** How many images of the dataset come from this source. */
  count: number;
  /** Licence of the images, for package sources (see `VENDOR_LICENCES`). */
  licence?: string;
  /** For SVG vendors: the package whose `emoji.json` labels the images, `name@version`. */
  metadata?: string;
  /** For SVG vendors: the rasteriser, `name@version`. */
  renderer?: string;
  /** For sprite and Iconify vendors: the SHA-256 of the one file (relative to the package) all SVGs come from. */
  files?: Record<string, string>;
  /** For SVG vendors: how the package's emojis joined `emoji.json` records (see `join.ts`). */
  join?: { entries: number; matched: number; byCldrName: number; missed: number };
}

/** One image of the dataset, in atlas order. */
export interface ManifestImage {
  /** Position in the atlas (row-major). */
  index: number;
  /** Vendor name or `folder`. */
  vendor: string;
  /** Human name, e.g. `GRINNING FACE`, or the file name for folder sources. */
  name: string;
  /** emoji-data short name, e.g. `grinning` (file stem for folder sources). */
  shortName: string;
  /** Code points, e.g. `1F600`, or null for folder sources. */
  unified: string | null;
  /** Unicode category, or null for folder sources. */
  category: string | null;
  /** Unicode subcategory, or null for folder sources. */
  subcategory: string | null;
  /**
   * Source file, relative to the package image folder (emoji-datasource), the package root (SVG vendors;
   * `sprites/all.svg#1F600` for an emoji split out of a sprite) or the `--from` folder.
   */
  file: string;
  /**
   * SHA-256 of the source bytes the image was made from (the PNG or SVG file; for an emoji split out of a
   * sprite or an Iconify JSON, its standalone SVG). Absent in manifests written before it was recorded.
   */
  sha256?: string;
  /** Licence of the image (`VENDOR_LICENCES`), null for folder sources. Absent in older manifests. */
  licence?: string | null;
}

/** The atlas layout: images of `cellSize` pixels, row-major, no gutters. */
export interface ManifestAtlas {
  /** File name inside the dataset folder. */
  file: string;
  /** SHA-256 of the atlas PNG bytes, lowercase hex. */
  sha256: string;
  /** Grid columns. */
  columns: number;
  /** Grid rows. */
  rows: number;
  /** Cell size in pixels (= image size). */
  cellSize: number;
  /** PNG width in pixels. */
  width: number;
  /** PNG height in pixels. */
  height: number;
}

/** The contents of `manifest.json`. */
export interface DatasetManifest {
  /** Always {@linkcode MANIFEST_FORMAT}. */
  format: string;
  /** {@linkcode MANIFEST_VERSION}. */
  formatVersion: number;
  /** Dataset name (the folder name by default). */
  name: string;
  /** Image height and width in pixels. */
  size: number;
  /** Always 3 (RGB; alpha was composited away). */
  channels: number;
  /** The background the images were composited over, `#rrggbb`. */
  background: string;
  /** Resize method; always `area` (box filter over the exact footprint). */
  resize: string;
  /** Number of images. */
  count: number;
  /** The filters used on emoji packages (empty lists for folder sources). */
  filters: { categories: string[]; subcategories: string[] };
  /** Where the images came from, one entry per vendor or folder. */
  sources: ManifestSource[];
  /** The atlas file and its layout. */
  atlas: ManifestAtlas;
  /** One entry per image, in atlas order. */
  images: ManifestImage[];
}

/**
 * Checks a parsed manifest's shape and version; throws a DatasetError naming the first problem.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { validateManifest } from "./manifest.ts";
 * let failed = false;
 * try { validateManifest({ format: "x" }, "m.json"); } catch { failed = true; }
 * assert.ok(failed);
 * ```
 */
export function validateManifest(value: unknown, where: string): DatasetManifest {
  const m = value as DatasetManifest;
  const bad = (what: string) => new DatasetError(`${where}: ${what}`, { corrupt: true });
  if (!m || typeof m !== "object") throw bad("not a JSON object");
  if (m.format !== MANIFEST_FORMAT) throw bad(`format is "${m.format}", expected "${MANIFEST_FORMAT}"`);
  if (m.formatVersion !== MANIFEST_VERSION) {
    throw bad(
      `formatVersion ${m.formatVersion} is not supported: this code reads version ${MANIFEST_VERSION}`,
    );
  }
  const posInt = (v: unknown) => Number.isInteger(v) && (v as number) > 0;
  if (!posInt(m.size) || !posInt(m.count) || m.channels !== 3) {
    throw bad("size, count or channels is invalid");
  }
  const a = m.atlas;
  if (!a || typeof a.sha256 !== "string" || !/^[0-9a-f]{64}$/.test(a.sha256) || typeof a.file !== "string") {
    throw bad("atlas entry or its sha256 is missing");
  }
  if (a.file.includes("/") || a.file.includes("\\") || a.file.startsWith(".")) {
    throw bad(`atlas file "${a.file}" is not a plain name`);
  }
  if (!posInt(a.columns) || !posInt(a.rows) || a.cellSize !== m.size) throw bad("atlas grid is invalid");
  if (a.width !== a.columns * m.size || a.height !== a.rows * m.size) {
    throw bad("atlas width/height do not match the grid");
  }
  if (m.count > a.columns * a.rows) {
    throw bad(`${m.count} images do not fit the ${a.rows}x${a.columns} atlas`);
  }
  if (!Array.isArray(m.images) || m.images.length !== m.count) throw bad("images list does not match count");
  if (!Array.isArray(m.sources)) throw bad("sources list is missing");
  return m;
}

/**
 * Lowercase hex SHA-256 of some bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sha256Hex } from "./manifest.ts";
 * assert.ok((await sha256Hex(new Uint8Array())).startsWith("e3b0c442"));
 * ```
 */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}
