import assert from "node:assert/strict";
import { join } from "node:path";
import {
  DatasetError,
  type DatasetManifest,
  joinEntries,
  loadEmojiDataset,
  locateNpmPackage,
  openStyle,
  prepareDataset,
  type PrepareOptions,
  rasterizeSvg,
  type SetEntry,
  sha256Hex,
  splitSprite,
  SVG_STYLES,
  SVG_VENDORS,
  type SvgVendor,
  VENDOR_LICENCES,
} from "../src/dataset/mod.ts";
import type { EmojiRecord } from "../src/dataset/vendors.ts";
import { denoCommand, runTask } from "./helpers.ts";

// ---- Fixtures: package folders laid out like the pinned packages, with a tiny emoji.json ----

const rec = (
  name: string,
  unified: string,
  short_name: string,
  subcategory: string,
  sort_order: number,
  category = "Smileys & Emotion",
) => ({
  name,
  unified,
  non_qualified: unified.endsWith("-FE0F") ? unified.slice(0, -5) : null,
  image: `${unified.toLowerCase()}.png`,
  short_name,
  category,
  subcategory,
  sort_order,
});

const RECORDS = [
  rec("GRINNING FACE", "1F600", "grinning", "face-smiling", 1),
  rec("GRINNING FACE WITH SMILING EYES", "1F601", "grin", "face-smiling", 2),
  rec("SMILING FACE WITH OPEN MOUTH AND SMILING EYES", "1F604", "smile", "face-smiling", 3),
  rec("WHITE SMILING FACE", "263A-FE0F", "relaxed", "face-affection", 4),
  rec("THUMBS UP SIGN", "1F44D", "+1", "hand-fingers-closed", 5, "People & Body"),
];

/** OpenMoji's CLDR annotations for the fixture records. */
const ANNOTATIONS = [
  { hexcode: "1F600", annotation: "grinning face" },
  { hexcode: "1F601", annotation: "beaming face with smiling eyes" },
  { hexcode: "1F604", annotation: "grinning face with smiling eyes" },
  { hexcode: "263A", annotation: "smiling face" },
  { hexcode: "1F44D", annotation: "thumbs up" },
];

/**
 * A red square (top-left quarter), a half-transparent yellow band (top right, 32×16) and an opaque
 * #0080ff circle (centre 44,44, r 14) on a 64×64 canvas: at 32 px the square is pixels 0–15, the band
 * x 16–31, y 0–7, the circle's centre (22, 22).
 */
const SHAPES_SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64">` +
  `<rect width="32" height="32" fill="#ff0000"/>` +
  `<rect x="32" width="32" height="16" fill="#ffff00" fill-opacity="0.5"/>` +
  `<circle cx="44" cy="44" r="14" fill="#0080ff"/></svg>`;

/** A solid "gradient" (two equal stops), so its pixels are exact. */
const solid = (id: string, colour: string) =>
  `<linearGradient id="${id}"><stop offset="0" stop-color="${colour}"/><stop offset="1" stop-color="${colour}"/></linearGradient>`;

/**
 * Two emojis that both name their gradient `a` (red in the first, blue in the second); the second also
 * uses `shared` (green), which only the first defines, and `nowhere`, which nobody defines.
 */
const SPRITE = `<?xml version="1.0" encoding="utf-8"?>` +
  `<svg viewBox="0 0 2000 2000" xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink">` +
  `<style>:root>svg{display:none}</style>` +
  `<svg viewBox="0 0 8 8" id="1F600">${solid("a", "#ff0000")}<defs>${solid("shared", "#00ff00")}</defs>` +
  `<rect width="8" height="8" fill="url(#a)"/></svg>` +
  `<svg viewBox="0 0 8 8" id="263A">${solid("a", "#0000ff")}<rect width="8" height="8" fill="url(#a)"/>` +
  `<rect width="4" height="4" fill="url(#shared)"/><rect x="6" y="6" width="2" height="2" fill="url(#nowhere)"/></svg>` +
  `</svg>`;

