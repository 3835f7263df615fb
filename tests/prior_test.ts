import assert from "node:assert/strict";
import { initBackend } from "../src/backend/select.ts";
import {
  CheckpointError,
  DATA_MEAN_TENSOR,
  loadCheckpoint,
  saveCheckpoint,
} from "../src/checkpoint/format.ts";
import { modelFromCheckpoint } from "../src/model/from_checkpoint.ts";
import { DiffusionModel } from "../src/model/model.ts";
import { Rng } from "../src/core/rng.ts";
import { makeSchedule } from "../src/core/schedule.ts";
import { meanImage, priorStart } from "../src/sample/prior.ts";
import { sampleImages } from "../src/sample/sample.ts";
import { ddimTimesteps } from "../src/sample/steps.ts";
import { Trainer } from "../src/train/trainer.ts";
import { EmojiDiffusion } from "../src/api.ts";
import { fixtureDataset, folderSet, ownLines, runTask, TINY_UNET, tinyTrainConfig } from "./helpers.ts";

await initBackend("wasm", { log: null });

Deno.test("meanImage is the per-value mean, mirror-symmetrised with flips; bad sizes throw", () => {
  const ds = fixtureDataset(5, 6, 9);
  const per = 6 * 6 * 3;
  const plain = meanImage(ds.images, 5, 6, 6, false);
  const flipped = meanImage(ds.images, 5, 6, 6, true);
  for (const k of [0, 17, 50, per - 1]) {
    let sum = 0;
    for (let i = 0; i < 5; i++) sum += ds.images[i * per + k];
    assert.ok(Math.abs(plain[k] - sum / 5) < 1e-6, `value ${k}`);
  }
  for (let y = 0; y < 6; y++) {
    for (let x = 0; x < 6; x++) {
      for (let c = 0; c < 3; c++) {
        const at = (xx: number) => (y * 6 + xx) * 3 + c;
        const want = (plain[at(x)] + plain[at(5 - x)]) / 2;
        assert.ok(Math.abs(flipped[at(x)] - want) < 1e-6, `(${y},${x},${c})`);
      }
    }
  }
  assert.throws(() => meanImage(ds.images, 4, 6, 6, false), { name: "RangeError", message: /n = 4/ });
});

Deno.test("priorStart moves standard normals to N(√ᾱ_t·mean, (1 − ᾱ_t)·I), the mean repeating per image", () => {
  const s = makeSchedule("linear", 500);
  const mean = Float32Array.of(-1, 0.5, 0.25);
  const eps = new Rng(1).normalArray(6);
  const x = priorStart(s, 490, mean, eps.slice());
  for (let k = 0; k < 6; k++) {
    const want = Math.sqrt(s.alphasCumprod[490]) * mean[k % 3] + Math.sqrt(1 - s.alphasCumprod[490]) * eps[k];
    assert.ok(Math.abs(x[k] - want) < 1e-6, `value ${k}`);
  }
  assert.throws(() => priorStart(s, 490, mean, new Float32Array(4)), {
    name: "RangeError",
    message: /3 values/,
  });
  assert.throws(() => priorStart(s, 500, mean, new Float32Array(3)), RangeError);
});

Deno.test("sampling starts at the data mean's forward marginal (DDIM and DDPM), else at N(0, I)", async () => {
  const model = new DiffusionModel(TINY_UNET, 0, 8);
  const s = makeSchedule("linear", 40);
  const per = 8 * 8 * 3;
  const mean = new Rng(2).normalArray(per).map((v) => Math.tanh(v));
  for (const [sampler, t0] of [["ddim", ddimTimesteps(40, 4)[0]], ["ddpm", 39]] as const) {
    const run = (dataMean?: Float32Array) =>
      sampleImages(model, s, { n: 2, sampler, steps: 4, seed: 5, frameEvery: 1000, dataMean });
    const eps = new Rng(5).normalArray(2 * per);
    const [withMean, without] = [await run(mean), await run()];
    const clip = (v: number) => Math.max(-1, Math.min(1, v));
    for (let k = 0; k < 2 * per; k++) {
      const want = Math.sqrt(s.alphasCumprod[t0]) * mean[k % per] +
        Math.sqrt(1 - s.alphasCumprod[t0]) * eps[k];
      assert.ok(Math.abs(withMean.frames[0][k] - clip(want)) < 1e-5, `${sampler} value ${k}`);
      assert.ok(Math.abs(without.frames[0][k] - clip(eps[k])) < 1e-6, `${sampler} value ${k} without`);
    }
  }
  await assert.rejects(
    () => sampleImages(model, s, { n: 1, steps: 2, dataMean: new Float32Array(10) }),
    { name: "RangeError", message: /dataMean has 10 values; the model makes 8×8×3 = 192/ },
  );
  model.dispose();
});

