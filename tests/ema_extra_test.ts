/**
 * Several EMA decays kept during one run (`emaExtra`, `--ema LIST`): each average follows its closed
 * form, leaves the main one untouched, survives checkpoints and resumes exactly, and is the one a
 * sampling checkpoint holds when chosen (`chooseEma`, `export --ema-decay`).
 */
import assert from "node:assert/strict";
import { initBackend } from "../src/backend/select.ts";
import { chooseEma, emaDecays } from "../src/checkpoint/ema_choice.ts";
import {
  type Checkpoint,
  decodeCheckpoint,
  encodeCheckpoint,
  saveCheckpoint,
} from "../src/checkpoint/format.ts";
import { modelFromCheckpoint } from "../src/model/from_checkpoint.ts";
import { emaDecayAt } from "../src/train/ema.ts";
import { runConfig } from "../src/train/run.ts";
import { Trainer } from "../src/train/trainer.ts";
import { loadTrainRecipe } from "../src/train/config_file.ts";
import { fixtureDataset, ownLines, runTask, TINY_UNET, tinyTrainConfig } from "./helpers.ts";

await initBackend("wasm", { log: null });

async function flat(t: { data(): Promise<unknown> }): Promise<Float32Array> {
  return await t.data() as Float32Array;
}

function sameBits(a: Float32Array, b: Float32Array, what: string) {
  assert.equal(a.length, b.length, what);
  for (let i = 0; i < a.length; i++) {
    assert.ok(Object.is(a[i], b[i]), `${what}: index ${i}: ${a[i]} vs ${b[i]}`);
  }
}

Deno.test("extra EMA averages leave the weights and the main average bit-identical", async () => {
  const plain = new Trainer(tinyTrainConfig(TINY_UNET), fixtureDataset(4, 8));
  const kept = new Trainer(tinyTrainConfig(TINY_UNET, { emaExtra: [0, 0.5] }), fixtureDataset(4, 8));
  for (let i = 0; i < 3; i++) {
    const [a, b] = [await plain.trainStep(), await kept.trainStep()];
    assert.equal(a.loss, b.loss);
  }
  sameBits(await flat(plain.ema.flat), await flat(kept.ema.flat), "main EMA");
  sameBits(
    await flat(plain.ema.layout.flatten([...plain.model.params.values()])),
    await flat(kept.ema.layout.flatten([...kept.model.params.values()])),
    "weights",
  );
  plain.dispose();
  kept.dispose();
});

Deno.test("an extra average follows e_k = d_k·e_(k−1) + (1 − d_k)·θ_k; decay 0 is the weights", async () => {
  const trainer = new Trainer(tinyTrainConfig(TINY_UNET, { emaExtra: [0, 0.5] }), fixtureDataset(4, 8));
  const weights = async () => await flat(trainer.ema.layout.flatten([...trainer.model.params.values()]));
  const expected = Float64Array.from(await weights());
  for (let k = 1; k <= 4; k++) {
    await trainer.trainStep();
    const theta = await weights();
    const d = emaDecayAt(0.5, k);
    for (let i = 0; i < expected.length; i++) expected[i] = d * expected[i] + (1 - d) * theta[i];
    sameBits(await flat(trainer.emaExtra[0].flat), theta, `decay 0 at step ${k}`);
  }
  const half = await flat(trainer.emaExtra[1].flat);
  const worst = half.reduce((m, v, i) => Math.max(m, Math.abs(v - expected[i])), 0);
  assert.ok(worst < 1e-5, `decay 0.5 off its closed form by ${worst}`);
  trainer.dispose();
});

Deno.test("a checkpoint keeps every average and a resume continues them exactly", async () => {
  const config = tinyTrainConfig(TINY_UNET, { emaExtra: [0.5, 0.99] });
  const straight = new Trainer(config, fixtureDataset(4, 8));
  for (let i = 0; i < 4; i++) await straight.trainStep();
  const first = new Trainer(config, fixtureDataset(4, 8));
  for (let i = 0; i < 2; i++) await first.trainStep();
  const ckpt = decodeCheckpoint(encodeCheckpoint(await first.toCheckpoint(null)));
  assert.deepEqual(emaDecays(ckpt), [0.9, 0.5, 0.99]);
  const resumed = new Trainer(config, fixtureDataset(4, 8));
  assert.deepEqual(resumed.restore(ckpt).seededEma, []);
  for (let i = 0; i < 2; i++) await resumed.trainStep();
  for (const k of [0, 1]) {
    sameBits(await flat(straight.emaExtra[k].flat), await flat(resumed.emaExtra[k].flat), `extra ${k}`);
  }
  sameBits(await flat(straight.ema.flat), await flat(resumed.ema.flat), "main EMA");
  for (const t of [straight, first, resumed]) t.dispose();
});

