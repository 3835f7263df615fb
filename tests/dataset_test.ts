import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../src/backend/select.ts";
import {
  ATLAS_FILE,
  DatasetError,
  EmojiDataset,
  ensureDataset,
  forwardStrip,
  loadEmojiDataset,
  MANIFEST_FILE,
  prepareDataset,
  sha256Hex,
} from "../src/dataset/mod.ts";
import { decodeImage, encodePng } from "../src/image/codec.ts";
import { Rng } from "../src/core/rng.ts";
import { makeSchedule } from "../src/core/schedule.ts";
import { denoCommand, runTask as runTaskAs } from "./helpers.ts";

/** An 8x8 RGBA image from a function of (x, y) → [r, g, b, a]. */
function rgbaImage(w: number, h: number, f: (x: number, y: number) => number[]): Uint8Array {
  const out = new Uint8Array(w * h * 4);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) out.set(f(x, y), (y * w + x) * 4);
  return out;
}

/**
 * A fixture folder: arrow.png (8x8, left half opaque red, right half transparent: asymmetric),
 * half.png (6x4, non-square), photo.jpg, ramp.png, plus corrupt.png (garbage) and notes.txt.
 */
async function makeFixtureFolder(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "emoji-fixture-" });
  const arrow = rgbaImage(8, 8, (x) => (x < 4 ? [255, 0, 0, 255] : [0, 255, 0, 0]));
  await Deno.writeFile(join(dir, "arrow.png"), await encodePng(arrow, 8, 8));
  // 6 wide, 4 high: columns 0 and 5 are cropped away; the centre 4x4 is white, α = 0.5 → 127.5 over black.
  const half = rgbaImage(6, 4, (x) => (x === 0 || x === 5 ? [0, 0, 255, 255] : [255, 255, 255, 128]));
  await Deno.writeFile(join(dir, "half.png"), await encodePng(half, 6, 4));
  const { Image } = await import("imagescript");
  const jpg = new Image(8, 8);
  jpg.fill(0x808080ff);
  await Deno.writeFile(join(dir, "photo.jpg"), await jpg.encodeJPEG(95));
  const ramp = rgbaImage(8, 8, (x, y) => [x * 32, y * 32, 100, 255]);
  await Deno.writeFile(join(dir, "ramp.png"), await encodePng(ramp, 8, 8));
  await Deno.writeFile(
    join(dir, "corrupt.png"),
    Uint8Array.of(137, 80, 78, 71, 13, 10, 26, 10, 0, 0, 1, 2, 3),
  );
  await Deno.writeTextFile(join(dir, "notes.txt"), "not an image");
  return dir;
}

async function prepared(size = 4, fit: "pad" | "crop" = "crop") {
  const from = await makeFixtureFolder();
  const out = join(await Deno.makeTempDir({ prefix: "emoji-set-" }), "set");
  const warnings: string[] = [];
  const result = await prepareDataset({ from, size, out, fit, log: null, warn: (l) => warnings.push(l) });
  return { from, out, result, warnings };
}

Deno.test("prepare --from: composites, crops, area-resizes, skips bad files with warnings", async () => {
  const { out, result, warnings } = await prepared(4);
  const m = result.manifest;
  assert.equal(m.count, 4);
  assert.deepEqual(m.images.map((i) => i.file), ["arrow.png", "half.png", "photo.jpg", "ramp.png"]);
  assert.deepEqual(result.skipped.map((s) => s.file).sort(), ["corrupt.png", "notes.txt"]);
  assert.equal(warnings.length, 2);
  assert.ok(warnings.some((w) => w.includes("corrupt.png") && w.includes("cannot be decoded")));
  assert.ok(warnings.some((w) => w.includes("notes.txt") && w.includes("not an image")));
  const ds = await loadEmojiDataset(out);
  assert.equal(ds.count, 4);
  assert.equal(ds.size, 4);
  assert.equal(ds.images.length, 4 * 4 * 4 * 3);
  const px = (i: number, x: number, y: number) =>
    Array.from(ds.image(i).slice((y * 4 + x) * 3, (y * 4 + x) * 3 + 3));
  // arrow: left half red, right half black (the green under α = 0 must not leak).
  assert.deepEqual(px(0, 0, 0), [1, -1, -1]);
  assert.deepEqual(px(0, 1, 3), [1, -1, -1]);
  assert.deepEqual(px(0, 2, 0), [-1, -1, -1]);
  // half: centre-cropped (no blue), 255·128/255 = 128 over black.
  assert.deepEqual(px(1, 0, 0), [128 / 127.5 - 1, 128 / 127.5 - 1, 128 / 127.5 - 1].map(Math.fround));
  // ramp 8 → 4: mean of x·32 over x ∈ {0, 1} is 16.
  assert.deepEqual(px(3, 0, 0), [16, 16, 100].map((v) => Math.fround(v / 127.5 - 1)));
  for (const v of ds.images) assert.ok(v >= -1 && v <= 1);
});

