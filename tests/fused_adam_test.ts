/**
 * The fused optimizer (Adam + clipping + warm-up/cooldown + EMA over flat buffers) against a plain
 * reference written out here, on wasm (one kernel) and cpu (whole-buffer ops); old checkpoints; the
 * loss guard.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend, probeGpuAdapter } from "../src/backend.ts";
import { Adam } from "../src/train/adam.ts";
import { Ema, emaDecayAt } from "../src/train/ema.ts";
import { NonFiniteLossError, Trainer } from "../src/train/trainer.ts";
import { loadCheckpoint } from "../src/checkpoint.ts";
import { trainRun } from "../src/train/run.ts";
import { measureCost } from "../src/step_cost.ts";
import { Rng } from "../src/rng.ts";
import { FUSED_ADAM_KERNEL } from "../src/wasm_kernels/fused_adam.ts";
import { fixtureDataset, TINY_SEED, TINY_UNET, tinyTrainConfig } from "./helpers.ts";

await initBackend("wasm", { log: null });
const gpu = await probeGpuAdapter();
/** The backends the fused update is checked on: its wasm kernel, and the whole-buffer ops elsewhere. */
const BACKENDS = ["wasm", "cpu", ...(gpu.adapter ? ["webgpu"] : [])] as ("wasm" | "cpu" | "webgpu")[];

const SHAPES: [string, number[]][] = [["a", [3, 4]], ["b", [5]], ["c", [2, 2, 2, 3]], ["d", [1]]];

interface RefOptions {
  lr: number;
  warmup: number;
  cooldown: number;
  totalSteps: number;
  clip: number;
  emaDecay: number;
}

/** Plain Adam, written out in float64: clipping by the global norm, warm-up, cooldown, EMA. */
function referenceAdam(p0: number[][], grads: number[][][], o: RefOptions) {
  const b1 = 0.9, b2 = 0.999, eps = 1e-8;
  const p = p0.map((x) => x.slice()), ema = p0.map((x) => x.slice());
  const m = p0.map((x) => x.map(() => 0)), v = p0.map((x) => x.map(() => 0));
  const norms: number[] = [];
  grads.forEach((g, s) => {
    const t = s + 1;
    const up = o.warmup > 0 ? Math.min(1, t / o.warmup) : 1;
    const down = o.cooldown > 0 ? Math.min(1, Math.max(0, (o.totalSteps - t + 1) / o.cooldown)) : 1;
    const lr = o.lr * Math.min(up, down);
    const norm = Math.sqrt(g.flat().reduce((a, x) => a + x * x, 0));
    norms.push(norm);
    const scale = o.clip > 0 ? o.clip / Math.max(norm, o.clip) : 1;
    const d = emaDecayAt(o.emaDecay, t);
    for (let i = 0; i < p.length; i++) {
      for (let j = 0; j < p[i].length; j++) {
        const gj = g[i][j] * scale;
        m[i][j] = b1 * m[i][j] + (1 - b1) * gj;
        v[i][j] = b2 * v[i][j] + (1 - b2) * gj * gj;
        const mh = m[i][j] / (1 - b1 ** t), vh = v[i][j] / (1 - b2 ** t);
        p[i][j] -= lr * mh / (Math.sqrt(vh) + eps);
        ema[i][j] = d * ema[i][j] + (1 - d) * p[i][j];
      }
    }
  });
  return { p, m, v, ema, norms };
}

async function fusedRun(
  backend: "wasm" | "cpu" | "webgpu",
  p0: number[][],
  grads: number[][][],
  o: RefOptions,
) {
  await initBackend(backend, { log: null });
  const params = new Map(SHAPES.map(([n, s], i) => [n, tf.variable(tf.tensor(p0[i], s))]));
  const adam = new Adam(params, {
    lr: o.lr,
    warmup: o.warmup,
    cooldown: o.cooldown,
    totalSteps: o.totalSteps,
    gradClip: o.clip,
  });
  const ema = new Ema(params, o.emaDecay);
  const norms: number[] = [];
  for (const g of grads) {
    const gt = Object.fromEntries(SHAPES.map(([n, s], i) => [n, tf.tensor(g[i], s)]));
    const status = adam.apply(gt, { ema });
    const [norm, applied] = await status.data();
    assert.equal(applied, 1);
    norms.push(norm);
    tf.dispose([status, ...Object.values(gt)]);
  }
  const read = async (map: Map<string, tf.Variable>) =>
    await Promise.all(SHAPES.map(async ([n]) => Array.from(await map.get(n)!.data())));
  const out = {
    p: await read(params),
    m: await read(adam.m),
    v: await read(adam.v),
    ema: await read(ema.shadow),
    norms,
  };
  adam.dispose();
  ema.dispose();
  tf.dispose([...params.values()]);
  await initBackend("wasm", { log: null });
  return out;
}

