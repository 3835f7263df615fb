import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../src/backend/select.ts";
import { Trainer } from "../src/train/trainer.ts";
import { Ema, emaDecayAt } from "../src/train/ema.ts";
import { Adam } from "../src/train/adam.ts";
import { trainRun } from "../src/train/run.ts";
import { CheckpointError, loadCheckpoint, samplingCheckpoint } from "../src/checkpoint/format.ts";
import { UsageError } from "../src/errors.ts";
import { fixtureDataset, TINY_SEED, TINY_UNET, tinyTrainConfig } from "./helpers.ts";

await initBackend("wasm", { log: null });

Deno.test("the loss falls clearly when overfitting a handful of images (wasm)", async () => {
  for (const model of [TINY_UNET, TINY_SEED]) {
    const trainer = new Trainer(tinyTrainConfig(model, { steps: 60, lr: 5e-3, T: 50 }), fixtureDataset(4, 8));
    const losses: number[] = [];
    for (let i = 0; i < 60; i++) losses.push((await trainer.trainStep()).loss);
    const mean = (a: number[]) => a.reduce((s, x) => s + x, 0) / a.length;
    const first = mean(losses.slice(0, 10)), last = mean(losses.slice(-10));
    assert.ok(last < 0.6 * first, `${model.preset}: loss ${first.toFixed(3)} → ${last.toFixed(3)}`);
    trainer.dispose();
  }
});

Deno.test("no tensor leaks: numTensors stays flat across training steps (dropout masks included)", async () => {
  for (const config of [tinyTrainConfig(TINY_SEED), tinyTrainConfig(TINY_UNET, { dropout: 0.2 })]) {
    const trainer = new Trainer(config, fixtureDataset(4, 8));
    await trainer.trainStep();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) await trainer.trainStep();
    assert.equal(tf.memory().numTensors, before, config.model.preset);
    trainer.dispose();
  }
});

Deno.test("creating and disposing a trainer (model, Adam, EMA) leaves no tensor behind", () => {
  const before = tf.memory().numTensors;
  new Trainer(tinyTrainConfig(TINY_UNET), fixtureDataset(2, 8)).dispose();
  assert.equal(tf.memory().numTensors, before);
});

Deno.test("EMA update against a hand-computed example", async () => {
  const p = tf.variable(tf.tensor1d([1, 2]));
  const ema = new Ema(new Map([["p", p]]), 0.5);
  p.assign(tf.tensor1d([3, 6]));
  ema.update(100); // decay min(0.5, 101/110) = 0.5 → 0.5·[1,2] + 0.5·[3,6]
  assert.deepEqual([...await ema.shadow.get("p")!.data()], [2, 4]);
  p.assign(tf.tensor1d([0, 0]));
  ema.update(1); // decay min(0.5, 2/11) = 2/11
  const d = 2 / 11;
  const got = await ema.shadow.get("p")!.data();
  assert.ok(Math.abs(got[0] - 2 * d) < 1e-6 && Math.abs(got[1] - 4 * d) < 1e-6);
  assert.equal(emaDecayAt(0.999, 10_000), 0.999);
  ema.dispose();
  p.dispose();
});

Deno.test("Adam's first step moves each weight by lr·sign(g), clipping scales the gradient", async () => {
  const p = tf.variable(tf.tensor1d([1, -1, 0.5]));
  const adam = new Adam(new Map([["p", p]]), { lr: 0.1, warmup: 0, gradClip: 1 });
  const norm = adam.apply({ p: tf.tensor1d([3, -4, 0]) }); // norm 5 → clipped to [0.6, -0.8, 0]
  assert.equal((await norm.data())[0], 5);
  const got = await p.data();
  // first Adam step: m̂ = g, v̂ = g², update = lr·g/(|g| + ε) = ±lr (0 stays 0)
  assert.ok(Math.abs(got[0] - 0.9) < 1e-6 && Math.abs(got[1] + 0.9) < 1e-6 && got[2] === 0.5, `${got}`);
  assert.ok(Math.abs((await adam.m.get("p")!.data())[0] - 0.1 * 0.6) < 1e-7, "m holds the clipped gradient");
  adam.dispose();
  tf.dispose([p, norm]);
});