Deno.test("prepare --from pads a non-square image on the background by default, and says so", async () => {
  const from = await makeFixtureFolder();
  const out = join(await Deno.makeTempDir({ prefix: "emoji-set-" }), "set");
  const lines: string[] = [];
  await prepareDataset({ from, size: 6, out, log: (l) => lines.push(l), warn: null });
  const ds = await loadEmojiDataset(out);
  const px = (x: number, y: number) => Array.from(ds.image(1).slice((y * 6 + x) * 3, (y * 6 + x) * 3 + 3));
  // half.png is 6x4: one background row above and below, the blue columns 0 and 5 kept
  assert.deepEqual(px(2, 0), [-1, -1, -1]);
  assert.deepEqual(px(2, 5), [-1, -1, -1]);
  assert.deepEqual(px(0, 1), [-1, -1, 1]);
  assert.deepEqual(px(2, 1), [128 / 127.5 - 1, 128 / 127.5 - 1, 128 / 127.5 - 1].map(Math.fround));
  assert.ok(
    lines.some((l) => /1 non-square image\(s\) padded to square.*`fit` crop/.test(l)),
    lines.join("\n"),
  );
});

Deno.test("manifest round trip; deterministic bytes; re-prepare replaces the folder", async () => {
  const { from, out, result } = await prepared(4);
  const onDisk = JSON.parse(await Deno.readTextFile(join(out, MANIFEST_FILE)));
  assert.deepEqual(onDisk, result.manifest);
  assert.equal(onDisk.formatVersion, 1);
  assert.equal(onDisk.size, 4);
  assert.equal(onDisk.background, "#000000");
  assert.deepEqual(onDisk.atlas.columns * onDisk.atlas.rows >= 4, true);
  assert.equal(onDisk.atlas.sha256, await sha256Hex(await Deno.readFile(join(out, ATLAS_FILE))));
  assert.deepEqual(onDisk.sources, [{ kind: "folder", vendor: "folder", path: from, count: 4 }]);
  const ds = await loadEmojiDataset(out);
  assert.deepEqual(ds.manifest, result.manifest);
  // Same inputs, same bytes; writing over an existing dataset leaves no temp or backup folders.
  const again = await prepareDataset({ from, size: 4, out, fit: "crop", log: null, warn: null });
  assert.equal(again.manifest.atlas.sha256, result.manifest.atlas.sha256);
  const siblings = [];
  for await (const e of Deno.readDir(dirname(out))) siblings.push(e.name);
  assert.deepEqual(siblings, ["set"]);
  // A white background changes the pixels under transparency.
  const white = await prepareDataset({
    from,
    size: 4,
    out: `${out}-white`,
    background: "white",
    log: null,
    warn: null,
  });
  assert.notEqual(white.manifest.atlas.sha256, result.manifest.atlas.sha256);
  assert.equal(white.manifest.background, "#ffffff");
  const w = await loadEmojiDataset(`${out}-white`);
  assert.deepEqual(Array.from(w.image(0).slice(9, 12)), [1, 1, 1]); // arrow, x = 3: transparent → white
});

Deno.test("loadEmojiDataset rejects a tampered or missing atlas and a wrong format version", async () => {
  const { out } = await prepared(4);
  const atlasPath = join(out, ATLAS_FILE);
  const good = await Deno.readFile(atlasPath);
  const bad = good.slice();
  bad[bad.length - 20] ^= 0xff;
  await Deno.writeFile(atlasPath, bad);
  await assert.rejects(
    loadEmojiDataset(out),
    (e: Error) => e instanceof DatasetError && /does not match/.test(e.message),
  );
  await Deno.remove(atlasPath);
  await assert.rejects(
    loadEmojiDataset(out),
    (e: Error) => e instanceof DatasetError && /missing/.test(e.message),
  );
  await Deno.writeFile(atlasPath, good);
  await loadEmojiDataset(out);
  const m = JSON.parse(await Deno.readTextFile(join(out, MANIFEST_FILE)));
  await Deno.writeTextFile(join(out, MANIFEST_FILE), JSON.stringify({ ...m, formatVersion: 99 }));
  await assert.rejects(loadEmojiDataset(out), /formatVersion 99/);
  await assert.rejects(
    loadEmojiDataset(join(out, "nope")),
    (e: Error) => e instanceof DatasetError && /no dataset/.test(e.message),
  );
});

