/**
 * The four SVG emoji styles and their pinned npm packages: where each keeps its SVGs (one file per
 * emoji, one sprite, or one Iconify JSON), how it names them (code points or CLDR names), and under
 * which licence; plus the licence of every vendor's images.
 *
 * @module
 */
import { join } from "node:path";
import { DatasetError } from "./manifest.ts";
import type { SetEntry } from "./join.ts";
import { locateNpmPackage, type NpmPackage } from "./npm_package.ts";
import { splitSprite, type SpriteEntry } from "./sprite.ts";
import type { SvgVendor, Vendor } from "./vendors.ts";

/** Where and how one SVG style keeps its emojis. */
export interface SvgStyle {
  /** The vendor name used by `--vendor` and in manifests. */
  vendor: SvgVendor;
  /** Human name, e.g. `OpenMoji`. */
  title: string;
  /** npm package name. */
  package: string;
  /** Pinned version. */
  version: string;
  /** Licence of the images (SPDX id). */
  licence: string;
  /**
   * `files`: one SVG per emoji in the folder `path`; `sprite`: one SVG of nested `<svg id=…>` at
   * `path`; `iconify`: one Iconify JSON (`icons.<name>.body`) at `path`.
   */
  layout: "files" | "sprite" | "iconify";
  /** Folder or file inside the package. */
  path: string;
  /** How the set names an emoji: code points (`1F600`) or CLDR name (`grinning-face`). */
  keyKind: "codepoints" | "name";
  /** Names the set uses that are no CLDR name, by code points (joined like CLDR names). */
  aliases?: Readonly<Record<string, string>>;
}

/**
 * The SVG styles, by vendor. Noto's old blobs come from `@iconify-json/noto-v1` (Noto Emoji v1, the
 * blob set of Android 7): `@svgmoji/blob@3.2.0` ships no sprite, only code that loads one from a CDN.
 */
export const SVG_STYLES: Readonly<Record<SvgVendor, SvgStyle>> = {
  openmoji: {
    vendor: "openmoji",
    title: "OpenMoji",
    package: "openmoji",
    version: "17.0.0",
    licence: "CC-BY-SA-4.0",
    layout: "files",
    path: "color/svg",
    keyKind: "codepoints",
  },
  fluent: {
    vendor: "fluent",
    title: "Microsoft Fluent",
    package: "fluentui-emoji",
    version: "1.3.0",
    licence: "MIT",
    layout: "files",
    path: "icons/modern",
    keyKind: "name",
    // CLDR renamed "dizzy face" to "face with crossed-out eyes" (Emoji 13.1); Fluent calls it this.
    aliases: { "1F635": "knocked-out face" },
  },
  noto: {
    vendor: "noto",
    title: "Noto",
    package: "@svgmoji/noto",
    version: "3.2.0",
    licence: "Apache-2.0",
    layout: "sprite",
    path: "sprites/all.svg",
    keyKind: "codepoints",
  },
  blob: {
    vendor: "blob",
    title: "Noto v1 (blobs)",
    package: "@iconify-json/noto-v1",
    version: "1.2.5",
    licence: "Apache-2.0",
    layout: "iconify",
    path: "icons.json",
    keyKind: "name",
  },
};

/**
 * The licence of each vendor's images, as recorded in dataset manifests (SPDX ids where there is one;
 * emoji-datasource's README for the four PNG vendors).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { VENDOR_LICENCES } from "./svg_styles.ts";
 * assert.equal(VENDOR_LICENCES.openmoji, "CC-BY-SA-4.0");
 * assert.equal(Object.keys(VENDOR_LICENCES).length, 8);
 * ```
 */
export const VENDOR_LICENCES: Readonly<Record<Vendor, string>> = {
  apple: "© Apple Inc., not licensed for commercial use",
  google: "Apache-2.0",
  twitter: "CC-BY-4.0",
  facebook: "© Facebook, Inc., no clear licence",
  openmoji: SVG_STYLES.openmoji.licence,
  fluent: SVG_STYLES.fluent.licence,
  noto: SVG_STYLES.noto.licence,
  blob: SVG_STYLES.blob.licence,
};

