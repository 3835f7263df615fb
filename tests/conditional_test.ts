/** Label conditioning and classifier-free guidance: the model, training's label drops, sampling, errors. */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../src/backend/select.ts";
import {
  decodeCheckpoint,
  encodeCheckpoint,
  samplingCheckpoint,
  saveCheckpoint,
} from "../src/checkpoint/format.ts";
import type { DatasetManifest } from "../src/dataset/manifest.ts";
import { DiffusionModel, type ModelConfig } from "../src/model/model.ts";
import { modelFromCheckpoint } from "../src/model/from_checkpoint.ts";
import { LabelError, type LabelVocabulary, resolveLabels } from "../src/model/labels.ts";
import { guidedPredict } from "../src/sample/guidance.ts";
import { sampleImages } from "../src/sample/sample.ts";
import { makeSchedule } from "../src/core/schedule.ts";
import { Trainer } from "../src/train/trainer.ts";
import { EmojiDiffusion } from "../src/api.ts";
import { EmojiDataset } from "../src/dataset/mod.ts";
import { decodeImage } from "../src/image/codec.ts";
import { makeGrid } from "../src/image/grid.ts";
import { PROGRESS_GRID_SAMPLING } from "../src/sample/defaults.ts";
import { trainRun } from "../src/train/run.ts";
import {
  fixtureDataset,
  folderSet,
  ownLines,
  runTask,
  TINY_SEED,
  TINY_UNET,
  tinyTrainConfig,
} from "./helpers.ts";

await initBackend("cpu", { log: null });

const VOCAB: LabelVocabulary = {
  vendor: ["apple", "google", "twitter"],
  subcategory: ["face-sleepy", "face-smiling"],
};
const PRESETS: ModelConfig[] = [TINY_UNET, TINY_SEED];

function maxDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}

function input(size = 8, b = 2): { x: tf.Tensor4D; t: number[] } {
  return {
    x: tf.randomNormal([b, size, size, 3], 0, 1, "float32", 11) as tf.Tensor4D,
    t: [3, 40].slice(0, b),
  };
}

/**
 * A model with every weight drawn at random (a fresh `unet` has a zero output conv, so its ε is 0
 * whatever the labels).
 */
function randomModel(c: ModelConfig, seed: number): DiffusionModel {
  const m = new DiffusionModel({ ...c, labels: VOCAB }, seed, 8);
  let i = 0;
  for (const v of m.params.values()) v.assign(tf.randomNormal(v.shape, 0, 0.3, "float32", seed * 1000 + i++));
  return m;
}

/** A dataset whose manifest gives each of its images a vendor and a subcategory. */
function labelledDataset(count = 6): EmojiDataset {
  const base = fixtureDataset(count, 8);
  const images = Array.from({ length: count }, (_, i) => ({
    index: i,
    vendor: VOCAB.vendor[i % 3],
    name: `FACE ${i}`,
    shortName: `f${i}`,
    unified: null,
    category: "Smileys & Emotion",
    subcategory: VOCAB.subcategory[i % 2],
    file: `${i}.png`,
  }));
  const manifest = { images, atlas: { sha256: "x" } } as unknown as DatasetManifest;
  return new EmojiDataset(base.images, count, 8, manifest);
}

Deno.test("guidance w = 1 gives the conditional ε and w = 0 the null ε (both presets)", () => {
  for (const c of PRESETS) {
    const m = randomModel(c, 1);
    const { x, t } = input();
    const labels = [[2, 0], [1, -1]];
    const cond = m.predict(x, t, m.params, labels), nul = m.predict(x, t, m.params, [[-1, -1], [-1, -1]]);
    const g1 = guidedPredict(m, x, t, labels, 1), g0 = guidedPredict(m, x, t, labels, 0);
    assert.ok(maxDiff(g1, cond) <= 1e-6, `${c.preset} w=1: ${maxDiff(g1, cond)}`);
    assert.ok(maxDiff(g0, nul) <= 1e-6, `${c.preset} w=0: ${maxDiff(g0, nul)}`);
    // and w = 3 is the extrapolation ε_null + 3·(ε_cond − ε_null)
    const g3 = guidedPredict(m, x, t, labels, 3);
    const want = tf.add(nul, tf.mul(tf.sub(cond, nul), 3));
    assert.ok(maxDiff(g3, want) <= 1e-5, `${c.preset} w=3: ${maxDiff(g3, want)}`);
    tf.dispose([x, cond, nul, g1, g0, g3, want]);
    m.dispose();
  }
});

