/**
 * Data-parallel training (`Trainer.startWorkers`, `--workers`): a batch split between this thread and
 * workers gives the whole batch's gradient and loss to within float rounding, on wasm and (where a BLAS
 * loads) native; a run with workers follows a run without, resumes exactly, and refuses what it cannot
 * split.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend, nativeAvailable } from "../src/backend/select.ts";
import { decodeCheckpoint, encodeCheckpoint, loadCheckpoint } from "../src/checkpoint/format.ts";
import { ForwardContext } from "../src/model/context.ts";
import { batchGradients, sliceBatch } from "../src/train/batch_loss.ts";
import { combineGradients } from "../src/train/data_parallel.ts";
import { Trainer } from "../src/train/trainer.ts";
import { DiffusionModel, type ModelConfig } from "../src/model/model.ts";
import { makeSchedule } from "../src/core/schedule.ts";
import { Rng } from "../src/core/rng.ts";
import { sampleImages, type SampleOptions } from "../src/sample/sample.ts";
import { NoiseWorkers } from "../src/sample/parallel_noise.ts";
import { editImages, morphImages } from "../src/sample/edit.ts";
import { conditionedDenoiser } from "../src/sample/guidance.ts";
import { decodeImage } from "../src/image/codec.ts";
import { DataParallelError, planParallel, splitSizes } from "../src/backend/parallel_plan.ts";
import { fixtureDataset, ownLines, runTask, TINY_SEED, TINY_UNET, tinyTrainConfig } from "./helpers.ts";

await initBackend("wasm", { log: null });

async function weights(t: Trainer): Promise<Float32Array> {
  const flat = t.adam.layout.flatten([...t.model.params.values()]);
  const w = await flat.data() as Float32Array;
  flat.dispose();
  return w;
}

function worstRelative(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let num = 0, den = 0;
  for (let i = 0; i < a.length; i++) {
    num = Math.max(num, Math.abs(a[i] - b[i]));
    den = Math.max(den, Math.abs(b[i]));
  }
  return num / den;
}

Deno.test("splitSizes covers the batch with parts that differ by at most one", () => {
  for (const [n, k] of [[16, 2], [15, 2], [16, 3], [5, 8], [1, 2]]) {
    const s = splitSizes(n, k);
    assert.equal(s.reduce((a, b) => a + b, 0), n);
    assert.ok(Math.max(...s) - Math.min(...s) <= 1);
    assert.ok(s.every((x) => x > 0));
    assert.equal(s.length, Math.min(n, k));
  }
});

Deno.test("the size-weighted mean of the parts' gradients is the whole batch's gradient", async () => {
  const trainer = new Trainer(
    tinyTrainConfig(TINY_UNET, { batch: 5, augment: 0.5, condition: undefined }),
    fixtureDataset(6, 8),
  );
  const b = trainer.drawBatch();
  const ctx = () => new ForwardContext(trainer.model.params, trainer.model.state, true);
  const whole = await batchGradients(trainer.model, trainer.schedule, ctx(), b);
  const sizes = [3, 2];
  const parts = [
    await batchGradients(trainer.model, trainer.schedule, ctx(), sliceBatch(b, 0, 3)),
    await batchGradients(trainer.model, trainer.schedule, ctx(), sliceBatch(b, 3, 5)),
  ];
  const joined = combineGradients(parts, sizes);
  assert.ok(
    worstRelative(joined.grads, whole.grads) < 1e-5,
    `off by ${worstRelative(joined.grads, whole.grads)}`,
  );
  assert.ok(Math.abs(joined.loss - whole.loss) < 1e-6 * whole.loss);
  // a part alone is not the batch: the check above could fail
  assert.ok(worstRelative(parts[0].grads, whole.grads) > 1e-3);
  trainer.dispose();
});

for (const backend of ["wasm", "native"] as const) {
  Deno.test({
    name: `a run with a ${backend} worker follows a run without one to within rounding`,
    ignore: backend === "native" && !nativeAvailable(),
    fn: async () => {
      const config = tinyTrainConfig(TINY_UNET, { batch: 4 });
      const alone = new Trainer(config, fixtureDataset(4, 8));
      const split = new Trainer(config, fixtureDataset(4, 8));
      await split.startWorkers(1, backend);
      assert.equal(split.workers, 1);
      for (let i = 0; i < 3; i++) {
        const [a, b] = [await alone.trainStep(), await split.trainStep()];
        assert.ok(Math.abs(a.loss - b.loss) < 1e-5 * a.loss, `step ${i + 1}: loss ${a.loss} vs ${b.loss}`);
        assert.ok(Math.abs(a.gradNorm - b.gradNorm) < 1e-4 * a.gradNorm);
      }
      const off = worstRelative(await weights(split), await weights(alone));
      assert.ok(off < 1e-4, `weights off by ${off}`);
      alone.dispose();
      split.dispose();
    },
  });
}

Deno.test("a run with workers resumes from its checkpoint exactly", async () => {
  const config = tinyTrainConfig(TINY_UNET, { batch: 4, emaExtra: [0.5] });
  const straight = new Trainer(config, fixtureDataset(4, 8));
  await straight.startWorkers(1, "wasm");
  for (let i = 0; i < 4; i++) await straight.trainStep();
  const first = new Trainer(config, fixtureDataset(4, 8));
  await first.startWorkers(1, "wasm");
  for (let i = 0; i < 2; i++) await first.trainStep();
  const ckpt = decodeCheckpoint(encodeCheckpoint(await first.toCheckpoint(null)));
  first.dispose();
  const resumed = new Trainer(config, fixtureDataset(4, 8));
  resumed.restore(ckpt);
  await resumed.startWorkers(1, "wasm");
  for (let i = 0; i < 2; i++) await resumed.trainStep();
  const [a, b] = [await weights(straight), await weights(resumed)];
  assert.ok(a.every((v, i) => Object.is(v, b[i])), "weights differ after the resume");
  straight.dispose();
  resumed.dispose();
});

Deno.test("workers are refused for a model with BatchNorm and for dropout", async () => {
  const bn = new Trainer(tinyTrainConfig(TINY_SEED), fixtureDataset(4, 8));
  await assert.rejects(
    () => bn.startWorkers(1, "wasm"),
    (e: Error) => e instanceof DataParallelError && /BatchNorm/.test(e.message),
  );
  bn.dispose();
  const drop = new Trainer(tinyTrainConfig(TINY_UNET, { dropout: 0.1 }), fixtureDataset(4, 8));
  await assert.rejects(
    () => drop.startWorkers(1, "wasm"),
    (e: Error) => e instanceof DataParallelError && /dropout/.test(e.message),
  );
  drop.dispose();
});

Deno.test("a worker that fails to compute fails the step with its reason, and no tensor leaks", async () => {
  const trainer = new Trainer(tinyTrainConfig(TINY_UNET, { batch: 4, augment: 0.5 }), fixtureDataset(4, 8));
  await trainer.startWorkers(1, "wasm");
  await trainer.trainStep();
  const before = tf.memory().numTensors;
  const step = trainer.step;
  // augmentation parameters for the first part only: the worker's part has none and fails there
  const draw = trainer.drawBatch.bind(trainer);
  trainer.drawBatch = () => {
    const b = draw();
    return { ...b, augment: b.augment!.slice(0, b.augment!.length / 2) };
  };
  await assert.rejects(
    () => trainer.trainStep(),
    (e: Error) => e instanceof DataParallelError && /gradient worker failed/.test(e.message),
  );
  assert.equal(trainer.step, step);
  assert.ok(tf.memory().numTensors <= before + 2, `${tf.memory().numTensors - before} tensors left`);
  trainer.dispose();
});

Deno.test("train CLI: --workers 2 splits each batch and says so", async () => {
  const out = `data/runs/test-workers-${Deno.pid}`;
  try {
    const r = await runTask("train.ts", [
      ...["--data", "data/apple-faces-32", "--channels", "8", "--batch", "4", "--steps", "2"],
      ...["--grid", "0", "--backend", "wasm", "--workers", "2", "--out", out],
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(
      ownLines(r.stderr).includes(
        "data-parallel: each batch of 4 in 2 parts (2 + 2), this thread and 1 worker on wasm",
      ),
      r.stderr,
    );
    assert.equal((await loadCheckpoint(`${out}/latest.safetensors`)).meta.step, 2);
    assert.match(r.stdout, /trained to step 2 /);
  } finally {
    await Deno.remove(out, { recursive: true }).catch(() => {});
  }
});

Deno.test("train CLI: --workers that cannot apply is one line naming the flag and the fix, before any work", async () => {
  const out = `data/runs/test-workers-refused-${Deno.pid}`;
  const cases: [string[], string][] = [
    [["--workers", "0"], 'error: --workers must be an integer in [1, 16], got "0"'],
    [
      ["--model", "seed", "--workers", "2"],
      "error: --workers 2: data-parallel training needs a model without BatchNorm; the seed preset keeps " +
      "running statistics; train with --workers 1",
    ],
    [
      ["--backend", "webgpu", "--workers", "2"],
      "error: --workers: data-parallel workers run on a CPU backend (native, wasm, cpu), not webgpu; train with --workers 1",
    ],
    [
      ["--dropout", "0.1", "--workers", "2"],
      "error: --workers 2: data-parallel training needs dropout 0: its masks are drawn for the whole batch; " +
      "train with --workers 1",
    ],
  ];
  for (const [args, line] of cases) {
    const r = await runTask("train.ts", [
      ...args,
      "--data",
      "data/apple-faces-32",
      "--steps",
      "2",
      "--out",
      out,
    ]);
    assert.equal(r.code, 2, r.stderr);
    assert.deepEqual(ownLines(r.stderr), [line]);
    await assert.rejects(Deno.stat(out), Deno.errors.NotFound);
  }
});

Deno.test("--workers auto splits in two only on native, with idle CPUs and a model that allows it", async () => {
  const machine = (
    o: Partial<{ cpus: number; idle: number | null; native: boolean; gpu: boolean }> = {},
  ) => ({
    cpus: () => o.cpus ?? 2,
    idle: () => Promise.resolve(o.idle === undefined ? o.cpus ?? 2 : o.idle),
    native: () => o.native ?? true,
    hardwareGpu: () => Promise.resolve(o.gpu ?? false),
  });
  type Flags = Parameters<typeof planParallel>[0];
  const auto: Flags = { request: "auto", threads: "auto", workers: "auto", splittable: true };
  const parts = async (o: Partial<Flags>, m = machine()) => {
    const p = await planParallel({ ...auto, ...o }, m);
    return [p.workers, p.threads];
  };
  assert.deepEqual(await parts({}), [2, 1]);
  assert.deepEqual(await parts({}, machine({ cpus: 8 })), [2, 4]);
  assert.deepEqual(await parts({ request: "native" }, machine({ gpu: true })), [2, 1]);
  assert.deepEqual(await parts({}, machine({ gpu: true })), [1, "auto"]);
  assert.deepEqual(await parts({}, machine({ idle: 1.2 })), [1, "auto"]);
  assert.deepEqual(await parts({}, machine({ idle: null })), [1, "auto"]);
  assert.deepEqual(await parts({}, machine({ cpus: 1 })), [1, "auto"]);
  assert.deepEqual(await parts({}, machine({ native: false })), [1, "auto"]);
  assert.deepEqual(await parts({ request: "wasm" }), [1, "auto"]);
  assert.deepEqual(await parts({ splittable: false }), [1, "auto"]);
  assert.deepEqual(await parts({ threads: 2 }), [1, 2]);
  // given parts are taken as they are; their threads default to one each
  assert.deepEqual(await parts({ workers: 3 }, machine({ idle: 0 })), [3, 1]);
  assert.deepEqual(await parts({ workers: 2, threads: 2 }), [2, 2]);
  assert.deepEqual(await parts({ workers: 1 }), [1, "auto"]);
  for (const [request, gpu] of [["webgpu", false], ["auto", true]] as const) {
    await assert.rejects(
      () => planParallel({ ...auto, request, workers: 2 }, machine({ gpu })),
      (e: Error) => e instanceof DataParallelError && e.refused && /not webgpu/.test(e.message),
    );
  }
});

/** A model with random weights that are not the initial ones (so a worker using its own init would differ). */
function perturbed(config: ModelConfig, size: number): DiffusionModel {
  const model = new DiffusionModel(config, 1, size);
  const rng = new Rng(9);
  for (const v of model.params.values()) {
    const noise = tf.tensor(rng.normalArray(v.size), v.shape);
    v.assign(tf.add(v, tf.mul(noise, 0.05)));
    noise.dispose();
  }
  return model;
}

