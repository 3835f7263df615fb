/**
 * The fused optimizer (Adam + clipping + warm-up/cooldown + EMA over flat buffers) against a plain
 * reference written out here, on wasm (one kernel) and cpu (whole-buffer ops); old checkpoints; the
 * loss guard.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../src/backend/select.ts";
import { Adam } from "../src/train/adam.ts";
import { Ema } from "../src/train/ema.ts";
import { NonFiniteLossError, Trainer } from "../src/train/trainer.ts";
import { loadCheckpoint } from "../src/checkpoint/format.ts";
import { trainRun } from "../src/train/run.ts";
import { measureCost } from "../tools/perf/step_cost.ts";
import { FUSED_ADAM_KERNEL } from "../src/backend/wasm/fused_adam.ts";
import { fixtureDataset, testOnBackends, TINY_SEED, TINY_UNET, tinyTrainConfig } from "./helpers.ts";
import {
  CLIP_CASES,
  fusedMatchesReference,
  nonFiniteLossChangesNothing,
  SHAPES,
} from "./cases/fused_adam.ts";

await initBackend("wasm", { log: null });

for (const [label, clip, gradScale] of CLIP_CASES) {
  testOnBackends(
    `fused update = reference Adam after 5 steps, ${label}, warm-up and cooldown, EMA`,
    ["wasm", "cpu"],
    (backend) => fusedMatchesReference(backend, clip, gradScale),
  );
}

Deno.test("the whole optimizer step is one kernel on wasm, whatever the parameter count", async () => {
  const params = new Map(SHAPES.map(([n, s]) => [n, tf.variable(tf.zeros(s))]));
  const adam = new Adam(params, { lr: 0.01, warmup: 0, gradClip: 1 });
  const ema = new Ema(params, 0.9);
  const grads = Object.fromEntries(SHAPES.map(([n, s]) => [n, tf.ones(s)]));
  const { result, cost } = await measureCost(() => Promise.resolve(adam.apply(grads, { ema })));
  assert.deepEqual(cost.byKind, [[FUSED_ADAM_KERNEL, 1]]);
  assert.equal(cost.syncs, 0);
  tf.dispose([result, ...Object.values(grads), ...params.values()]);
  adam.dispose();
  ema.dispose();
});

testOnBackends(
  "a non-finite loss leaves weights, moments, EMA and step unchanged",
  ["wasm", "cpu"],
  nonFiniteLossChangesNothing,
);

Deno.test("a training step reads back once; a NaN batch throws and keeps every tensor and the step", async () => {
  const trainer = new Trainer(tinyTrainConfig(TINY_SEED), fixtureDataset(4, 8));
  await trainer.trainStep();
  const { cost } = await measureCost(() => trainer.trainStep());
  assert.equal(cost.syncs, 1);
  const before = await trainer.toCheckpoint(null);
  const size = trainer.config.batch * 8 * 8 * 3;
  trainer.sampler.nextBatchArray = () => new Float32Array(size).fill(NaN);
  await assert.rejects(() => trainer.trainStep(), NonFiniteLossError);
  const after = await trainer.toCheckpoint(null);
  assert.equal(after.meta.step, before.meta.step);
  for (const [name, t] of before.tensors) {
    if (name.startsWith("rng")) continue;
    assert.deepEqual(Array.from(after.tensors.get(name)!.data), Array.from(t.data), name);
  }
  trainer.dispose();
});

for (const [tag, model] of [["unet", TINY_UNET], ["seed", TINY_SEED]] as const) {
  Deno.test(`a ${tag} checkpoint written by the optimizer before the fused update resumes with the same losses`, async () => {
    const ckpt = await loadCheckpoint(
      new URL(`./fixtures/pre-fused-adam-${tag}.safetensors`, import.meta.url).pathname,
    );
    const want = JSON.parse(
      await Deno.readTextFile(new URL("./fixtures/pre-fused-adam.json", import.meta.url)),
    )[tag] as { step: number; loss: number; gradNorm: number; lr: number }[];
    const trainer = new Trainer(
      tinyTrainConfig(model, { warmup: 2, cooldown: 3, steps: 6 }),
      fixtureDataset(4, 8),
    );
    trainer.restore(ckpt);
    for (const w of want) {
      const got = await trainer.trainStep();
      assert.equal(got.step, w.step);
      assert.equal(got.lr, w.lr);
      // the first loss depends on the restored weights only, the second on the fused update too
      assert.ok(Math.abs(got.loss - w.loss) <= 1e-6 * Math.max(1, w.loss), `loss ${got.loss} vs ${w.loss}`);
      assert.ok(
        Math.abs(got.gradNorm - w.gradNorm) <= 1e-5 * w.gradNorm,
        `norm ${got.gradNorm} vs ${w.gradNorm}`,
      );
    }
    trainer.dispose();
  });
}

Deno.test("live tensors stay flat over training steps with checkpoints and EMA views in between", async () => {
  const trainer = new Trainer(tinyTrainConfig(TINY_UNET), fixtureDataset(4, 8));
  await trainer.trainStep();
  const counts: number[] = [];
  for (let i = 0; i < 4; i++) {
    for (let j = 0; j < 3; j++) await trainer.trainStep();
    await trainer.toCheckpoint(null);
    void trainer.ema.shadow.size; // materialise the per-name views, as the sample grid does
    void trainer.adam.m.size;
    await trainer.trainStep(); // drops them again
    counts.push(tf.memory().numTensors);
  }
  assert.deepEqual(counts, counts.map(() => counts[0]));
  trainer.dispose();
});

Deno.test("a NaN loss mid-run stops it, names the last good checkpoint, and leaves only good weights on disk", async () => {
  const dir = await Deno.makeTempDir();
  const config = tinyTrainConfig(TINY_UNET, { data: "data/apple-faces-32", batch: 2, steps: 6, lr: 1e-3 });
  // fault injection: from update 4 on, every batch is NaN
  const original = Trainer.prototype.trainStep;
  Trainer.prototype.trainStep = function (this: Trainer) {
    if (this.step === 3) this.sampler.nextBatchArray = () => new Float32Array(2 * 32 * 32 * 3).fill(NaN);
    return original.call(this);
  };
  try {
    await assert.rejects(
      () => trainRun(config, { out: dir, every: 2, gridImages: 0, log: null }),
      (e: unknown) =>
        e instanceof NonFiniteLossError && /step 4/.test(e.message) &&
        /last good checkpoint is/.test(e.message),
    );
  } finally {
    Trainer.prototype.trainStep = original;
  }
  const latest = `${dir}/latest.safetensors`;
  const ckpt = await loadCheckpoint(latest);
  assert.equal(ckpt.meta.step, 2, "the last checkpoint is the one before the bad step");
  for (const [name, t] of ckpt.tensors) assert.ok(t.data.every(Number.isFinite), `${name} is finite`);
  const names = [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n.endsWith(".safetensors"));
  assert.ok(!names.some((n) => /00000[3-9]/.test(n)), `no checkpoint after step 2: ${names}`);
  await Deno.remove(dir, { recursive: true });
});