Deno.test("training checkpoints carry data/mean; a sampling checkpoint keeps it; a wrong shape is refused", async () => {
  const dataset = fixtureDataset(3, 8);
  const trainer = new Trainer(tinyTrainConfig(TINY_UNET), dataset);
  const ckpt = await trainer.toCheckpoint(null);
  trainer.dispose();
  const stored = ckpt.tensors.get(DATA_MEAN_TENSOR)!;
  assert.deepEqual(stored.shape, [8, 8, 3]);
  assert.deepEqual(stored.data, meanImage(dataset.images, 3, 8, 8, true));
  const dir = await Deno.makeTempDir();
  try {
    await saveCheckpoint(`${dir}/c.safetensors`, ckpt);
    const loaded = modelFromCheckpoint(await loadCheckpoint(`${dir}/c.safetensors`));
    assert.deepEqual(loaded.dataMean, stored.data);
    loaded.model.dispose();
    const { samplingCheckpoint } = await import("../src/checkpoint/format.ts");
    assert.ok(samplingCheckpoint(ckpt).tensors.has(DATA_MEAN_TENSOR));
    const bad = { ...ckpt, tensors: new Map(ckpt.tensors) };
    bad.tensors.set(DATA_MEAN_TENSOR, { shape: [4, 4, 3], data: new Float32Array(48) });
    assert.throws(() => modelFromCheckpoint(bad), (e: Error) => {
      assert.ok(e instanceof CheckpointError);
      assert.match(e.message, /"data\/mean" has shape \[4,4,3\], the model needs \[8,8,3\]/);
      return true;
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("EmojiDiffusion.sample starts at the checkpoint's data mean unless told dataMean: undefined", async () => {
  const trainer = new Trainer(tinyTrainConfig(TINY_UNET), fixtureDataset(3, 8));
  const ckpt = await trainer.toCheckpoint(null);
  const reference = await sampleImages(trainer.model, trainer.schedule, {
    n: 1,
    steps: 2,
    seed: 3,
    dataMean: trainer.dataMean,
  }, trainer.model.params);
  trainer.dispose();
  const model = await EmojiDiffusion.load(ckpt, false);
  assert.deepEqual(model.dataMean, ckpt.tensors.get(DATA_MEAN_TENSOR)!.data);
  const a = await model.sample({ n: 1, steps: 2, seed: 3 });
  const b = await model.sample({ n: 1, steps: 2, seed: 3, dataMean: undefined });
  assert.deepEqual(a.images, reference.images);
  assert.notDeepEqual(a.images, b.images);
  model.dispose();
});

Deno.test("export --data adds the training set's mean; other data or --prior data-mean without one is a one-line error", async () => {
  const dir = await Deno.makeTempDir();
  const { ensureDataset } = await import("../src/dataset/mod.ts");
  try {
    const sets = [
      await folderSet(dir, 3, { name: "set0" }),
      await folderSet(dir, 3, { name: "set1", shift: 1 }),
    ];
    const dataset = await ensureDataset(sets[0]);
    const trainer = new Trainer(tinyTrainConfig(TINY_UNET, { T: 10, data: sets[0] }), dataset);
    const ckpt = await trainer.toCheckpoint(dataset.manifest!.atlas.sha256);
    trainer.dispose();
    ckpt.tensors.delete(DATA_MEAN_TENSOR); // as in checkpoints written before training stored it
    const old = `${dir}/old.safetensors`, out = `${dir}/out.safetensors`;
    await saveCheckpoint(old, ckpt);

    const exported = await runTask("export.ts", ["--checkpoint", old, "--out", out, "--data", sets[0]], {
      writable: dir,
      sys: false,
    });
    assert.equal(exported.code, 0, exported.stderr);
    const mean = (await loadCheckpoint(out)).tensors.get(DATA_MEAN_TENSOR);
    assert.deepEqual(mean?.data, meanImage(dataset.images, 3, 8, 8, true));

    const cases: [string, string[], RegExp][] = [
      [
        "export.ts",
        ["--checkpoint", old, "--out", `${dir}/x.safetensors`, "--data", sets[1]],
        /is not the set the checkpoint was trained on/,
      ],
      [
        "sample.ts",
        ["--checkpoint", old, "--prior", "data-mean", "--steps", "2", "--out", `${dir}/s`],
        /has no data mean \(data\/mean\); add it with "deno task export --data DIR"/,
      ],
      [
        "sample.ts",
        ["--checkpoint", out, "--prior", "zero", "--steps", "2", "--out", `${dir}/s`],
        /--prior "zero" is unknown: choose one of data-mean, standard/,
      ],
    ];
    for (const [task, args, re] of cases) {
      const { code, stderr } = await runTask(task, args, { writable: dir });
      assert.equal(code, 2, `${task} ${args.join(" ")} → exit ${code}: ${stderr}`);
      const lines = ownLines(stderr);
      assert.equal(lines.length, 1, stderr);
      assert.match(lines[0], re);
    }
    assert.equal(
      await Deno.stat(`${dir}/x.safetensors`).then(() => true, () => false),
      false,
      "nothing written",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
