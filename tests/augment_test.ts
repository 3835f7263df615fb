// Non-leaking augmentation (Karras et al. 2022): pixels against parameters, the draws, the model's
// extra input, sampling with "none", resumption, the flags, and a checkpoint in the page's loader.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { pathToFileURL } from "node:url";
import { initBackend } from "../src/backend/select.ts";
import { encodeCheckpoint, loadCheckpoint } from "../src/checkpoint/format.ts";
import { flipHorizontal } from "../src/image/pixels.ts";
import { ForwardContext } from "../src/model/context.ts";
import { DiffusionModel, type ModelConfig } from "../src/model/model.ts";
import { modelFromCheckpoint } from "../src/model/from_checkpoint.ts";
import { makeSchedule } from "../src/core/schedule.ts";
import { Rng } from "../src/core/rng.ts";
import { sampleImages } from "../src/sample/sample.ts";
import { meanImage } from "../src/sample/prior.ts";
import {
  type Augmentation,
  augmentationParameters,
  augmentBatch,
  augmentImage,
  drawAugmentation,
} from "../src/train/augment.ts";
import { Trainer } from "../src/train/trainer.ts";
import { trainRun } from "../src/train/run.ts";
import { fixtureDataset, ownLines, runTask, TINY_SEED, TINY_UNET, tinyTrainConfig } from "./helpers.ts";
import { loadBrowserModel, sampleBrowser } from "../web/core.ts";

await initBackend("wasm", { log: null });

/** A 4×4 RGB image whose pixel (x, y) holds [10·y + x, 100 + 10·y + x, 200 + 10·y + x]. */
function numbered(size = 4): Float32Array {
  const out = new Float32Array(size * size * 3);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      for (let c = 0; c < 3; c++) out[(y * size + x) * 3 + c] = 100 * c + 10 * y + x;
    }
  }
  return out;
}

/** The red channel of a numbered image as rows of text, for readable expectations. */
function redRows(img: Float32Array, size = 4): string[] {
  return Array.from(
    { length: size },
    (_, y) => Array.from({ length: size }, (_, x) => img[(y * size + x) * 3]).join(" "),
  );
}

Deno.test("augment: flipped and translated images match their parameters pixel by pixel", () => {
  const src = numbered(), out = new Float32Array(src.length);
  // worked by hand: a flip, then one pixel right and two up; the uncovered pixels are the corner (0)
  augmentImage(src, out, 4, 4, { flip: true, dx: 1, dy: -2 });
  assert.deepEqual(redRows(out), ["0 23 22 21", "0 33 32 31", "0 0 0 0", "0 0 0 0"]);
  augmentImage(src, out, 4, 4, { flip: false, dx: -2, dy: 1 });
  assert.deepEqual(redRows(out), ["0 0 0 0", "2 3 0 0", "12 13 0 0", "22 23 0 0"]);
  // the padding takes every channel of the corner pixel (the background colour)
  assert.deepEqual(Array.from(out.subarray(0, 3)), [0, 100, 200]);
  // every draw against the composition of the project's flip and a plain shift, on an 8×8 image
  const size = 8, img = fixtureDataset(1, size).images.map((v, i) => v + i * 1e-3);
  const flipped = new Float32Array(img.length);
  flipHorizontal(img, flipped, size, size, 3);
  const got = new Float32Array(img.length);
  for (const flip of [false, true]) {
    for (let dx = -2; dx <= 2; dx++) {
      for (let dy = -2; dy <= 2; dy++) {
        augmentImage(img, got, size, size, { flip, dx, dy });
        const base = flip ? flipped : img;
        for (let y = 0; y < size; y++) {
          for (let x = 0; x < size; x++) {
            const sx = x - dx, sy = y - dy;
            const inside = sx >= 0 && sx < size && sy >= 0 && sy < size;
            for (let c = 0; c < 3; c++) {
              const want = inside ? base[(sy * size + sx) * 3 + c] : img[c];
              assert.equal(got[(y * size + x) * 3 + c], want, `flip ${flip} dx ${dx} dy ${dy} at ${x},${y}`);
            }
          }
        }
      }
    }
  }
});