/** One emoji of an SVG style: its key, its file (for messages and the manifest) and its SVG. */
export interface StyleEntry extends SetEntry {
  /** Reads the SVG bytes (from its own file, or split out of the sprite or JSON). */
  load(): Promise<Uint8Array>;
}

/** An SVG style's package, opened: its emojis and the files they came from. */
export interface OpenedStyle {
  /** The style. */
  style: SvgStyle;
  /** The installed package. */
  pkg: NpmPackage;
  /** Every emoji the package has, in the package's order. */
  entries: StyleEntry[];
  /** For sprite and Iconify styles: the one file all emojis come from (relative to the package root). */
  container?: string;
  /** Sprite entries with references to ids the sprite defines nowhere (rendered without them). */
  brokenRefs: { id: string; missing: string[] }[];
}

/** An Iconify icon set (the fields used here). */
interface IconifyJson {
  icons: Record<string, { body: string; width?: number; height?: number; left?: number; top?: number }>;
  width?: number;
  height?: number;
  left?: number;
  top?: number;
}

/**
 * A standalone SVG document for one icon of an Iconify JSON icon set.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { iconifySvg } from "./svg_styles.ts";
 * const set = { width: 128, height: 128, icons: { dot: { body: '<circle cx="64" cy="64" r="9"/>' } } };
 * assert.equal(
 *   iconifySvg(set, "dot"),
 *   '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" viewBox="0 0 128 128"><circle cx="64" cy="64" r="9"/></svg>',
 * );
 * ```
 */
export function iconifySvg(set: IconifyJson, name: string): string {
  const icon = set.icons[name];
  if (!icon) throw new RangeError(`iconifySvg: no icon "${name}"`);
  const left = icon.left ?? set.left ?? 0, top = icon.top ?? set.top ?? 0;
  const width = icon.width ?? set.width ?? 16, height = icon.height ?? set.height ?? 16;
  return `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" ` +
    `viewBox="${left} ${top} ${width} ${height}">${icon.body}</svg>`;
}

/**
 * Lists an SVG style's emojis in a package folder `root` (the pinned package, or a folder laid out the
 * same way). Throws a {@linkcode DatasetError} naming the folder or file when it is not there, or (with
 * `corrupt`) when its sprite or JSON cannot be parsed.
 *
 * @example A folder laid out like OpenMoji's package
 * ```ts
 * import assert from "node:assert/strict";
 * import { listStyleEntries, SVG_STYLES } from "./svg_styles.ts";
 * const root = await Deno.makeTempDir();
 * await Deno.mkdir(`${root}/color/svg`, { recursive: true });
 * await Deno.writeTextFile(`${root}/color/svg/1F600.svg`, "<svg/>");
 * const { entries } = await listStyleEntries(SVG_STYLES.openmoji, root);
 * assert.deepEqual(entries.map((e) => [e.key, e.file]), [["1F600", "color/svg/1F600.svg"]]);
 * assert.equal(new TextDecoder().decode(await entries[0].load()), "<svg/>");
 * ```
 */
export async function listStyleEntries(
  style: SvgStyle,
  root: string,
): Promise<Pick<OpenedStyle, "entries" | "container" | "brokenRefs">> {
  const where = join(root, style.path);
  const missing = () =>
    new DatasetError(`${style.package}: ${where} is missing: the package is not laid out as expected`);
  if (style.layout === "files") {
    const names: string[] = [];
    try {
      for await (const e of Deno.readDir(where)) if (e.isFile && e.name.endsWith(".svg")) names.push(e.name);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) throw missing();
      throw err;
    }
    names.sort();
    const entries = names.map((name): StyleEntry => ({
      key: name.slice(0, -4),
      keyKind: style.keyKind,
      file: `${style.path}/${name}`,
      load: () => Deno.readFile(join(where, name)),
    }));
    return { entries, brokenRefs: [] };
  }
  let text: string;
  try {
    text = await Deno.readTextFile(where);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) throw missing();
    throw err;
  }
  const bytes = (s: string) => () => Promise.resolve(new TextEncoder().encode(s));
  const corrupt = (err: unknown) =>
    new DatasetError(
      `${style.package}: ${where} is corrupt (${
        (err as Error).message
      }): delete the package from the npm cache ` +
        `(or node_modules) so that it is fetched again`,
      { corrupt: true },
    );
  if (style.layout === "sprite") {
    let split: SpriteEntry[];
    try {
      split = splitSprite(text);
    } catch (err) {
      throw corrupt(err);
    }
    const entries = split.map((e): StyleEntry => ({
      key: e.id,
      keyKind: style.keyKind,
      file: `${style.path}#${e.id}`,
      load: bytes(e.svg),
    }));
    const brokenRefs = split.filter((e) => e.missing.length).map((e) => ({ id: e.id, missing: e.missing }));
    return { entries, container: style.path, brokenRefs };
  }
  let set: IconifyJson;
  try {
    set = JSON.parse(text) as IconifyJson;
    if (!set || typeof set.icons !== "object") throw new Error("no icons object");
  } catch (err) {
    throw corrupt(err);
  }
  const entries = Object.keys(set.icons).map((name): StyleEntry => ({
    key: name,
    keyKind: style.keyKind,
    file: `${style.path}#${name}`,
    load: bytes(iconifySvg(set, name)),
  }));
  return { entries, container: style.path, brokenRefs: [] };
}