function problem(seed: number, gradScale: number) {
  const rng = new Rng(seed);
  const p0 = SHAPES.map(([, s]) => Array.from(rng.normalArray(s.reduce((a, b) => a * b, 1))));
  const grads = Array.from(
    { length: 5 },
    () => p0.map((x) => Array.from(rng.normalArray(x.length), (g) => g * gradScale)),
  );
  return { p0, grads };
}

function assertClose(got: number[][], want: number[][], tol: number, what: string) {
  let worst = 0;
  got.forEach((row, i) => row.forEach((x, j) => worst = Math.max(worst, Math.abs(x - want[i][j]))));
  assert.ok(worst <= tol, `${what}: max |diff| ${worst} > ${tol}`);
}

for (const backend of BACKENDS) {
  for (
    const [label, clip, gradScale] of [
      ["clipping active", 1, 1],
      ["clipping inactive", 100, 0.1],
      ["clipping off", 0, 1],
    ] as const
  ) {
    Deno.test(`fused update on ${backend} = reference Adam after 5 steps, ${label}, warm-up and cooldown, EMA`, async () => {
      const o = { lr: 0.01, warmup: 2, cooldown: 3, totalSteps: 5, clip, emaDecay: 0.9 };
      const { p0, grads } = problem(11, gradScale);
      const want = referenceAdam(p0, grads, o);
      if (clip === 1) assert.ok(want.norms.every((n) => n > 1), "the clip is active on every step");
      if (clip === 100) assert.ok(want.norms.every((n) => n < 100), "the clip is inactive");
      const got = await fusedRun(backend, p0, grads, o);
      assertClose(got.p, want.p, 1e-6, "weights");
      assertClose(got.m, want.m, 1e-6, "first moments");
      assertClose(got.v, want.v, 1e-6, "second moments");
      assertClose(got.ema, want.ema, 1e-6, "EMA");
      assertClose([got.norms], [want.norms], 1e-5 * Math.max(...want.norms), "gradient norms");
    });
  }
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

Deno.test(`a non-finite loss leaves weights, moments, EMA and step unchanged (${BACKENDS})`, async () => {
  for (const backend of BACKENDS) {
    await initBackend(backend, { log: null });
    const params = new Map(SHAPES.map(([n, s]) => [n, tf.variable(tf.randomNormal(s, 0, 1, "float32", 1))]));
    const adam = new Adam(params, { lr: 0.01, warmup: 0, gradClip: 1 });
    const ema = new Ema(params, 0.9);
    const grads = Object.fromEntries(SHAPES.map(([n, s]) => [n, tf.randomNormal(s, 0, 1, "float32", 2)]));
    tf.dispose(adam.apply(grads, { ema })); // one good update first, so that nothing is at its initial value
    const snap = async () => [
      ...await Promise.all([...params.values()].map(async (p) => Array.from(await p.data()))),
      Array.from(await adam.flatM.data()),
      Array.from(await adam.flatV.data()),
      Array.from(await ema.flat.data()),
    ];
    const before = await snap();
    const loss = tf.scalar(NaN);
    const status = adam.apply(grads, { ema, loss });
    const [, applied, lossBack] = await status.data();
    assert.equal(applied, 0, backend);
    assert.ok(Number.isNaN(lossBack));
    adam.rejectLast();
    assert.equal(adam.step, 1);
    assert.deepEqual(await snap(), before, `${backend}: nothing changed`);
    tf.dispose([loss, status, ...Object.values(grads), ...params.values()]);
    adam.dispose();
    ema.dispose();
  }
  await initBackend("wasm", { log: null });
});

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
