/** Guidance limited to an interval of timesteps: the weight per step, sampling, edits, defaults, flags. */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../src/backend/select.ts";
import { intervalFlag } from "../src/cli/flags.ts";
import { UsageError } from "../src/errors.ts";
import { DiffusionModel } from "../src/model/model.ts";
import { type LabelVocabulary, validateSamplingDefaults, withSamplingDefaults } from "../src/model/labels.ts";
import { conditionedDenoiser, guidedPredict } from "../src/sample/guidance.ts";
import { guidanceAt } from "../src/sample/guidance_interval.ts";
import { sampleImages, type SampleOptions } from "../src/sample/sample.ts";
import { makeSchedule } from "../src/core/schedule.ts";
import { TINY_UNET } from "./helpers.ts";

await initBackend("cpu", { log: null });

const VOCAB: LabelVocabulary = { vendor: ["apple", "google", "twitter"] };

/** A conditioned unet with every weight drawn at random, so that labels and guidance matter. */
function randomModel(seed: number): DiffusionModel {
  const m = new DiffusionModel({ ...TINY_UNET, labels: VOCAB }, seed, 8);
  let i = 0;
  for (const v of m.params.values()) v.assign(tf.randomNormal(v.shape, 0, 0.3, "float32", seed * 1000 + i++));
  return m;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

Deno.test("guidanceAt: w inside [lo, hi]·T, both ends included, 1 outside", () => {
  assert.equal(guidanceAt(100, 500, 3, [0.2, 0.6]), 3);
  assert.equal(guidanceAt(300, 500, 3, [0.2, 0.6]), 3);
  assert.equal(guidanceAt(99, 500, 3, [0.2, 0.6]), 1);
  assert.equal(guidanceAt(301, 500, 3, [0.2, 0.6]), 1);
  assert.equal(guidanceAt(499, 500, 3), 3);
});

Deno.test("guidedPredict with one weight per example equals each example guided with its own", async () => {
  const m = randomModel(1);
  const x = tf.randomNormal([2, 8, 8, 3], 0, 1, "float32", 5) as tf.Tensor4D;
  const labels = [[0, 2]];
  const mixed = await guidedPredict(m, x, [10, 10], labels, [3, 1]).data() as Float32Array;
  const all3 = await guidedPredict(m, x, [10, 10], labels, 3).data() as Float32Array;
  const all1 = await guidedPredict(m, x, [10, 10], labels, 1).data() as Float32Array;
  const per = 8 * 8 * 3;
  assert.ok(maxAbsDiff(mixed.subarray(0, per), all3.subarray(0, per)) <= 1e-6);
  assert.ok(maxAbsDiff(mixed.subarray(per), all1.subarray(per)) <= 1e-6);
  assert.ok(maxAbsDiff(all3, all1) > 1e-3, "guidance 3 must differ from 1 for this test to mean anything");
  assert.throws(() => guidedPredict(m, x, [10, 10], labels, [3]), RangeError);
  x.dispose();
  m.dispose();
});

Deno.test("sampling: the interval [0, 1] is every step, one that holds no step is plain conditional sampling", async () => {
  const m = randomModel(2), schedule = makeSchedule("linear", 40);
  const base = { n: 2, steps: 4, seed: 3, labels: { vendor: "google" } };
  const full = await sampleImages(m, schedule, { ...base, guidance: 3 });
  const fullInterval = await sampleImages(m, schedule, { ...base, guidance: 3, guidanceInterval: [0, 1] });
  // the DDIM-4 timesteps of T = 40 are all below 0.99·T: no step is guided
  const none = await sampleImages(m, schedule, { ...base, guidance: 3, guidanceInterval: [0.99, 1] });
  const plain = await sampleImages(m, schedule, { ...base, guidance: 1 });
  assert.equal(maxAbsDiff(full.images, fullInterval.images), 0);
  assert.equal(maxAbsDiff(none.images, plain.images), 0);
  assert.ok(maxAbsDiff(full.images, plain.images) > 1e-3, "guidance must change these samples");
  m.dispose();
});

Deno.test("sampling: a partial interval lies between full guidance and none", async () => {
  const m = randomModel(3), schedule = makeSchedule("linear", 40);
  const base = { n: 2, steps: 4, seed: 4, labels: { vendor: "apple" }, guidance: 3 };
  const full = await sampleImages(m, schedule, base);
  const part = await sampleImages(m, schedule, { ...base, guidanceInterval: [0, 0.5] });
  const none = await sampleImages(m, schedule, { ...base, guidance: 1 });
  assert.ok(maxAbsDiff(part.images, full.images) > 1e-4);
  assert.ok(maxAbsDiff(part.images, none.images) > 1e-4);
  await assert.rejects(
    () => sampleImages(m, schedule, { ...base, guidanceInterval: [0.6, 0.2] }),
    RangeError,
  );
  m.dispose();
});

Deno.test("conditionedDenoiser: outside the interval its ε is the conditional ε, inside the guided one", async () => {
  const m = randomModel(4);
  const x = tf.randomNormal([1, 8, 8, 3], 0, 1, "float32", 6) as tf.Tensor4D;
  const d = conditionedDenoiser(m, [1], 2.5, m.params, { interval: [0, 0.5], T: 40 });
  const late = await d.predict(x, [30]).data() as Float32Array;
  const early = await d.predict(x, [10]).data() as Float32Array;
  const cond = await m.predict(x, [30], m.params, [[1]]).data() as Float32Array;
  const guided = await guidedPredict(m, x, [10], [[1]], 2.5).data() as Float32Array;
  assert.ok(maxAbsDiff(late, cond) <= 1e-6);
  assert.ok(maxAbsDiff(early, guided) <= 1e-6);
  x.dispose();
  m.dispose();
});

Deno.test("a checkpoint's default interval is used unless the caller gives one, and a bad one is refused", () => {
  const defaults = { labels: { vendor: "apple" }, guidance: 2, guidanceInterval: [0, 0.6] as const };
  validateSamplingDefaults(defaults, VOCAB);
  const none: SampleOptions = { n: 1 };
  assert.deepEqual(withSamplingDefaults(none, VOCAB, defaults).guidanceInterval, [0, 0.6]);
  const given: SampleOptions = { n: 1, guidanceInterval: [0, 1] };
  assert.deepEqual(withSamplingDefaults(given, VOCAB, defaults).guidanceInterval, [0, 1]);
  assert.throws(
    () => validateSamplingDefaults({ guidanceInterval: [0.5, 1.5] }, VOCAB),
    /guidance interval must be \[lo, hi\]/,
  );
});

Deno.test("--guidance-interval parses LO,HI and refuses anything else in one line naming the flag", () => {
  assert.deepEqual(intervalFlag("guidance-interval", "0, 0.6"), [0, 0.6]);
  for (const bad of ["0.6", "0.6,0.2", "0,1.5", "a,b", ",1", "0,0.5,1"]) {
    assert.throws(
      () => intervalFlag("guidance-interval", bad),
      (e: unknown) => e instanceof UsageError && e.message.startsWith("--guidance-interval must be LO,HI"),
    );
  }
});