Deno.test("augment: a batch's parameters say exactly what was done to each image, and p sets how often", () => {
  const size = 8, count = 32;
  const images = fixtureDataset(count, size).images.map((v, i) => v + (i % 97) * 1e-3);
  const batch = images.slice();
  const { parameters, draws } = augmentBatch(batch, size, new Rng(9), 1);
  const per = size * size * 3, one = new Float32Array(per);
  let changed = 0;
  for (let i = 0; i < count; i++) {
    const a = draws[i];
    assert.deepEqual(Array.from(parameters.subarray(3 * i, 3 * i + 3)), [a.flip ? 1 : 0, a.dx / 2, a.dy / 2]);
    augmentImage(images.subarray(i * per, (i + 1) * per), one, size, size, a);
    assert.deepEqual(batch.subarray(i * per, (i + 1) * per), one, `image ${i}`);
    if (a.flip || a.dx || a.dy) changed++;
  }
  assert.ok(changed > count / 2, `${changed} of ${count} changed at p = 1`);
  // the parameters of "none" are zeros, and every shift and both flips occur
  assert.deepEqual(augmentationParameters({ flip: false, dx: 0, dy: 0 }), [0, 0, 0]);
  const rng = new Rng(4), seen = new Set<string>();
  let augmented = 0;
  for (let i = 0; i < 4000; i++) {
    const a: Augmentation = drawAugmentation(rng, 0.25);
    if (a.flip || a.dx || a.dy) augmented++;
    seen.add(`${a.flip},${a.dx},${a.dy}`);
  }
  assert.equal(seen.size, 50);
  // P(changed) = p·(1 − 1/50): the identity draw among the 50 is "none"
  const rate = augmented / 4000;
  assert.ok(Math.abs(rate - 0.25 * 0.98) < 0.025, `rate ${rate}`);
  // p = 0 draws nothing but the one uniform per image, and changes nothing
  const untouched = images.slice();
  const none = augmentBatch(untouched, size, new Rng(9), 0);
  assert.deepEqual(untouched, images);
  assert.ok(none.parameters.every((v) => v === 0));
});

/** A conditioned-on-augmentation model and the same model without the input, other weights equal. */
function pair(base: ModelConfig, seed: number): { plain: DiffusionModel; aug: DiffusionModel } {
  const plain = new DiffusionModel(base, seed, 8);
  const aug = new DiffusionModel({ ...base, augmentConditioning: true } as ModelConfig, seed, 8);
  // random weights everywhere (a fresh unet's output conv is zero), the same in both
  let i = 0;
  for (const [name, v] of plain.params) {
    const w = tf.randomNormal(v.shape, 0, 0.2, "float32", 100 + i++);
    v.assign(w);
    aug.params.get(name)!.assign(w);
    w.dispose();
  }
  // a non-zero augmentation layer: sampling must still ask for none
  aug.params.get("augment.w")!.assign(tf.randomNormal([3, aug.timeDim], 0, 1, "float32", 7));
  return { plain, aug };
}

Deno.test("augment: sampling asks for none, so it equals the model without the input (any augment weights)", async () => {
  const s = makeSchedule("linear", 50);
  for (const base of [TINY_UNET, TINY_SEED]) {
    const { plain, aug } = pair(base, 2);
    assert.deepEqual([...aug.params.keys()].slice(0, -1), [...plain.params.keys()]);
    for (const sampler of ["ddim", "dpm++2m"] as const) {
      const a = await sampleImages(plain, s, { n: 2, steps: 4, seed: 3, sampler });
      const b = await sampleImages(aug, s, { n: 2, steps: 4, seed: 3, sampler });
      assert.deepEqual(b.images, a.images, `${base.preset} ${sampler}`);
    }
    // the input is live: a flip's parameters change the prediction, explicit zeros do not
    const x = tf.randomNormal([2, 8, 8, 3], 0, 1, "float32", 1) as tf.Tensor4D;
    const ctx = () => new ForwardContext(aug.params, aug.state, false);
    const none = aug.forward(ctx(), x, [10, 20]);
    const zeros = aug.forward(ctx(), x, [10, 20], undefined, new Float32Array(6));
    const flipped = aug.forward(ctx(), x, [10, 20], undefined, Float32Array.of(1, 0, 0, 1, 0, 0));
    const plainOut = plain.forward(new ForwardContext(plain.params, plain.state, false), x, [10, 20]);
    assert.deepEqual(await zeros.data(), await none.data());
    assert.deepEqual(await none.data(), await plainOut.data());
    const diff = (await tf.max(tf.abs(tf.sub(flipped, none))).data())[0];
    assert.ok(diff > 1e-3, `${base.preset}: a flip moves ε by ${diff}`);
    assert.throws(
      () => plain.forward(ctx(), x, [1, 2], undefined, new Float32Array(6)),
      /without augmentConditioning/,
    );
    tf.dispose([x, none, zeros, flipped, plainOut]);
    plain.dispose();
    aug.dispose();
  }
});

Deno.test("augment: the layer starts at zero, so a fresh augmenting model is today's model plus zeros", async () => {
  const plain = new DiffusionModel(TINY_UNET, 4, 8);
  const aug = new DiffusionModel({ ...TINY_UNET, augmentConditioning: true } as ModelConfig, 4, 8);
  for (const [name, v] of plain.params) {
    assert.deepEqual(await aug.params.get(name)!.data(), await v.data(), name);
  }
  assert.ok((await aug.params.get("augment.w")!.data()).every((v) => v === 0));
  plain.dispose();
  aug.dispose();
});

