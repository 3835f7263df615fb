// The run's configuration policy (`runConfig`): what a resumed or fine-tuned run trains.
import assert from "node:assert/strict";
import type { Checkpoint, CheckpointMeta } from "../src/checkpoint/format.ts";
import { DEFAULT_TRAIN_CONFIG, runConfig } from "../src/train/run.ts";
import type { TrainConfig } from "../src/train/trainer.ts";
import { TINY_SEED, TINY_UNET } from "./helpers.ts";

function checkpoint(train: TrainConfig, step = 40): Checkpoint {
  const meta: CheckpointMeta = {
    model: train.model,
    imageSize: 32,
    schedule: { kind: train.schedule, T: train.T },
    step,
    seed: train.seed,
    dataHash: "abc",
    train: { ...train },
  };
  return { meta, tensors: new Map() };
}

const saved: TrainConfig = {
  ...DEFAULT_TRAIN_CONFIG,
  model: TINY_UNET,
  batch: 16,
  lr: 1e-3,
  cooldown: 50,
  dropout: 0.1,
};
const asked: TrainConfig = { ...DEFAULT_TRAIN_CONFIG, model: TINY_SEED, batch: 64, lr: 5e-3, steps: 900 };

Deno.test("runConfig: a new run trains what was asked", () => {
  assert.deepEqual(runConfig(asked), asked);
});

Deno.test("runConfig: a resume trains the checkpoint's model and settings, with the new length", () => {
  const c = runConfig(asked, { resume: checkpoint(saved) });
  assert.deepEqual(c.model, TINY_UNET);
  assert.equal(c.batch, 16);
  assert.equal(c.lr, 1e-3);
  assert.equal(c.steps, 900);
});

Deno.test("runConfig: a resume keeps the checkpoint's cooldown and dropout unless given", () => {
  const kept = runConfig({ ...asked, cooldown: undefined, dropout: undefined }, {
    resume: checkpoint(saved),
  });
  assert.equal(kept.cooldown, 50);
  assert.equal(kept.dropout, 0.1);
  const given = runConfig({ ...asked, cooldown: 200, dropout: 0 }, { resume: checkpoint(saved) });
  assert.equal(given.cooldown, 200);
  assert.equal(given.dropout, 0);
});

Deno.test("runConfig: a fine-tuned run trains the checkpoint's model with the asked settings and records its source", () => {
  const c = runConfig(asked, {
    init: { path: "runs/a/ckpt-000040.safetensors", checkpoint: checkpoint(saved) },
  });
  assert.deepEqual(c.model, TINY_UNET);
  assert.equal(c.batch, 64);
  assert.deepEqual(c.init, { checkpoint: "runs/a/ckpt-000040.safetensors", step: 40, dataHash: "abc" });
});