Deno.test("a decay added on resume starts from the checkpoint's main average", async () => {
  const first = new Trainer(tinyTrainConfig(TINY_UNET), fixtureDataset(4, 8));
  for (let i = 0; i < 2; i++) await first.trainStep();
  const ckpt = await first.toCheckpoint(null);
  const resumed = new Trainer(tinyTrainConfig(TINY_UNET, { emaExtra: [0.99] }), fixtureDataset(4, 8));
  assert.deepEqual(resumed.restore(ckpt).seededEma, [0.99]);
  sameBits(await flat(resumed.emaExtra[0].flat), await flat(first.ema.flat), "seeded extra");
  first.dispose();
  resumed.dispose();
});

Deno.test("a resume with a decay list adds its new decays to the checkpoint's", () => {
  const saved = tinyTrainConfig(TINY_UNET, { ema: 0.999, emaExtra: [0.9995] });
  const resume = { meta: { model: TINY_UNET, train: saved }, tensors: new Map() } as unknown as Checkpoint;
  const asked = tinyTrainConfig(TINY_UNET, { ema: 0.999, emaExtra: [0.9999] });
  assert.deepEqual(runConfig(asked, { resume }).emaExtra, [0.9995, 0.9999]);
  // a single decay (no list) keeps the checkpoint's averages as they are
  assert.deepEqual(runConfig(tinyTrainConfig(TINY_UNET, { ema: 0.5 }), { resume }).emaExtra, [0.9995]);
  assert.equal(runConfig(tinyTrainConfig(TINY_UNET, { ema: 0.5 }), { resume }).ema, 0.999);
});

Deno.test("the chosen average is the one a loaded model samples with", async () => {
  const trainer = new Trainer(tinyTrainConfig(TINY_UNET, { emaExtra: [0] }), fixtureDataset(4, 8));
  for (let i = 0; i < 2; i++) await trainer.trainStep();
  const ckpt = await trainer.toCheckpoint(null);
  const loaded = modelFromCheckpoint(chooseEma(ckpt, 0));
  const want = await flat(trainer.emaExtra[0].flat);
  const got = await flat(trainer.ema.layout.flatten([...loaded.model.params.values()]));
  sameBits(got, want, "chosen weights");
  // the main decay gives the main average, without the extra tensors
  const main = chooseEma(ckpt, 0.9);
  assert.ok(![...main.tensors.keys()].some((k) => k.startsWith("ema@")));
  sameBits(main.tensors.get("ema/in.w")!.data, ckpt.tensors.get("ema/in.w")!.data, "main");
  loaded.model.dispose();
  trainer.dispose();
});

Deno.test("train refuses repeated --ema decays before any work", async () => {
  const r = await runTask("train.ts", ["--ema", "0.999,0.999", "--dry-run"]);
  assert.equal(r.code, 2);
  assert.deepEqual(ownLines(r.stderr), ['error: --ema decays must differ, got "0.999,0.999"']);
});

Deno.test("export --ema-decay refuses a decay the checkpoint does not keep, naming the kept ones", async () => {
  const trainer = new Trainer(tinyTrainConfig(TINY_UNET, { emaExtra: [0.5] }), fixtureDataset(4, 8));
  await trainer.trainStep();
  const dir = await Deno.makeTempDir({ dir: "data", prefix: "ema-extra-" });
  try {
    await saveCheckpoint(`${dir}/ckpt.safetensors`, await trainer.toCheckpoint(null));
    const bad = await runTask("export.ts", [
      "--checkpoint",
      `${dir}/ckpt.safetensors`,
      "--out",
      `${dir}/out.safetensors`,
      "--ema-decay",
      "0.7",
    ]);
    assert.equal(bad.code, 2);
    assert.deepEqual(ownLines(bad.stderr), [
      "error: --ema-decay: checkpoint keeps no average with EMA decay 0.7: it keeps EMA decays 0.9, 0.5",
    ]);
    const good = await runTask("export.ts", [
      "--checkpoint",
      `${dir}/ckpt.safetensors`,
      "--out",
      `${dir}/out.safetensors`,
      "--ema-decay",
      "0.5",
    ]);
    assert.equal(good.code, 0, good.stderr);
  } finally {
    trainer.dispose();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a recipe's emaExtra must list decays", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/r.json`, JSON.stringify({ emaExtra: [0.9999, 1.5] }));
  await assert.rejects(() => loadTrainRecipe(`${dir}/r.json`), {
    name: "TrainRecipeError",
    message: /"emaExtra\[1\]" must be a number in \[0, 0.999999\], got 1.5/,
  });
  await Deno.writeTextFile(`${dir}/r.json`, JSON.stringify({ emaExtra: [0.9995, 0.9999] }));
  assert.deepEqual((await loadTrainRecipe(`${dir}/r.json`)).config.emaExtra, [0.9995, 0.9999]);
  await Deno.remove(dir, { recursive: true });
});