Deno.test("bad input leaves nothing half-written", async () => {
  const parent = await Deno.makeTempDir();
  const from = await Deno.makeTempDir();
  await Deno.writeFile(join(from, "bad.png"), new Uint8Array(10));
  await assert.rejects(
    prepareDataset({ from, out: join(parent, "x"), log: null, warn: null }),
    (e: Error) => e instanceof DatasetError && /no readable/.test(e.message),
  );
  await assert.rejects(
    prepareDataset({ vendors: "apple,nope", out: join(parent, "y"), log: null }),
    /"nope" is unknown/,
  );
  await assert.rejects(prepareDataset({ from, vendors: "apple", log: null }), /cannot be combined/);
  const left = [];
  for await (const e of Deno.readDir(parent)) left.push(e.name);
  assert.deepEqual(left, []);
  // A folder that is not a dataset is never overwritten.
  await Deno.writeTextFile(join(parent, "keep.txt"), "mine");
  const { from: good } = await prepared(4);
  await assert.rejects(
    prepareDataset({ from: good, out: parent, log: null, warn: null }),
    /not a dataset folder/,
  );
  assert.equal(await Deno.readTextFile(join(parent, "keep.txt")), "mine");
});

Deno.test("ensureDataset prepares when told what, and never invents a dataset for a typo", async () => {
  const from = await makeFixtureFolder();
  const dir = join(await Deno.makeTempDir(), "set");
  await assert.rejects(
    ensureDataset(dir),
    (e: Error) => e instanceof DatasetError && /no dataset/.test(e.message),
  );
  const ds = await ensureDataset(dir, { from, size: 4, log: null, warn: null });
  assert.equal(ds.count, 4);
  assert.equal((await ensureDataset(dir)).count, 4);
});

/** An in-memory dataset of `n` random 4x4 images. */
function randomDataset(n: number, seed = 3): EmojiDataset {
  const r = new Rng(seed);
  return new EmojiDataset(Float32Array.from({ length: n * 48 }, () => r.uniform() * 2 - 1), n, 4);
}

function mirrored(img: Float32Array, size: number): Float32Array {
  const out = new Float32Array(img.length);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      for (let c = 0; c < 3; c++) out[(y * size + x) * 3 + c] = img[(y * size + (size - 1 - x)) * 3 + c];
    }
  }
  return out;
}