Deno.test("changing a label changes the predicted noise", () => {
  for (const c of PRESETS) {
    const m = randomModel(c, 1);
    const { x, t } = input();
    const a = m.predict(x, t, m.params, [[0, 0], [0, 0]]), b = m.predict(x, t, m.params, [[1, 0], [0, 0]]);
    const s = m.predict(x, t, m.params, [[0, 0], [1, 0]]);
    assert.ok(maxDiff(a, b) > 1e-3, `${c.preset}: vendor`);
    assert.ok(maxDiff(a, s) > 1e-3, `${c.preset}: subcategory`);
    tf.dispose([x, a, b, s]);
    m.dispose();
  }
});

Deno.test("every field null reproduces the unconditioned network of the same weights exactly", () => {
  for (const c of PRESETS) {
    const cond = new DiffusionModel({ ...c, labels: VOCAB }, 4, 8), plain = new DiffusionModel(c, 4, 8);
    // an unconditional model's weights are drawn as before: the label tables come after them
    for (const [name, v] of plain.params) assert.equal(maxDiff(v, cond.params.get(name)!), 0, name);
    assert.deepEqual([...cond.params.keys()].filter((k) => !plain.params.has(k)), [
      "label.vendor",
      "label.subcategory",
    ]);
    const { x, t } = input();
    const want = plain.predict(x, t);
    const nul = cond.predict(x, t, cond.params, [[-1, -1], [-1, -1]]), none = cond.predict(x, t);
    assert.equal(maxDiff(nul, want), 0, c.preset);
    assert.equal(maxDiff(none, want), 0, c.preset);
    tf.dispose([x, want, nul, none]);
    cond.dispose();
    plain.dispose();
  }
});

Deno.test("an unconditional checkpoint samples the same bytes as before conditioning existed", async () => {
  // SHA-256 prefixes of sampleImages' output for the shipped Apple model on the cpu backend, recorded
  // with the code of commit 59d351f (before label conditioning) by the same calls
  const want: Record<string, string> = {
    ddim: "12079349b238e51f2ea0fa2eabb08bf8",
    "dpm++2m": "32c0b3305e5387683008f43722b299b8",
  };
  const m = await EmojiDiffusion.load("data/models/apple-faces-unet.safetensors");
  assert.equal(m.labels, undefined);
  for (const sampler of ["ddim", "dpm++2m"] as const) {
    const out = await m.sample({ n: 2, steps: 2, seed: 7, sampler });
    const h = new Uint8Array(await crypto.subtle.digest("SHA-256", out.images.buffer as ArrayBuffer));
    assert.equal([...h.slice(0, 16)].map((b) => b.toString(16).padStart(2, "0")).join(""), want[sampler]);
  }
  m.dispose();
});

Deno.test("the label vocabulary is built from the manifest and survives save and load", async () => {
  const trainer = new Trainer(
    tinyTrainConfig(TINY_UNET, { condition: ["vendor", "subcategory"], T: 20 }),
    labelledDataset(),
  );
  assert.deepEqual(trainer.model.labels, VOCAB);
  await trainer.trainStep();
  const ckpt = decodeCheckpoint(encodeCheckpoint(await trainer.toCheckpoint(null)));
  assert.deepEqual(ckpt.meta.model.labels, VOCAB);
  const loaded = modelFromCheckpoint(ckpt, false); // the raw weights, to compare with the trainer's
  assert.deepEqual(loaded.model.labels, VOCAB);
  const { x, t } = input();
  const a = trainer.model.predict(x, t, trainer.model.params, [[1, 2], [0, -1]]);
  const b = loaded.model.predict(x, t, loaded.model.params, [[1, 2], [0, -1]]);
  assert.equal(maxDiff(a, b), 0);
  tf.dispose([x, a, b]);
  loaded.model.dispose();
  trainer.dispose();
});

