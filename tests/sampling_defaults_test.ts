// A conditioned model's own sampling defaults (default labels, guidance and its interval) stored in its
// checkpoint, and the "*" label value that asks for a field's null entry.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../src/backend/select.ts";
import { type Checkpoint, CheckpointError, saveCheckpoint } from "../src/checkpoint/format.ts";
import { DiffusionModel } from "../src/model/model.ts";
import { modelFromCheckpoint } from "../src/model/from_checkpoint.ts";
import {
  ANY_VALUE,
  type LabelVocabulary,
  resolveLabels,
  type SamplingDefaults,
  validateVocabulary,
  withDefaultLabels,
} from "../src/model/labels.ts";
import { EmojiDiffusion } from "../src/api.ts";
import { ownLines, runTask, TINY_UNET } from "./helpers.ts";

await initBackend("cpu", { log: null });

const VOCAB: LabelVocabulary = { vendor: ["apple", "google"], subcategory: ["face-sleepy", "face-smiling"] };

/**
 * A checkpoint of a tiny conditioned `unet` whose every weight is random (a fresh one has a zero output
 * conv, so its ε would be 0 whatever the labels), with the given sampling defaults; with `labels` null,
 * an unconditional one.
 */
async function randomCheckpoint(
  sampling?: SamplingDefaults,
  labels: LabelVocabulary | null = VOCAB,
): Promise<Checkpoint> {
  const m = new DiffusionModel(labels ? { ...TINY_UNET, labels } : TINY_UNET, 0, 8);
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  let i = 0;
  for (const [name, v] of m.params) {
    const r = tf.randomNormal(v.shape, 0, 0.3, "float32", 100 + i++);
    tensors.set(`params/${name}`, { shape: [...v.shape], data: await r.data() as Float32Array });
    r.dispose();
  }
  for (const [name, v] of m.state) {
    tensors.set(`state/${name}`, { shape: [...v.shape], data: await v.data() as Float32Array });
  }
  const meta = {
    model: m.config,
    imageSize: 8,
    schedule: { kind: "linear" as const, T: 20 },
    step: 1,
    seed: 0,
    dataHash: null,
    ...(sampling ? { sampling } : {}),
  };
  m.dispose();
  return { meta, tensors };
}

const SMALL = { n: 2, steps: 3, seed: 5 } as const;

Deno.test("the label value * resolves to the field's null entry", () => {
  assert.deepEqual(resolveLabels(VOCAB, { vendor: ANY_VALUE, subcategory: "face-smiling" }), [-1, 1]);
});

Deno.test("a vocabulary may not hold the value *", () => {
  assert.throws(() => validateVocabulary({ vendor: ["apple", "*"] }), /may not hold the value "\*"/);
});

Deno.test("withDefaultLabels fills only the fields the caller left out", () => {
  const d = { labels: { vendor: "apple", subcategory: "face-sleepy" } };
  assert.deepEqual(withDefaultLabels({ subcategory: "face-smiling" }, d), {
    vendor: "apple",
    subcategory: "face-smiling",
  });
  assert.deepEqual(withDefaultLabels({ vendor: "*" }, d), { vendor: "*", subcategory: "face-sleepy" });
  assert.deepEqual(withDefaultLabels({ vendor: "google" }, undefined), { vendor: "google" });
});

Deno.test("sample() with no labels draws the model's default label and guidance", async () => {
  const withDefaults = await EmojiDiffusion.load(
    await randomCheckpoint({ labels: { vendor: "google" }, guidance: 2 }),
  );
  const plain = await EmojiDiffusion.load(await randomCheckpoint());
  const byDefault = await withDefaults.sample(SMALL);
  const asked = await plain.sample({ ...SMALL, labels: { vendor: "google" }, guidance: 2 });
  assert.deepEqual(byDefault.images, asked.images);
  const unguided = await plain.sample({ ...SMALL, labels: { vendor: "google" } });
  assert.notDeepEqual(byDefault.images, unguided.images);
  withDefaults.dispose();
  plain.dispose();
});

Deno.test("a label given to sample() overrides the default, and * asks for any value", async () => {
  const withDefaults = await EmojiDiffusion.load(await randomCheckpoint({ labels: { vendor: "google" } }));
  const plain = await EmojiDiffusion.load(await randomCheckpoint());
  const apple = await withDefaults.sample({ ...SMALL, labels: { vendor: "apple" } });
  assert.deepEqual(apple.images, (await plain.sample({ ...SMALL, labels: { vendor: "apple" } })).images);
  const any = await withDefaults.sample({ ...SMALL, labels: { vendor: "*" } });
  assert.deepEqual(any.images, (await plain.sample(SMALL)).images);
  withDefaults.dispose();
  plain.dispose();
});

Deno.test("the edits take labels and the model's defaults as sample() does", async () => {
  const withDefaults = await EmojiDiffusion.load(await randomCheckpoint({ labels: { vendor: "google" } }));
  const plain = await EmojiDiffusion.load(await randomCheckpoint());
  const input = new Float32Array(8 * 8 * 3).map((_, i) => Math.sin(i) * 0.5);
  const edit = { strength: 0.6, n: 1, steps: 3, seed: 2 };
  const byDefault = await withDefaults.variations(input, edit);
  const google = await plain.variations(input, { ...edit, labels: { vendor: "google" } });
  const apple = await plain.variations(input, { ...edit, labels: { vendor: "apple" } });
  assert.deepEqual(byDefault.images, google.images);
  assert.notDeepEqual(google.images, apple.images);
  const mask = new Uint8Array(64).fill(1, 0, 32);
  const inpainted = await withDefaults.inpaint(input, mask, {
    steps: 2,
    resample: 1,
    labels: { vendor: "apple" },
  });
  assert.deepEqual(
    inpainted.images,
    (await plain.inpaint(input, mask, { steps: 2, resample: 1, labels: { vendor: "apple" } })).images,
  );
  withDefaults.dispose();
  plain.dispose();
});

