// The ε-parameterised models and p = 0 training are bit-identical to the code before augmentation
// and EDM preconditioning existed: digests recorded on main at 57accd6 (wasm, one thread) with the
// same calls. A digest is the first 16 hex digits of the SHA-256 of the Float32 bytes.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { createHash } from "node:crypto";
import { initBackend } from "../src/backend/select.ts";
import { loadCheckpoint } from "../src/checkpoint/format.ts";
import { EmojiDataset } from "../src/dataset/mod.ts";
import type { DatasetManifest } from "../src/dataset/manifest.ts";
import type { ModelConfig } from "../src/model/model.ts";
import { modelFromCheckpoint } from "../src/model/from_checkpoint.ts";
import { editImages } from "../src/sample/edit.ts";
import { denoiserForLabels } from "../src/sample/guidance.ts";
import { sampleImages } from "../src/sample/sample.ts";
import { type TrainConfig, Trainer } from "../src/train/trainer.ts";
import { fixtureDataset, TINY_SEED, TINY_UNET, tinyTrainConfig } from "./helpers.ts";

await initBackend("wasm", { log: null, wasmThreads: 1 });

const digest = (a: Float32Array) =>
  createHash("sha256").update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength)).digest("hex").slice(
    0,
    16,
  );

/** Three training steps on main at 57accd6: losses, then digests of the weights, the EMA and the data mean. */
const RECORDED_TRAIN = {
  unet: {
    losses: [0.9386386871337891, 1.0058809518814087, 0.9979352355003357],
    params: "3b444abab6fedc4a",
    ema: "52f908dbc4c1028a",
    mean: "40ccecd1a35474f5",
  },
  // recorded again on main after the seed preset's training BatchNorm became the fused GroupNorm op
  seed: {
    losses: [1.4881757497787476, 1.4110441207885742, 1.3368611335754395],
    params: "4a6ffd5233a2423f",
    ema: "9e0165755007db62",
    mean: "40ccecd1a35474f5",
  },
  "unet-cond": {
    losses: [0.9386386871337891, 1.0057001113891602, 0.9989870190620422],
    params: "b88832a9f85146d0",
    ema: "8446301e4b70933a",
    mean: "6106e5e7c97ae666",
  },
};

/** Samples of the shipped checkpoints on main at 57accd6. */
const RECORDED_SAMPLES = {
  "faces ddim": "e998445ff0442d86",
  "faces ddim eta 1": "57ed4306899460d7",
  "faces dpm++2m": "4cfb2181720380ff",
  "apple-faces ddim": "716f7bbaf1be7700",
  "faces variations": "9ce7c40ec3ecc187",
};

function labelled(count = 6): EmojiDataset {
  const base = fixtureDataset(count, 8);
  const images = Array.from({ length: count }, (_, i) => ({
    index: i,
    vendor: ["a", "b", "c"][i % 3],
    name: `FACE ${i}`,
    shortName: `f${i}`,
    unified: null,
    category: "Smileys & Emotion",
    subcategory: ["s", "t"][i % 2],
    file: `${i}.png`,
  }));
  const manifest = { images, atlas: { sha256: "x" } } as unknown as DatasetManifest;
  return new EmojiDataset(base.images, count, 8, manifest);
}

async function threeSteps(config: TrainConfig, ds: EmojiDataset) {
  const tr = new Trainer(config, ds);
  const losses = [];
  for (let i = 0; i < 3; i++) losses.push((await tr.trainStep()).loss);
  const flat = tf.concat([...tr.model.params.values()].map((v) => v.flatten()));
  const params = digest(await flat.data() as Float32Array);
  flat.dispose();
  const out = {
    losses,
    params,
    ema: digest(await tr.ema.flat.data() as Float32Array),
    mean: digest(tr.dataMean),
  };
  tr.dispose();
  return out;
}

Deno.test("bit-identity: training with augment absent or 0 and the eps parameterisation gives main's losses and weights", async () => {
  const cases: [keyof typeof RECORDED_TRAIN, ModelConfig, boolean][] = [
    ["unet", TINY_UNET, false],
    ["seed", TINY_SEED, false],
    ["unet-cond", TINY_UNET, true],
  ];
  for (const [name, model, cond] of cases) {
    const variants: [string, Partial<TrainConfig>, ModelConfig][] = [
      ["as before", {}, model],
      ["augment 0", { augment: 0 }, model],
      ...(model.preset === "unet"
        ? [["parameterization eps", {}, { ...model, parameterization: "eps" } as ModelConfig]] as [
          string,
          Partial<TrainConfig>,
          ModelConfig,
        ][]
        : []),
    ];
    for (const [what, extra, m] of variants) {
      const config = tinyTrainConfig(m, {
        steps: 3,
        ...(cond ? { condition: ["vendor", "subcategory"] } : {}),
        ...extra,
      });
      const got = await threeSteps(config, cond ? labelled() : fixtureDataset(4, 8));
      assert.deepEqual(got, RECORDED_TRAIN[name], `${name}, ${what}`);
    }
  }
});

Deno.test("bit-identity: the shipped discrete-schedule checkpoints load and sample exactly as on main", async () => {
  const faces = modelFromCheckpoint(await loadCheckpoint("data/models/faces/unet.safetensors"));
  const base = {
    n: 2,
    steps: 4,
    seed: 11,
    dataMean: faces.dataMean,
    labels: { vendor: "apple" },
    guidance: 2,
  };
  const got: Record<string, string> = {};
  for (
    const [k, o] of [["faces ddim", {}], ["faces ddim eta 1", { eta: 1 }], ["faces dpm++2m", {
      sampler: "dpm++2m",
    }]] as const
  ) {
    got[k] = digest((await sampleImages(faces.model, faces.schedule, { ...base, ...o })).images);
  }
  const apple = modelFromCheckpoint(await loadCheckpoint("data/models/apple-faces-unet.safetensors"));
  got["apple-faces ddim"] = digest(
    (await sampleImages(apple.model, apple.schedule, { n: 2, steps: 4, seed: 11, dataMean: apple.dataMean }))
      .images,
  );
  const start = await sampleImages(faces.model, faces.schedule, { ...base, n: 1 });
  const den = denoiserForLabels(faces.model, { vendor: "apple" }, 2, undefined, faces.schedule);
  got["faces variations"] = digest(
    (await editImages(den, faces.schedule, start.images, { strength: 0.5, n: 2, steps: 4, seed: 5 })).images,
  );
  assert.deepEqual(got, RECORDED_SAMPLES);
  faces.model.dispose();
  apple.model.dispose();
});