Deno.test("sampler: seeded, reproducible, epoch-wise shuffles", () => {
  const ds = randomDataset(10);
  const draw = (seed: number) => {
    const s = ds.sampler(new Rng(seed), 4);
    return [s.nextBatchArray(), s.nextBatchArray(), s.nextBatchArray()];
  };
  assert.deepEqual(draw(5), draw(5));
  assert.notDeepEqual(draw(5), draw(6));
  const s = ds.sampler(new Rng(1), 5);
  const idx = [0, 1, 2, 3].flatMap(() => s.nextBatchWithInfo().indices);
  assert.deepEqual(idx.slice(0, 10).sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.deepEqual(idx.slice(10, 20).sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.notDeepEqual(idx.slice(0, 10), idx.slice(10, 20));
  assert.equal(s.epoch, 1);
  // Resume: a restored sampler + rng continues identically.
  const rng = new Rng(9), a = ds.sampler(rng, 3);
  a.nextBatchArray();
  const saved = { rng: rng.getState(), sampler: a.getState() };
  const expected = a.nextBatchArray();
  const rng2 = new Rng(0);
  rng2.setState(saved.rng);
  const b = ds.sampler(rng2, 3);
  b.setState(saved.sampler);
  assert.deepEqual(b.nextBatchArray(), expected);
});

Deno.test("sampler: flips are seeded, p ≈ 0.5, and a flipped image is the mirrored original", () => {
  const ds = randomDataset(8);
  const s = ds.sampler(new Rng(2), 8);
  let flips = 0, total = 0;
  for (let k = 0; k < 50; k++) {
    const { data, indices, flipped } = s.nextBatchWithInfo();
    indices.forEach((i, b) => {
      const got = data.slice(b * 48, (b + 1) * 48);
      const want = flipped[b] ? mirrored(ds.image(i), 4) : ds.image(i);
      assert.deepEqual(got, Float32Array.from(want));
      flips += flipped[b] ? 1 : 0;
      total++;
    });
  }
  assert.ok(flips > total * 0.4 && flips < total * 0.6, `flip rate ${flips}/${total}`);
  const noFlip = ds.sampler(new Rng(2), 8, { flip: false }).nextBatchWithInfo();
  assert.ok(noFlip.flipped.every((f) => !f));
  // Same seed, same flips; different seed, different flips (over 24 examples).
  const flags = (seed: number) => {
    const sm = ds.sampler(new Rng(seed), 8);
    return [0, 1, 2].flatMap(() => sm.nextBatchWithInfo().flipped);
  };
  assert.deepEqual(flags(11), flags(11));
  assert.notDeepEqual(flags(11), flags(12));
});

Deno.test("batches: tensor shapes and value range on a prepared set", async () => {
  await initBackend("cpu", { log: null });
  const { out } = await prepared(4);
  const ds = await loadEmojiDataset(out);
  const before = tf.memory().numTensors;
  const sampler = ds.sampler(new Rng(0), 6);
  const batch = sampler.nextBatch();
  assert.deepEqual(batch.shape, [6, 4, 4, 3]);
  const v = await batch.data();
  assert.ok(v.every((x) => x >= -1 && x <= 1));
  batch.dispose();
  let n = 0;
  for (const t of ds.batches(new Rng(0), 3, 2)) {
    assert.deepEqual(t.shape, [3, 4, 4, 3]);
    t.dispose();
    n++;
  }
  assert.equal(n, 2);
  const all = ds.allImages();
  assert.deepEqual(all.shape, [4, 4, 4, 3]);
  assert.deepEqual(await all.data(), ds.images);
  all.dispose();
  assert.equal(tf.memory().numTensors, before);
});

Deno.test("forward strip: column t has std √(1−ᾱ_t) and mean √ᾱ_t·x0, unclipped", async () => {
  await initBackend("cpu", { log: null });
  const size = 32, per = size * size * 3, ts = [0, 100, 250, 499];
  const schedules = [makeSchedule("linear", 500), makeSchedule("cosine", 500)];
  const x0 = new Float32Array(2 * per);
  x0.fill(0.5, per); // row 0: zeros, row 1: 0.5
  const before = tf.memory().numTensors;
  const strip = await forwardStrip(x0, 2, size, schedules, ts, new Rng(4));
  assert.equal(tf.memory().numTensors, before);
  assert.equal(strip.rows, 4);
  assert.equal(strip.cols, 4);
  assert.equal(strip.data.length, 16 * per);
  let maxAbs = 0;
  schedules.forEach((s, b) => {
    for (let r = 0; r < 2; r++) {
      ts.forEach((t, j) => {
        const cell = strip.data.subarray(((b * 2 + r) * 4 + j) * per, ((b * 2 + r) * 4 + j + 1) * per);
        const mean = cell.reduce((a, v) => a + v, 0) / per;
        const std = Math.sqrt(cell.reduce((a, v) => a + (v - mean) ** 2, 0) / per);
        const wantStd = s.sqrtOneMinusAlphasCumprod[t],
          wantMean = s.sqrtAlphasCumprod[t] * (r === 0 ? 0 : 0.5);
        assert.ok(Math.abs(std / wantStd - 1) < 0.06, `${s.kind} t=${t}: std ${std} vs ${wantStd}`);
        assert.ok(Math.abs(mean - wantMean) < 4 * wantStd / Math.sqrt(per), `${s.kind} t=${t}: mean ${mean}`);
        for (const v of cell) maxAbs = Math.max(maxAbs, Math.abs(v));
      });
    }
  });
  assert.ok(maxAbs > 1.5, "x_t must not be clamped");
  const again = await forwardStrip(x0, 2, size, schedules, ts, new Rng(4));
  assert.deepEqual(again.data, strip.data);
});

// ---- The CLIs, spawned as a user would run them ----

const DENO = await denoCommand();
const cliTest = (name: string, fn: () => Promise<void>) =>
  Deno.test({ name: `${name}${DENO ? "" : " (needs --allow-run=deno)"}`, ignore: DENO === null, fn });
const runTask = (script: string, args: string[], writable: string) =>
  runTaskAs(script, args, { writable, sys: false });

cliTest("deno task prepare --from: corrupt files are skipped with a warning naming each", async () => {
  const from = await makeFixtureFolder();
  const parent = await Deno.makeTempDir();
  const r = await runTask(
    "prepare.ts",
    ["--from", from, "--size", "4", "--out", join(parent, "set")],
    parent,
  );
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /warning: skipped .*corrupt\.png: cannot be decoded/);
  assert.match(r.stderr, /warning: skipped .*notes\.txt: not an image/);
  assert.match(r.stdout, /4 images, 2 skipped/);
  assert.equal((await loadEmojiDataset(join(parent, "set"))).count, 4);
});

cliTest("deno task prepare: unknown vendor, unknown category, empty filter → exit 2, one line", async () => {
  const parent = await Deno.makeTempDir();
  const cases: [string[], RegExp][] = [
    [["--vendor", "apple,foo"], /"foo" is unknown: choose one of apple, google, twitter, facebook/],
    [["--category", "Nope"], /--category "Nope" is unknown: choose one of .*Smileys & Emotion/],
    [
      ["--subcategory", "nothing-*"],
      /--subcategory "nothing-\*" matches nothing: choose from .*face-smiling/,
    ],
    [["--background", "red"], /"red" is unknown: choose one of black, white, #rrggbb/],
  ];
  for (const [args, re] of cases) {
    const r = await runTask("prepare.ts", [...args, "--out", join(parent, "x")], parent);
    assert.equal(r.code, 2, `${args}: ${r.stderr}`);
    const lines = r.stderr.trim().split("\n");
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0], /^error: /);
    assert.match(lines[0], re);
  }
  const left = [];
  for await (const e of Deno.readDir(parent)) left.push(e.name);
  assert.deepEqual(left, []);
});