Deno.test("label drops come from their own seeded stream, at rate condDrop", () => {
  const ds = labelledDataset();
  const drops = (condDrop: number) => {
    const tr = new Trainer(tinyTrainConfig(TINY_UNET, { condition: ["vendor"], condDrop }), ds);
    const all = Array.from({ length: 200 }, () => tr.batchLabels([0, 1, 2, 3])![0]).flatMap((a) => [...a]);
    const noise = tr.noiseRng.getState(), data = tr.dataRng.getState();
    tr.dispose();
    return { rate: all.filter((k) => k === -1).length / all.length, noise, data };
  };
  const p0 = drops(0), p3 = drops(0.3), p1 = drops(1);
  assert.equal(p0.rate, 0);
  assert.equal(p1.rate, 1);
  assert.ok(Math.abs(p3.rate - 0.3) < 0.05, `rate ${p3.rate}`);
  // the other streams are untouched by the drops
  assert.deepEqual(p3.noise, p0.noise);
  assert.deepEqual(p3.data, p0.data);
});

Deno.test("the cond-drop stream is saved in the checkpoint and a resumed run continues it exactly", async () => {
  const ds = labelledDataset();
  const config = tinyTrainConfig(TINY_UNET, { condition: ["vendor", "subcategory"], condDrop: 0.5, T: 20 });
  const straight = new Trainer(config, ds);
  for (let i = 0; i < 4; i++) await straight.trainStep();
  const first = new Trainer(config, ds);
  for (let i = 0; i < 2; i++) await first.trainStep();
  const ckpt = decodeCheckpoint(encodeCheckpoint(await first.toCheckpoint(null)));
  assert.ok(ckpt.meta.rng?.condDrop, "the checkpoint holds the cond-drop stream");
  first.dispose();
  const resumed = new Trainer(config, ds);
  resumed.restore(ckpt);
  for (let i = 0; i < 2; i++) await resumed.trainStep();
  assert.deepEqual(resumed.condDropRng.getState(), straight.condDropRng.getState());
  for (const [name, v] of straight.model.params) {
    assert.equal(maxDiff(v, resumed.model.params.get(name)!), 0, name);
  }
  // a run that had not saved the stream would have drawn other drops: the stream matters
  const fresh = new Trainer(config, ds);
  fresh.restore({ ...ckpt, meta: { ...ckpt.meta, rng: { ...ckpt.meta.rng!, condDrop: undefined } } });
  assert.notDeepEqual(fresh.condDropRng.getState(), resumed.condDropRng.getState());
  fresh.dispose();
  straight.dispose();
  resumed.dispose();
});

Deno.test("sampleImages: labels steer the images, one label set per image works, guidance runs on every sampler", async () => {
  const m = randomModel(TINY_UNET, 2);
  const s = makeSchedule("linear", 20);
  const run = (o: Record<string, unknown>) => sampleImages(m, s, { n: 2, steps: 3, seed: 1, ...o });
  const a = await run({ labels: { vendor: "apple" } }), g = await run({ labels: { vendor: "google" } });
  assert.notDeepEqual(a.images, g.images);
  const mixed = await run({ labels: [{ vendor: "apple" }, { vendor: "google" }], batch: 1 });
  const per = 8 * 8 * 3;
  assert.deepEqual(mixed.images.subarray(0, per), a.images.subarray(0, per));
  for (const sampler of ["ddpm", "ddim", "dpm++2m"] as const) {
    const w1 = await run({ sampler, labels: { vendor: "twitter" } });
    const g2 = await run({ sampler, labels: { vendor: "twitter" }, guidance: 2 });
    assert.ok(g2.images.every(Number.isFinite), sampler);
    assert.notDeepEqual(g2.images, w1.images, sampler);
  }
  m.dispose();
});

Deno.test("label errors: unknown field, unknown value, labels or guidance for an unconditional model", async () => {
  assert.throws(
    () => resolveLabels(VOCAB, { colour: "red" }),
    (e) => e instanceof LabelError && /vendor, subcategory/.test(e.message),
  );
  assert.throws(
    () => resolveLabels(VOCAB, { vendor: "nokia" }),
    (e) => e instanceof LabelError && /apple, google, twitter/.test(e.message),
  );
  assert.throws(
    () => resolveLabels(undefined, { vendor: "apple" }),
    (e) => e instanceof LabelError && /unconditional/.test(e.message),
  );
  const plain = new DiffusionModel(TINY_UNET, 0, 8), s = makeSchedule("linear", 20);
  await assert.rejects(sampleImages(plain, s, { n: 1, steps: 2, labels: { vendor: "apple" } }), LabelError);
  await assert.rejects(sampleImages(plain, s, { n: 1, steps: 2, guidance: 2 }), LabelError);
  plain.dispose();
});