async function writeTree(root: string, files: Record<string, string>): Promise<string> {
  for (const [path, text] of Object.entries(files)) {
    await Deno.mkdir(join(root, path, ".."), { recursive: true });
    await Deno.writeTextFile(join(root, path), text);
  }
  return root;
}

const pkgJson = (name: string) => JSON.stringify({ name, version: "0.0.0-fixture" });

/** Fixture folders for the metadata package and the four SVG styles. */
async function fixturePackages(): Promise<Required<NonNullable<PrepareOptions["packageDirs"]>>> {
  const base = await Deno.makeTempDir({ prefix: "emoji-styles-" });
  return {
    metadata: await writeTree(join(base, "emoji-datasource"), {
      "package.json": pkgJson("emoji-datasource"),
      "emoji.json": JSON.stringify(RECORDS),
    }),
    openmoji: await writeTree(join(base, "openmoji"), {
      "package.json": pkgJson("openmoji"),
      "color/svg/1F600.svg": SHAPES_SVG,
      "color/svg/1F601.svg": "<svg", // resvg cannot parse it
      "color/svg/1F604.svg": SHAPES_SVG,
      "color/svg/E000.svg": SHAPES_SVG, // an OpenMoji extra: no emoji.json record
      "data/openmoji.json": JSON.stringify(ANNOTATIONS),
    }),
    noto: await writeTree(join(base, "noto"), {
      "package.json": pkgJson("@svgmoji/noto"),
      "sprites/all.svg": SPRITE,
    }),
    fluent: await writeTree(join(base, "fluent"), {
      "package.json": pkgJson("fluentui-emoji"),
      "icons/modern/grinning-face.svg": SHAPES_SVG,
      "icons/modern/beaming-face-with-smiling-eyes.svg": SHAPES_SVG,
      "icons/modern/grinning-face-with-smiling-eyes.svg": SHAPES_SVG,
      "icons/modern/smiling-face.svg": SHAPES_SVG,
      "icons/modern/grining-face-with-smiling-eye.svg": SHAPES_SVG,
      "icons/modern/thumbs-up-dark.svg": SHAPES_SVG,
      "icons/modern/xyzzy.svg": SHAPES_SVG,
    }),
    blob: await writeTree(join(base, "blob"), {
      "package.json": pkgJson("@iconify-json/noto-v1"),
      "icons.json": JSON.stringify({
        width: 64,
        height: 64,
        icons: { "grinning-face": { body: SHAPES_SVG.replace(/^<svg[^>]*>|<\/svg>$/g, "") } },
      }),
    }),
  };
}

function pixelOf(images: Float32Array, size: number, x: number, y: number): number[] {
  return Array.from(
    images.slice((y * size + x) * 3, (y * size + x) * 3 + 3),
    (v) => Math.round((v + 1) * 127.5),
  );
}

// ---- Rasterising and preparing ----