Deno.test("augment: a run with p > 0 uses the augment stream, drops the plain flips, and resumes exactly", async () => {
  const config = tinyTrainConfig(TINY_UNET, { augment: 0.5, steps: 4 });
  const ds = fixtureDataset(5, 8);
  const straight = new Trainer(config, ds);
  assert.equal(straight.model.config.augmentConditioning, true);
  assert.equal(straight.config.model.augmentConditioning, true);
  // the data mean is the plain images' mean (samples ask for no augmentation, and nothing is flipped)
  assert.deepEqual(straight.dataMean, meanImage(ds.images, 5, 8, 8, false));
  const all: number[] = [];
  for (let i = 0; i < 4; i++) all.push((await straight.trainStep()).loss);
  // the augmentation changed the batches: the same run with p = 0 (and the input) trains otherwise
  const off = new Trainer(
    tinyTrainConfig({ ...TINY_UNET, augmentConditioning: true } as ModelConfig, { steps: 4 }),
    ds,
  );
  const offLosses: number[] = [];
  for (let i = 0; i < 4; i++) offLosses.push((await off.trainStep()).loss);
  assert.notDeepEqual(offLosses, all);
  const first = new Trainer(config, ds);
  await first.trainStep();
  await first.trainStep();
  const ckpt = await first.toCheckpoint(null);
  assert.ok(ckpt.meta.rng?.augment, "the augment stream is in the checkpoint");
  const resumed = new Trainer(config, ds);
  resumed.restore(ckpt);
  const rest = [(await resumed.trainStep()).loss, (await resumed.trainStep()).loss];
  assert.deepEqual(rest, all.slice(2));
  for (const t of [straight, off, first, resumed]) t.dispose();
});

Deno.test("augment: an augmenting edm checkpoint loads and samples in Deno and through the page's loader alike", async () => {
  const dir = await Deno.makeTempDir();
  const config = tinyTrainConfig({ ...TINY_UNET, parameterization: "edm" } as ModelConfig, {
    augment: 0.3,
    steps: 2,
  });
  const trainer = new Trainer(config, fixtureDataset(4, 8));
  await trainer.trainStep();
  await trainer.trainStep();
  const path = `${dir}/aug-edm.safetensors`;
  await Deno.writeFile(path, encodeCheckpoint(await trainer.toCheckpoint(null)));
  trainer.dispose();
  const loaded = modelFromCheckpoint(await loadCheckpoint(path));
  assert.equal(loaded.model.config.augmentConditioning, true);
  const options = { n: 2, steps: 3, seed: 5 };
  const here = await sampleImages(loaded.model, loaded.schedule, { ...options, dataMean: loaded.dataMean });
  const page = await sampleBrowser(await loadBrowserModel(pathToFileURL(path)), options);
  assert.deepEqual(page.images, here.images);
  assert.ok(here.images.every(Number.isFinite));
  loaded.model.dispose();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("augment: resuming or fine-tuning a model without the input refuses --augment with the fix", async () => {
  const dir = await Deno.makeTempDir();
  const config = tinyTrainConfig(TINY_SEED, { data: "data/apple-faces-32", batch: 2, steps: 1 });
  const run = await trainRun(config, { out: `${dir}/a`, every: 1, gridImages: 0, log: null });
  await assert.rejects(
    trainRun({ ...config, steps: 2, augment: 0.2 }, {
      out: `${dir}/a`,
      every: 1,
      gridImages: 0,
      log: null,
      resume: run.checkpoint,
    }),
    {
      name: "UsageError",
      message: /^augment 0.2: the checkpoint's model has no augmentation input.*start a new run/,
    },
  );
  await assert.rejects(
    trainRun({ ...config, augment: 0.2 }, {
      out: `${dir}/b`,
      every: 1,
      gridImages: 0,
      log: null,
      init: run.checkpoint,
    }),
    { name: "UsageError", message: /fine-tuned run trains the checkpoint's model/ },
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("augment: the committed recipe with both options passes the loader and a dry run", async () => {
  const r = await runTask("train.ts", ["--config", "configs/faces4-cond-edm-aug.json", "--dry-run"]);
  assert.equal(r.code, 0, r.stderr);
  const config = JSON.parse(r.stdout);
  assert.equal(config.augment, 0.12);
  assert.equal(config.model.parameterization, "edm");
  assert.deepEqual(config.condition, ["vendor", "subcategory"]);
});

Deno.test("augment: bad --augment and --parameterization are one-line usage errors (exit 2) before any work", async () => {
  for (
    const [args, re] of [
      [["--augment", "1.5"], /^error: --augment must be a number in \[0, 1\], got "1.5"/],
      [["--augment", "often"], /^error: --augment must be a number/],
      [
        ["--model", "seed", "--parameterization", "edm"],
        /^error: --parameterization edm is an option of the unet preset/,
      ],
      [["--parameterization", "v"], /^error: --parameterization "v" is unknown: choose one of eps, edm/],
      [
        ["--parameterization", "edm", "--min-snr-gamma", "5"],
        /^error: .*edm model has its own weighting .* drop --min-snr-gamma/,
      ],
    ] as const
  ) {
    const r = await runTask("train.ts", [...args, "--dry-run"]);
    const lines = ownLines(r.stderr);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.equal(lines.length, 1, lines.join("\n"));
    assert.match(lines[0], re);
  }
});