cliTest("deno task forward: writes the strip; a tampered atlas is a runtime failure, exit 1", async () => {
  const { out } = await prepared(4);
  const png = join(dirname(out), "forward.png");
  const r = await runTask("forward.ts", ["--dataset", out, "--out", png, "--schedule", "both"], dirname(out));
  assert.equal(r.code, 0, r.stderr);
  const img = await decodeImage(await Deno.readFile(png));
  // 4 emoji rows × 2 schedules, 6 columns, 4 px images ×4, 1 px gutters, 4 px between blocks.
  assert.deepEqual([img.width, img.height], [6 * 16 + 5, 2 * (4 * 16 + 3) + 4]);
  const bad = await runTask("forward.ts", ["--dataset", out, "--emoji", "nope", "--out", png], dirname(out));
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^error: --emoji "nope" is not in .*arrow, half, photo, ramp\n$/);
  const atlas = await Deno.readFile(join(out, ATLAS_FILE));
  atlas[atlas.length - 20] ^= 1;
  await Deno.writeFile(join(out, ATLAS_FILE), atlas);
  const t = await runTask("forward.ts", ["--dataset", out, "--out", png], dirname(out));
  assert.equal(t.code, 1);
  assert.match(t.stderr, /^error: atlas .* does not match its manifest/);
});

Deno.test({
  name: "real data: prepare the default Apple faces set (EMOJI_DIFFUSION_REAL_DATA=1)",
  ignore: Deno.env.get("EMOJI_DIFFUSION_REAL_DATA") !== "1",
  fn: async () => {
    const out = join(await Deno.makeTempDir(), "apple-faces-32");
    const { manifest } = await prepareDataset({ out, log: null });
    assert.equal(manifest.count, 118);
    assert.deepEqual(manifest.sources.map((s) => [s.package, s.version]), [[
      "emoji-datasource-apple",
      "16.0.0",
    ]]);
    assert.ok(manifest.filters.subcategories.every((s) => s.startsWith("face-")));
    assert.equal(manifest.images[0].shortName, "grinning");
    const ds = await loadEmojiDataset(out);
    assert.equal(ds.images.length, 118 * 32 * 32 * 3);
    // Faces on black: corners are background, centres are bright.
    const centre = ds.image(0).slice((16 * 32 + 16) * 3, (16 * 32 + 16) * 3 + 3);
    assert.deepEqual(Array.from(ds.image(0).slice(0, 3)), [-1, -1, -1]);
    assert.ok(centre[0] > 0.5);
  },
});