/** The images of `options` sampled in one part, and how far those in two parts (one worker) are off. */
async function oneAndTwoParts(
  model: DiffusionModel,
  schedule: ReturnType<typeof makeSchedule>,
  options: SampleOptions,
  backend: "wasm" | "native",
) {
  const one = await sampleImages(model, schedule, options);
  const workers = await NoiseWorkers.start(1, model, schedule, { backend });
  try {
    const two = await sampleImages(model, schedule, { ...options, workers });
    return { one, off: one.images.reduce((m, v, i) => Math.max(m, Math.abs(v - two.images[i])), 0) };
  } finally {
    workers.close();
  }
}

for (
  const [name, config] of [
    ["a conditioned unet, guided, DDIM η = 1", { ...TINY_UNET, labels: { vendor: ["a", "b", "c"] } }],
    ["an edm unet", { ...TINY_UNET, parameterization: "edm" }],
    ["the seed preset (BatchNorm statistics)", TINY_SEED],
  ] as [string, ModelConfig][]
) {
  Deno.test(`sampling ${name} in two parts gives the images of one part`, async () => {
    const size = config.preset === "seed" ? 32 : 8;
    const model = perturbed(config, size);
    const schedule = makeSchedule("linear", 50);
    const options: SampleOptions = {
      n: 5,
      steps: 4,
      eta: 1,
      seed: 2,
      ...(config.labels
        ? { labels: [{ vendor: "b" }, {}, { vendor: "a" }, { vendor: "c" }, {}], guidance: 2 }
        : {}),
    };
    const { one, off } = await oneAndTwoParts(model, schedule, options, "wasm");
    assert.ok(off < 1e-4, `images off by ${off}`);
    // the second part really came from the worker: a worker without the weights would differ
    const fresh = new DiffusionModel(config, 1, size);
    const other = await sampleImages(fresh, schedule, options);
    assert.ok(other.images.some((v, i) => Math.abs(v - one.images[i]) > 1e-3));
    fresh.dispose();
    model.dispose();
  });
}