/**
 * Fetches (on first use) the pinned package of an SVG style, or uses `root` instead, and lists its
 * emojis. A `root` folder needs a `package.json` (its version is recorded).
 *
 * @example A folder laid out like Fluent's package
 * ```ts
 * import assert from "node:assert/strict";
 * import { openStyle } from "./svg_styles.ts";
 * const root = await Deno.makeTempDir();
 * await Deno.mkdir(`${root}/icons/modern`, { recursive: true });
 * await Deno.writeTextFile(`${root}/icons/modern/grinning-face.svg`, "<svg/>");
 * await Deno.writeTextFile(`${root}/package.json`, '{"name": "fluentui-emoji", "version": "0.0.1"}');
 * const opened = await openStyle("fluent", root);
 * assert.equal(opened.pkg.version, "0.0.1");
 * assert.equal(opened.entries[0].keyKind, "name");
 * ```
 */
export async function openStyle(vendor: SvgVendor, root?: string): Promise<OpenedStyle> {
  const style = SVG_STYLES[vendor];
  const pkg = root === undefined
    ? await locateNpmPackage(style.package, style.version)
    : await localPackage(root);
  return { style, pkg, ...(await listStyleEntries(style, pkg.root)) };
}

/** A package folder given instead of the pinned one: its name and version from its package.json. */
export async function localPackage(root: string): Promise<NpmPackage> {
  try {
    const json = JSON.parse(await Deno.readTextFile(join(root, "package.json")));
    return { name: String(json.name), version: String(json.version), root };
  } catch (err) {
    throw new DatasetError(
      `package folder ${root}: package.json is missing or unreadable (${
        (err as Error).message.split("\n")[0]
      })`,
      { cause: err },
    );
  }
}

/**
 * CLDR names by code points (`1F600` → `grinning face`), from the `annotation`s of OpenMoji's
 * `data/openmoji.json` in the package folder `openmojiRoot`: the names Fluent and Noto v1 use, where
 * they differ from Unicode's character names in `emoji.json`. An empty table when the file is absent.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readCldrNames } from "./svg_styles.ts";
 * const root = await Deno.makeTempDir();
 * await Deno.mkdir(`${root}/data`);
 * await Deno.writeTextFile(`${root}/data/openmoji.json`, '[{"hexcode": "263A", "annotation": "smiling face"}]');
 * assert.equal((await readCldrNames(root)).get("263A"), "smiling face");
 * assert.equal((await readCldrNames(`${root}/none`)).size, 0);
 * ```
 */
export async function readCldrNames(openmojiRoot: string): Promise<Map<string, string>> {
  let text: string;
  try {
    text = await Deno.readTextFile(join(openmojiRoot, "data", "openmoji.json"));
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return new Map();
    throw err;
  }
  const rows = JSON.parse(text) as { hexcode?: string; annotation?: string }[];
  const out = new Map<string, string>();
  for (const r of rows) {
    if (r.hexcode && r.annotation && !out.has(r.hexcode)) out.set(r.hexcode, r.annotation);
  }
  return out;
}