Deno.test("svg: a square, a half-transparent band and a circle prepared at 32×32: exact pixels on black and white; an SVG resvg cannot parse is skipped with a warning naming it", async () => {
  const packageDirs = await fixturePackages();
  const out = join(await Deno.makeTempDir(), "set");
  const expected = {
    "#000000": { square: [255, 0, 0], band: [128, 128, 0], circle: [0, 128, 255], empty: [0, 0, 0] },
    // the band: α = 128/255 over white is 255·128/255 + 255·127/255 = 255 in R and G, 127 in B
    "#ffffff": { square: [255, 0, 0], band: [255, 255, 127], circle: [0, 128, 255], empty: [255, 255, 255] },
  };
  for (const [background, want] of Object.entries(expected)) {
    const warnings: string[] = [];
    const { manifest } = await prepareDataset({
      vendors: "openmoji",
      subcategory: "face-smiling",
      packageDirs,
      background,
      out,
      log: null,
      warn: (l) => warnings.push(l),
    });
    assert.equal(manifest.count, 2);
    assert.deepEqual(manifest.images.map((i) => [i.unified, i.file]), [
      ["1F600", "color/svg/1F600.svg"],
      ["1F604", "color/svg/1F604.svg"],
    ]);
    assert.equal(warnings.length, 1, warnings.join("\n"));
    assert.match(warnings[0], /^skipped .*openmoji\/color\/svg\/1F601\.svg: resvg cannot render it \(/);
    const ds = await loadEmojiDataset(out);
    const img = ds.image(0);
    for (const [x, y] of [[0, 0], [15, 15], [7, 9]]) assert.deepEqual(pixelOf(img, 32, x, y), want.square);
    for (const [x, y] of [[16, 0], [31, 7], [24, 3]]) assert.deepEqual(pixelOf(img, 32, x, y), want.band);
    for (const [x, y] of [[22, 22], [18, 22], [22, 26]]) {
      assert.deepEqual(pixelOf(img, 32, x, y), want.circle);
    }
    for (const [x, y] of [[24, 8], [15, 16], [31, 31], [29, 22]]) {
      assert.deepEqual(pixelOf(img, 32, x, y), want.empty);
    }
    // the circle's edge is anti-aliased: a pixel it half covers lies between circle and background
    const edge = pixelOf(img, 32, 15, 22);
    assert.ok(edge[2] > Math.min(want.circle[2], want.empty[2]) || edge[0] < 255, `edge ${edge}`);
  }
});

Deno.test("svg: the manifest records vendor, licence, package version and each source file's SHA-256", async () => {
  const packageDirs = await fixturePackages();
  const out = join(await Deno.makeTempDir(), "set");
  const { manifest } = await prepareDataset({
    vendors: "openmoji,noto,blob",
    category: "Smileys & Emotion",
    packageDirs,
    out,
    log: null,
    warn: null,
  });
  assert.deepEqual(manifest.images.map((i) => [i.vendor, i.unified, i.licence]), [
    ["openmoji", "1F600", "CC-BY-SA-4.0"],
    ["openmoji", "1F604", "CC-BY-SA-4.0"],
    ["noto", "1F600", "Apache-2.0"],
    ["noto", "263A-FE0F", "Apache-2.0"],
    ["blob", "1F600", "Apache-2.0"],
  ]);
  const shapes = await sha256Hex(new TextEncoder().encode(SHAPES_SVG));
  assert.equal(manifest.images[0].sha256, shapes);
  assert.deepEqual(manifest.sources.map((s) => [s.vendor, s.package, s.version, s.licence, s.count]), [
    ["openmoji", "openmoji", "0.0.0-fixture", "CC-BY-SA-4.0", 2],
    ["noto", "@svgmoji/noto", "0.0.0-fixture", "Apache-2.0", 2],
    ["blob", "@iconify-json/noto-v1", "0.0.0-fixture", "Apache-2.0", 1],
  ]);
  assert.equal(manifest.sources[0].metadata, "emoji-datasource@0.0.0-fixture");
  assert.equal(manifest.sources[0].renderer, "@resvg/resvg-wasm@2.6.2");
  assert.deepEqual(manifest.sources[1].files, {
    "sprites/all.svg": await sha256Hex(new TextEncoder().encode(SPRITE)),
  });
  // every image's hash verifies against its source
  await verifySourceHashes(manifest, packageDirs);
});

/** Recomputes every SVG image's source SHA-256 from its package (or fixture) folder. */
async function verifySourceHashes(
  manifest: DatasetManifest,
  packageDirs?: Partial<Record<SvgVendor, string>>,
): Promise<void> {
  for (const vendor of SVG_VENDORS) {
    const images = manifest.images.filter((i) => i.vendor === vendor);
    if (images.length === 0) continue;
    const opened = await openStyle(vendor, packageDirs?.[vendor]);
    const byFile = new Map(opened.entries.map((e) => [e.file, e]));
    for (const image of images) {
      const entry = byFile.get(image.file);
      assert.ok(entry, `${vendor}: ${image.file} is not in the package`);
      assert.equal(await sha256Hex(await entry.load()), image.sha256, `${vendor}: ${image.file}`);
    }
    const source = manifest.sources.find((s) => s.vendor === vendor)!;
    for (const [file, sha] of Object.entries(source.files ?? {})) {
      assert.equal(await sha256Hex(await Deno.readFile(join(opened.pkg.root, file))), sha, file);
    }
  }
}

// ---- Sprites ----

Deno.test("sprite: two emojis split into standalone SVGs, ids mapped to code points, each gradient resolved inside its own emoji", async () => {
  const entries = splitSprite(SPRITE);
  assert.deepEqual(entries.map((e) => e.id), ["1F600", "263A"]);
  assert.deepEqual([entries[0].copied, entries[0].missing], [[], []]);
  assert.deepEqual([entries[1].copied, entries[1].missing], [["shared"], ["nowhere"]]);
  for (const e of entries) assert.ok(e.svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"'), e.svg);
  // rendered alone: the first is red; the second blue (its own `a`), with the copied green corner
  const px = async (svg: string, x: number, y: number) => {
    const img = await rasterizeSvg(svg, 8);
    return Array.from(img.rgba.slice((y * 8 + x) * 4, (y * 8 + x) * 4 + 4));
  };
  assert.deepEqual(await px(entries[0].svg, 5, 5), [255, 0, 0, 255]);
  assert.deepEqual(await px(entries[1].svg, 5, 5), [0, 0, 255, 255]);
  assert.deepEqual(await px(entries[1].svg, 1, 1), [0, 255, 0, 255]);
  assert.deepEqual(await px(entries[1].svg, 7, 7), [0, 0, 255, 255]); // `nowhere`: not drawn

  // through prepare: sprite ids join emoji.json by code points (263A ↔ 263A-FE0F)
  const packageDirs = await fixturePackages();
  const lines: string[] = [];
  const out = join(await Deno.makeTempDir(), "set");
  const { manifest } = await prepareDataset({
    vendors: "noto",
    category: "smileys-emotion",
    size: 8,
    packageDirs,
    out,
    log: (l) => lines.push(l),
    warn: null,
  });
  assert.deepEqual(manifest.images.map((i) => [i.unified, i.shortName, i.file]), [
    ["1F600", "grinning", "sprites/all.svg#1F600"],
    ["263A-FE0F", "relaxed", "sprites/all.svg#263A"],
  ]);
  const ds = await loadEmojiDataset(out);
  assert.deepEqual(pixelOf(ds.image(0), 8, 5, 5), [255, 0, 0]);
  assert.deepEqual(pixelOf(ds.image(1), 8, 5, 5), [0, 0, 255]);
  assert.ok(
    lines.some((l) =>
      /noto: 1 SVGs refer to ids their sprite defines nowhere, and are drawn without them: sprites\/all\.svg#263A \(nowhere\)/
        .test(l)
    ),
    lines.join("\n"),
  );
});

// ---- Joining names and code points to emoji.json ----

Deno.test("join: CLDR names before Unicode names, near misses reported, every entry matched or missed", () => {
  const names = [
    "grinning-face", // CLDR and Unicode name of 1F600
    "beaming-face-with-smiling-eyes", // CLDR name of 1F601
    "grinning-face-with-smiling-eyes", // CLDR name of 1F604 (and Unicode's name of 1F601!)
    "smiling-face", // CLDR only: Unicode calls 263A "WHITE SMILING FACE"
    "thumbs-up-sign", // Unicode name only
    "grining-face-with-smiling-eye", // a typo: near miss
    "thumbs-up-dark", // skin-tone variant
    "xyzzy", // nothing near
    "smiling-face-default", // `-default` is the base emoji: a duplicate of smiling-face here
  ];
  const entries: SetEntry[] = names.map((key) => ({ key, keyKind: "name", file: `${key}.svg` }));
  const cldr = ANNOTATIONS.map((a) => [a.hexcode, a.annotation] as const);
  const { matches, misses } = joinEntries(entries, RECORDS as unknown as EmojiRecord[], cldr);
  assert.deepEqual(matches.map((m) => [m.entry.key, m.record.unified, m.via]), [
    ["grinning-face", "1F600", "cldr"],
    ["beaming-face-with-smiling-eyes", "1F601", "cldr"],
    ["grinning-face-with-smiling-eyes", "1F604", "cldr"],
    ["smiling-face", "263A-FE0F", "cldr"],
    ["thumbs-up-sign", "1F44D", "name"],
  ]);
  assert.deepEqual(misses.map((m) => [m.entry.key, m.reason, m.nearest]), [
    ["grining-face-with-smiling-eye", "no emoji.json record", "grinning-face-with-smiling-eyes"],
    ["thumbs-up-dark", "skin-tone variant (emoji.json lists only the base emoji)", undefined],
    ["xyzzy", "no emoji.json record", undefined],
    ["smiling-face-default", "duplicate of smiling-face.svg (both are 263A-FE0F)", undefined],
  ]);
  assert.equal(matches.length + misses.length, entries.length);
  // without the CLDR table, Unicode names alone would give 1F601 to the wrong file
  const unicodeOnly = joinEntries(entries.slice(2, 3), RECORDS as unknown as EmojiRecord[]);
  assert.equal(unicodeOnly.matches[0].record.unified, "1F601");

  // code points: FE0F dropped on both sides, skin tones recognised
  const cps: SetEntry[] = ["263A", "1F44D-1F3FB", "E000"].map((key) => ({
    key,
    keyKind: "codepoints",
    file: key,
  }));
  const byCp = joinEntries(cps, RECORDS as unknown as EmojiRecord[]);
  assert.deepEqual(byCp.matches.map((m) => m.record.unified), ["263A-FE0F"]);
  assert.deepEqual(byCp.misses.map((m) => m.reason.split(" ")[0]), ["skin-tone", "no"]);
});

Deno.test("join through prepare: Fluent's names get emoji.json labels, and the misses are printed", async () => {
  const packageDirs = await fixturePackages();
  const lines: string[] = [];
  const { manifest } = await prepareDataset({
    vendors: "fluent",
    category: "Smileys & Emotion",
    size: 4,
    packageDirs,
    out: join(await Deno.makeTempDir(), "set"),
    log: (l) => lines.push(l),
    warn: null,
  });
  assert.deepEqual(manifest.images.map((i) => [i.shortName, i.subcategory, i.file]), [
    ["grinning", "face-smiling", "icons/modern/grinning-face.svg"],
    ["grin", "face-smiling", "icons/modern/beaming-face-with-smiling-eyes.svg"],
    ["smile", "face-smiling", "icons/modern/grinning-face-with-smiling-eyes.svg"],
    ["relaxed", "face-affection", "icons/modern/smiling-face.svg"],
  ]);
  assert.deepEqual(manifest.sources[0].join, { entries: 7, matched: 4, byCldrName: 4, missed: 3 });
  const joinLine = lines.find((l) => l.startsWith("fluent (fluentui-emoji@0.0.0-fixture)"));
  assert.ok(joinLine, lines.join("\n"));
  assert.match(joinLine, /7 SVGs, 4 joined to emoji-datasource@0.0.0-fixture emoji\.json/);
  assert.match(
    joinLine,
    /2 no emoji\.json record: grining-face-with-smiling-eye \(nearest: grinning-face-with-smiling-eyes\), xyzzy/,
  );
  assert.match(joinLine, /1 skin-tone variant/);
});

// ---- Bad input, as a user meets it ----

Deno.test("a damaged sprite or Iconify JSON is a corrupt-dataset error naming the file; a vendor's package that lacks its folder says so", async () => {
  const packageDirs = await fixturePackages();
  await Deno.writeTextFile(join(packageDirs.noto, "sprites/all.svg"), '<svg><svg id="1F600"><g></svg>');
  await Deno.writeTextFile(join(packageDirs.blob, "icons.json"), "{ not json");
  await Deno.remove(join(packageDirs.fluent, "icons"), { recursive: true });
  const run = (vendors: string) =>
    prepareDataset({ vendors, packageDirs, out: "unused", log: null, warn: null });
  await assert.rejects(
    run("noto"),
    (e: Error) =>
      e instanceof DatasetError && e.corrupt &&
      /@svgmoji\/noto: .*sprites\/all\.svg is corrupt \(/.test(e.message),
  );
  await assert.rejects(
    run("blob"),
    (e: Error) => e instanceof DatasetError && e.corrupt && /icons\.json is corrupt/.test(e.message),
  );
  await assert.rejects(
    run("fluent"),
    (e: Error) => e instanceof DatasetError && !e.corrupt && /icons\/modern is missing/.test(e.message),
  );
});

const DENO = await denoCommand();

Deno.test({
  name:
    `deno task prepare: --vendor nosuch lists the eight vendors (exit 2); a broken SVG in --from is skipped with a warning${
      DENO ? "" : " (needs --allow-run=deno)"
    }`,
  ignore: DENO === null,
  fn: async () => {
    const parent = await Deno.makeTempDir();
    const bad = await runTask("prepare.ts", ["--vendor", "nosuch", "--out", join(parent, "x")], {
      writable: parent,
      sys: false,
    });
    assert.equal(bad.code, 2);
    assert.equal(
      bad.stderr,
      'error: --vendor "nosuch" is unknown: choose one of apple, google, twitter, facebook, openmoji, fluent, ' +
        "noto, blob, or all\n",
    );
    const from = await writeTree(await Deno.makeTempDir(), {
      "shapes.svg": SHAPES_SVG,
      "broken.svg": "<svg><g>",
    });
    const r = await runTask("prepare.ts", ["--from", from, "--size", "4", "--out", join(parent, "set")], {
      writable: parent,
      sys: false,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^warning: skipped .*broken\.svg: resvg cannot render it \(.*\)\n$/);
    assert.match(r.stdout, /1 images, 1 skipped/);
  },
});

// ---- The real packages (fetched from npm on first use) ----

/**
 * Faces of `--subcategory face-smiling` per SVG style: emoji-datasource 16.0.0 lists 14, of which Noto's
 * sprite (Emoji 13.1) and the blobs lack 🫠 melting face.
 */
const FACE_SMILING: Record<SvgVendor, number> = { openmoji: 14, fluent: 14, noto: 13, blob: 13 };

for (const vendor of SVG_VENDORS) {
  Deno.test({
    name: `real data: prepare --vendor ${vendor} --subcategory face-smiling (EMOJI_DIFFUSION_REAL_DATA=1)`,
    ignore: Deno.env.get("EMOJI_DIFFUSION_REAL_DATA") !== "1",
    fn: async () => {
      const out = join(await Deno.makeTempDir(), "set");
      const warnings: string[] = [];
      const { manifest } = await prepareDataset({
        vendors: vendor,
        subcategory: "face-smiling",
        out,
        log: null,
        warn: (l) => warnings.push(l),
      });
      assert.deepEqual(warnings, []);
      assert.equal(manifest.count, FACE_SMILING[vendor]);
      const style = SVG_STYLES[vendor];
      assert.deepEqual(manifest.sources.map((s) => [s.package, s.version, s.licence]), [[
        style.package,
        style.version,
        VENDOR_LICENCES[vendor],
      ]]);
      assert.ok(manifest.images.every((i) => i.vendor === vendor && i.subcategory === "face-smiling"));
      assert.equal(manifest.images[0].shortName, "grinning");
      await verifySourceHashes(manifest);
      const ds = await loadEmojiDataset(out);
      assert.deepEqual(pixelOf(ds.image(0), 32, 0, 0), [0, 0, 0]); // corner: background
      assert.ok(pixelOf(ds.image(0), 32, 16, 8)[0] > 150, "the face is bright near its top centre");
      assert.ok((await locateNpmPackage(style.package, style.version)).root.length > 0);
    },
  });
}