Deno.test({
  name: "sampling with a native worker gives the images of one part",
  ignore: !nativeAvailable(),
  fn: async () => {
    const model = perturbed({ ...TINY_UNET, labels: { vendor: ["a", "b"] } }, 8);
    const schedule = makeSchedule("linear", 50);
    const options = { n: 4, steps: 3, seed: 1, labels: { vendor: "a" }, guidance: 3 };
    const { off } = await oneAndTwoParts(model, schedule, options, "native");
    assert.ok(off < 1e-4, `images off by ${off}`);
    model.dispose();
  },
});

Deno.test("a closed sampling pool fails the sampling with a DataParallelError", async () => {
  const model = perturbed(TINY_UNET, 8);
  const schedule = makeSchedule("linear", 50);
  const workers = await NoiseWorkers.start(1, model, schedule, { backend: "wasm" });
  workers.close();
  await assert.rejects(
    () => sampleImages(model, schedule, { n: 2, steps: 2, workers }),
    (e: Error) => e instanceof DataParallelError && /closed/.test(e.message),
  );
  model.dispose();
});

Deno.test("sample CLI: --workers 2 splits each batch, says so, and draws the grid of one part", async () => {
  const dir = `data/runs/test-sample-workers-${Deno.pid}`;
  try {
    const run = (workers: string) =>
      runTask("sample.ts", [
        ...[
          "--n",
          "4",
          "--steps",
          "2",
          "--backend",
          "wasm",
          "--workers",
          workers,
          "--out",
          `${dir}/w${workers}`,
        ],
      ]);
    const [one, two] = [await run("1"), await run("2")];
    assert.equal(two.code, 0, two.stderr);
    assert.ok(
      ownLines(two.stderr).includes(
        "data-parallel: each batch of 4 in 2 parts (2 + 2), this thread and 1 worker on wasm",
      ),
      two.stderr,
    );
    assert.ok(!one.stderr.includes("data-parallel"), one.stderr);
    const [a, b] = [
      await decodeImage(await Deno.readFile(`${dir}/w1/grid.png`)),
      await decodeImage(await Deno.readFile(`${dir}/w2/grid.png`)),
    ];
    const off = a.rgba.reduce((m, v, i) => Math.max(m, Math.abs(v - b.rgba[i])), 0);
    assert.ok(off <= 1, `grids differ by ${off} levels`);
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

Deno.test("sample CLI: --workers on webgpu, or not a number, is one line naming the flag", async () => {
  const cases: [string[], string][] = [
    [
      ["--backend", "webgpu", "--workers", "2"],
      "error: --workers: data-parallel workers run on a CPU backend (native, wasm, cpu), not webgpu",
    ],
    [["--workers", "x"], 'error: --workers must be an integer in [1, 16], got "x"'],
  ];
  for (const [args, line] of cases) {
    const r = await runTask("sample.ts", [...args, "--out", `data/runs/never-${Deno.pid}`]);
    assert.equal(r.code, 2, r.stderr);
    assert.deepEqual(ownLines(r.stderr), [line]);
  }
});

Deno.test("edits in two parts: variations and a morph give the pictures of one part", async () => {
  const model = perturbed({ ...TINY_UNET, labels: { vendor: ["a", "b"] } }, 8);
  const schedule = makeSchedule("linear", 50);
  const rng = new Rng(4);
  const inputs = Float32Array.from(rng.normalArray(2 * 8 * 8 * 3), (v) => Math.tanh(v));
  const own = conditionedDenoiser(model, [1], 2);
  const options = { strength: 0.6, n: 2, steps: 4, eta: 1, seed: 3 };
  const one = await editImages(own, schedule, inputs, options);
  const morphOne = await morphImages(own, schedule, 1, inputs.subarray(0, 8 * 8 * 3), {
    frames: 3,
    steps: 3,
  });
  const workers = await NoiseWorkers.start(1, model, schedule, { backend: "wasm" });
  try {
    const split = workers.denoiser([1], 2);
    const two = await editImages(split, schedule, inputs, options);
    const morphTwo = await morphImages(split, schedule, 1, inputs.subarray(0, 8 * 8 * 3), {
      frames: 3,
      steps: 3,
    });
    const worst = (a: Float32Array, b: Float32Array) =>
      a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
    assert.ok(worst(one.images, two.images) < 1e-4, `variations off by ${worst(one.images, two.images)}`);
    assert.ok(
      worst(morphOne.images, morphTwo.images) < 1e-4,
      `morph off by ${worst(morphOne.images, morphTwo.images)}`,
    );
  } finally {
    workers.close();
  }
  model.dispose();
});