Deno.test("warm-up ramps the learning rate linearly", () => {
  const adam = new Adam(new Map(), { lr: 1, warmup: 4, gradClip: 0 });
  assert.deepEqual([1, 2, 4, 8].map((s) => adam.learningRate(s)), [0.25, 0.5, 1, 1]);
});

Deno.test("a cooldown decays the learning rate linearly over the last updates, never to 0", () => {
  const adam = new Adam(new Map(), { lr: 1, warmup: 2, gradClip: 0, cooldown: 4, totalSteps: 10 });
  // constant until update 6, then 4 updates at 4/4, 3/4, 2/4, 1/4 of the peak
  assert.deepEqual(
    [1, 2, 6, 7, 8, 9, 10, 11].map((s) => adam.learningRate(s)),
    [0.5, 1, 1, 1, 0.75, 0.5, 0.25, 0],
  );
  // a cooldown longer than the warm-up's end: the smaller factor wins
  const short = new Adam(new Map(), { lr: 1, warmup: 4, gradClip: 0, cooldown: 4, totalSteps: 4 });
  assert.deepEqual([1, 2, 3, 4].map((s) => short.learningRate(s)), [0.25, 0.5, 0.5, 0.25]);
});

Deno.test("a resumed run takes a new --steps, --cooldown and --dropout and keeps them when not given again", async () => {
  const dir = await Deno.makeTempDir();
  const config = tinyTrainConfig(TINY_UNET, { data: "data/apple-faces-32", batch: 2, steps: 2, lr: 1e-3 });
  const lrs = async (c: typeof config, resume?: string) => {
    const got: number[] = [];
    const r = await trainRun(c, {
      out: dir,
      every: 100,
      gridImages: 0,
      log: null,
      resume,
      onStep: (s) => got.push(s.lr),
    });
    return { got, checkpoint: r.checkpoint };
  };
  const first = await lrs(config);
  assert.deepEqual(first.got, [1e-3, 1e-3]);
  // the checkpoint's settings win (lr stays 1e-3), but the new length and cooldown apply
  const dropout = async () => JSON.parse(await Deno.readTextFile(`${dir}/config.json`)).dropout;
  const second = await lrs({ ...config, lr: 0.5, steps: 4, cooldown: 2, dropout: 0.2 }, first.checkpoint);
  assert.deepEqual(second.got, [1e-3, 5e-4]);
  assert.equal(await dropout(), 0.2);
  const third = await lrs(
    { ...config, steps: 6, cooldown: undefined, dropout: undefined },
    second.checkpoint,
  );
  assert.deepEqual(third.got, [1e-3, 5e-4], "the saved cooldown of 2 moves to the new end");
  assert.equal(await dropout(), 0.2, "the saved dropout stays");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("resuming into a new --out folder carries the source run's loss history up to the checkpoint", async () => {
  const dir = await Deno.makeTempDir();
  const config = tinyTrainConfig(TINY_UNET, { data: "data/apple-faces-32", batch: 2, steps: 2, lr: 1e-3 });
  const opts = { every: 100, gridImages: 0, log: null };
  await trainRun(config, { ...opts, out: `${dir}/a` });
  const mid = `${dir}/a/ckpt-000002.safetensors`;
  await trainRun({ ...config, steps: 3 }, { ...opts, out: `${dir}/a`, resume: mid }); // the source run goes on to 3
  await trainRun({ ...config, steps: 4 }, { ...opts, out: `${dir}/b`, resume: mid });
  const rows = async (run: string) =>
    (await Deno.readTextFile(`${dir}/${run}/loss.csv`)).trim().split("\n").slice(1).map((l) => l.split(","));
  const [a, b] = [await rows("a"), await rows("b")];
  assert.deepEqual(b.map((r) => Number(r[0])), [1, 2, 3, 4], "steps 1–2 from the source, then its own 3–4");
  assert.deepEqual(b.slice(0, 2).map((r) => r.slice(0, 3)), a.slice(0, 2).map((r) => r.slice(0, 3)));
  assert.equal(a.length, 3, "the source run's step 3 is not the new run's");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("--init starts a new run from another run's weights and EMA, with a fresh optimizer at step 0", async () => {
  const dir = await Deno.makeTempDir();
  const config = tinyTrainConfig(TINY_UNET, { data: "data/apple-faces-32", batch: 2, steps: 3, lr: 1e-3 });
  const src = await trainRun(config, { out: `${dir}/a`, every: 100, gridImages: 0, log: null });
  const ckpt = await loadCheckpoint(src.checkpoint);
  const values = async (map: Map<string, tf.Variable>) =>
    new Map(await Promise.all([...map].map(async ([k, v]) => [k, Array.from(await v.data())] as const)));
  const stored = (prefix: string) => {
    const out = new Map<string, number[]>();
    for (const [k, t] of ckpt.tensors) {
      if (k.startsWith(prefix)) out.set(k.slice(prefix.length), Array.from(t.data));
    }
    return out;
  };

  const trainer = new Trainer(config, fixtureDataset(2, 32));
  trainer.initFrom(ckpt);
  assert.equal(trainer.step, 0);
  assert.deepEqual(await values(trainer.model.params), stored("params/"));
  assert.deepEqual(await values(trainer.ema.shadow), stored("ema/"));
  assert.ok(
    [...(await values(trainer.adam.m)).values()].every((m) => m.every((x) => x === 0)),
    "Adam moments fresh",
  );
  assert.notDeepEqual(
    stored("params/"),
    stored("ema/"),
    "the source's weights and EMA differ, so the check above means something",
  );
  // a sampling checkpoint (EMA only) starts both the weights and the EMA from the averaged weights
  trainer.initFrom(samplingCheckpoint(ckpt));
  assert.deepEqual(await values(trainer.model.params), stored("ema/"));
  trainer.dispose();
  const other = new Trainer(tinyTrainConfig(TINY_SEED), fixtureDataset(2, 32));
  assert.throws(() => other.initFrom(ckpt), CheckpointError);
  other.dispose();

  // the run takes the checkpoint's model (not the config's) and records where it started
  const run = await trainRun({ ...config, model: TINY_SEED, steps: 1 }, {
    out: `${dir}/b`,
    every: 100,
    gridImages: 0,
    log: null,
    init: src.checkpoint,
  });
  const meta = (await loadCheckpoint(run.checkpoint)).meta;
  assert.equal(meta.step, 1);
  assert.deepEqual(meta.model, TINY_UNET);
  assert.deepEqual(meta.train?.init, { checkpoint: src.checkpoint, step: 3, dataHash: ckpt.meta.dataHash });
  await assert.rejects(
    trainRun(config, {
      out: `${dir}/c`,
      every: 100,
      log: null,
      init: src.checkpoint,
      resume: src.checkpoint,
    }),
    UsageError,
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("one train step of each preset on wasm gives the cpu loss and update", async () => {
  for (const model of [TINY_UNET, TINY_SEED]) {
    const result: Record<string, { losses: number[]; w: Float32Array }> = {};
    for (const backend of ["cpu", "wasm"] as const) {
      await initBackend(backend, { log: null });
      const trainer = new Trainer(tinyTrainConfig(model, { batch: 2 }), fixtureDataset(2, 8));
      const losses = [(await trainer.trainStep()).loss, (await trainer.trainStep()).loss];
      const name = model.preset === "unet" ? "down0.res0.conv1.w" : "enc2.conv.w";
      result[backend] = { losses, w: await trainer.model.params.get(name)!.data() as Float32Array };
      trainer.dispose();
    }
    for (let i = 0; i < 2; i++) {
      const [a, b] = [result.cpu.losses[i], result.wasm.losses[i]];
      assert.ok(
        Math.abs(a - b) <= 1e-4 * Math.max(1, Math.abs(a)),
        `${model.preset} loss ${i + 1}: ${a} vs ${b}`,
      );
    }
    let maxErr = 0, maxAbs = 0;
    for (let i = 0; i < result.cpu.w.length; i++) {
      maxErr = Math.max(maxErr, Math.abs(result.cpu.w[i] - result.wasm.w[i]));
      maxAbs = Math.max(maxAbs, Math.abs(result.cpu.w[i]));
    }
    assert.ok(maxErr <= 1e-4 * maxAbs, `${model.preset} weights after 2 steps differ by ${maxErr}`);
  }
  await initBackend("wasm", { log: null });
});