Deno.test("deno task sample: --list-labels, unknown label value and labels for an unconditional model (exit 2)", async () => {
  const trainer = new Trainer(
    tinyTrainConfig(TINY_UNET, { condition: ["vendor", "subcategory"] }),
    labelledDataset(),
  );
  const dir = await Deno.makeTempDir();
  const file = `${dir}/c.safetensors`;
  await saveCheckpoint(file, samplingCheckpoint(await trainer.toCheckpoint(null)));
  trainer.dispose();
  const list = await runTask("sample.ts", ["--checkpoint", file, "--list-labels"]);
  assert.equal(list.code, 0);
  assert.equal(list.stdout, "vendor: apple, google, twitter\nsubcategory: face-sleepy, face-smiling\n");
  const bad = await runTask("sample.ts", ["--checkpoint", file, "--label", "vendor=nokia"]);
  assert.equal(bad.code, 2);
  assert.deepEqual(ownLines(bad.stderr), [
    'error: unknown vendor "nokia": choose one of apple, google, twitter (or * for any)',
  ]);
  const plain = await runTask("sample.ts", [
    "--checkpoint",
    "data/models/apple-faces-unet.safetensors",
    "--label",
    "vendor=apple",
  ]);
  assert.equal(plain.code, 2);
  assert.equal(ownLines(plain.stderr).length, 1);
  assert.match(plain.stderr, /^error: labels \(vendor=apple\) given to an unconditional model/m);
  const evalPlain = await runTask("eval.ts", [
    "--checkpoint",
    "data/models/apple-faces-unet.safetensors",
    "--label-agreement",
  ]);
  assert.equal(evalPlain.code, 2);
  assert.deepEqual(ownLines(evalPlain.stderr), [
    "error: --label-agreement: data/models/apple-faces-unet.safetensors is unconditional: it has no labels",
  ]);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a conditioned run's progress grid has one row per value of its smallest field, as the library draws them", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const set = await folderSet(dir, 6), out = `${dir}/run`;
    // three vendors and two subcategories: the rows are the subcategories
    const manifest = JSON.parse(await Deno.readTextFile(`${set}/manifest.json`));
    manifest.images.forEach((im: Record<string, string>, i: number) => {
      im.vendor = VOCAB.vendor[i % 3];
      im.subcategory = VOCAB.subcategory[i % 2];
    });
    await Deno.writeTextFile(`${set}/manifest.json`, JSON.stringify(manifest));
    const lines: string[] = [];
    const config = tinyTrainConfig(TINY_UNET, {
      data: set,
      condition: ["vendor", "subcategory"],
      steps: 6,
      T: 30,
    });
    await trainRun(config, { out, every: 6, gridImages: 7, log: (l) => lines.push(l) });
    assert.ok(
      lines.includes(
        "sample grids: one row per subcategory (face-sleepy, face-smiling), other labels any value",
      ),
    );
    const grid = await decodeImage(await Deno.readFile(`${out}/samples-000006.png`));
    // the library draws the same images for those labels from the run's checkpoint (its EMA weights)
    const model = await EmojiDiffusion.load(`${out}/latest.safetensors`);
    const labels = VOCAB.subcategory.flatMap((s) => new Array(3).fill({ subcategory: s }));
    const { images } = await model.sample({ n: 6, ...PROGRESS_GRID_SAMPLING, labels });
    const want = makeGrid(images, 2, 3, 8, { gutter: 1, scale: 2 });
    assert.equal(grid.width, want.width);
    assert.equal(grid.height, want.height);
    const rgb = (a: Uint8Array) => a.filter((_, k) => k % 4 !== 3);
    assert.deepEqual(rgb(grid.rgba), rgb(want.rgba));
    // and the rows differ: the labels reached the network
    const per = 8 * 8 * 3;
    assert.notDeepEqual(images.subarray(0, per), images.subarray(3 * per, 4 * per));
    model.dispose();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