Deno.test("samplingDefaults exposes the checkpoint's defaults", async () => {
  const m = await EmojiDiffusion.load(await randomCheckpoint({ labels: { vendor: "apple" }, guidance: 3 }));
  assert.deepEqual(m.samplingDefaults, { labels: { vendor: "apple" }, guidance: 3 });
  m.dispose();
});

Deno.test("a checkpoint whose default label is not in its vocabulary fails to load", async () => {
  const ckpt = await randomCheckpoint({ labels: { vendor: "nokia" } });
  assert.throws(
    () => modelFromCheckpoint(ckpt),
    (e) => e instanceof CheckpointError && /vendor=nokia is not one of apple, google/.test(e.message),
  );
});

/** Runs `deno task export` on a fresh random checkpoint in a temporary folder under data/. */
async function exportIn(dir: string, flags: string[]) {
  await saveCheckpoint(`${dir}/in.safetensors`, await randomCheckpoint());
  return await runTask("export.ts", [
    "--checkpoint",
    `${dir}/in.safetensors`,
    "--out",
    `${dir}/out.safetensors`,
    ...flags,
  ]);
}

/** `deno task sample` of 2 small images from `dir/file` into `dir/out`, with extra flags. */
function sampleIn(dir: string) {
  const common = ["--n", "2", "--steps", "3", "--seed", "4", "--backend", "cpu"];
  return (file: string, out: string, flags: string[] = []) =>
    runTask("sample.ts", ["--checkpoint", `${dir}/${file}`, "--out", `${dir}/${out}`, ...flags, ...common]);
}

Deno.test("deno task export --default-label/--default-guidance: sample draws them when no flag is given", async () => {
  const dir = await Deno.makeTempDir({ dir: "data" });
  try {
    const exp = await exportIn(dir, ["--default-label", "vendor=google", "--default-guidance", "2"]);
    assert.equal(exp.code, 0, exp.stderr);
    const sample = sampleIn(dir);
    const byDefault = await sample("out.safetensors", "a");
    assert.equal(byDefault.code, 0, byDefault.stderr);
    assert.match(byDefault.stderr, /labels vendor=google, guidance 2/);
    const asked = await sample("in.safetensors", "b", ["--label", "vendor=google", "--guidance", "2"]);
    assert.equal(asked.code, 0, asked.stderr);
    assert.deepEqual(await Deno.readFile(`${dir}/a/grid.png`), await Deno.readFile(`${dir}/b/grid.png`));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deno task export --default-label with an unknown value: one line, exit 2, nothing written", async () => {
  const dir = await Deno.makeTempDir({ dir: "data" });
  try {
    const r = await exportIn(dir, ["--default-label", "vendor=nokia"]);
    assert.equal(r.code, 2);
    assert.deepEqual(ownLines(r.stderr), [
      "error: --default-label: the default label vendor=nokia is not one of apple, google",
    ]);
    assert.equal(await Deno.stat(`${dir}/out.safetensors`).catch(() => null), null);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deno task export --default-guidance-interval: sample guides only those steps unless told otherwise", async () => {
  const dir = await Deno.makeTempDir({ dir: "data" });
  try {
    const exp = await exportIn(dir, [
      "--default-label",
      "vendor=google",
      "--default-guidance",
      "3",
      "--default-guidance-interval",
      "0,0.5",
    ]);
    assert.equal(exp.code, 0, exp.stderr);
    const sample = sampleIn(dir);
    const byDefault = await sample("out.safetensors", "a");
    assert.equal(byDefault.code, 0, byDefault.stderr);
    assert.match(byDefault.stderr, /guidance 3 at t\/T in \[0, 0\.5\]/);
    const asked = ["--label", "vendor=google", "--guidance", "3"];
    const same = await sample("in.safetensors", "b", [...asked, "--guidance-interval", "0,0.5"]);
    const full = await sample("out.safetensors", "c", ["--guidance-interval", "0,1"]);
    assert.equal(same.code, 0, same.stderr);
    assert.equal(full.code, 0, full.stderr);
    const grid = (d: string) => Deno.readFile(`${dir}/${d}/grid.png`);
    assert.deepEqual(await grid("a"), await grid("b"));
    assert.notDeepEqual(await grid("a"), await grid("c"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deno task sample --guidance-interval on an unconditional checkpoint: one line, exit 2", async () => {
  const dir = await Deno.makeTempDir({ dir: "data" });
  try {
    await saveCheckpoint(`${dir}/plain.safetensors`, await randomCheckpoint(undefined, null));
    const r = await runTask("sample.ts", [
      "--checkpoint",
      `${dir}/plain.safetensors`,
      "--guidance-interval",
      "0,0.5",
      "--out",
      `${dir}/x`,
    ]);
    assert.equal(r.code, 2);
    assert.deepEqual(ownLines(r.stderr), [
      `error: --guidance-interval: ${dir}/plain.safetensors is unconditional: it has no labels to guide by`,
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
