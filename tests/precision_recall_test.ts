import assert from "node:assert/strict";
import { precisionRecall, realHalvesPrecisionRecall } from "../src/eval/precision_recall.ts";
import { nearCopies } from "../src/eval/near_copies.ts";
import { evaluate } from "../src/eval/report.ts";
import { Rng } from "../src/core/rng.ts";

const DIM = 4;

/** `n` Gaussian vectors (σ = 1) around mode centres `modes[i % modes.length]`. */
function gaussians(n: number, modes: number[][], seed: number): Float32Array {
  const rng = new Rng(seed);
  const out = new Float32Array(n * DIM);
  for (let i = 0; i < n; i++) {
    const c = modes[i % modes.length];
    for (let d = 0; d < DIM; d++) out[i * DIM + d] = c[d] + rng.normal();
  }
  return out;
}

/** `count` mode centres far apart (40 σ) along different axes. */
function modes(count: number): number[][] {
  return Array.from({ length: count }, (_, m) => Array.from({ length: DIM }, (_, d) => d === m ? 40 : 0));
}

Deno.test("precision and recall: identical sets score 1 and 1", () => {
  const x = gaussians(200, modes(4), 1);
  assert.deepEqual(precisionRecall(x, x, DIM), { precision: 1, recall: 1, k: 3 });
});

Deno.test("precision and recall: two draws of the same Gaussian mixture score near 1 (k = 3 balls miss some tails)", () => {
  const r = precisionRecall(gaussians(400, modes(4), 1), gaussians(400, modes(4), 2), DIM);
  assert.ok(r.precision > 0.85 && r.recall > 0.85, JSON.stringify(r));
});

Deno.test("precision and recall: disjoint sets score 0 and 0", () => {
  const far = modes(4).map((c) => c.map((v) => v + 1000));
  const r = precisionRecall(gaussians(200, far, 1), gaussians(200, modes(4), 2), DIM);
  assert.deepEqual([r.precision, r.recall], [0, 0]);
});

Deno.test("precision and recall: samples covering half the modes have about half the recall, the same precision", () => {
  const all = modes(4), real = gaussians(400, all, 2);
  const half = precisionRecall(gaussians(400, all.slice(0, 2), 1), real, DIM);
  const full = precisionRecall(gaussians(400, all, 1), real, DIM);
  assert.ok(Math.abs(half.recall / full.recall - 0.5) < 0.05, `recall ${half.recall} vs ${full.recall}`);
  assert.ok(
    Math.abs(half.precision - full.precision) < 0.05,
    `precision ${half.precision} vs ${full.precision}`,
  );
});

Deno.test("the real halves' precision and recall are high for one mixture, and seeded", () => {
  const real = gaussians(400, modes(4), 3);
  const a = realHalvesPrecisionRecall(real, DIM, 3, 7), b = realHalvesPrecisionRecall(real, DIM, 3, 7);
  assert.deepEqual(a, b);
  assert.ok(a.precision > 0.85 && a.recall > 0.85, JSON.stringify(a));
});

/** `n` random images of side 4 in [−1, 1]. */
function images(n: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n * 4 * 4 * 3 }, () => rng.uniform() * 2 - 1);
}

Deno.test("the near-copy rule flags an exact copy and a slightly perturbed one, not a distinct image", () => {
  const refs = images(30, 1), per = 48;
  const copy = refs.slice(7 * per, 8 * per);
  const perturbed = copy.map((v, i) => v + (i % 2 ? 0.01 : -0.01));
  const distinct = images(1, 99);
  assert.equal(nearCopies(copy, 1, refs, 30, 4).count, 1);
  assert.equal(nearCopies(perturbed, 1, refs, 30, 4).count, 1);
  assert.equal(nearCopies(distinct, 1, refs, 30, 4).count, 0);
});

Deno.test("a real image against the rest of its set skips only itself (a duplicate in the set still counts)", () => {
  const refs = images(30, 2), per = 48;
  assert.equal(nearCopies(refs, 30, refs, 30, 4, true).count, 0);
  const withDuplicate = new Float32Array(31 * per);
  withDuplicate.set(refs);
  withDuplicate.set(refs.subarray(0, per), 30 * per);
  assert.equal(nearCopies(refs.subarray(0, per), 1, withDuplicate, 31, 4, true).count, 1);
});

Deno.test("evaluate reports precision, recall and near-copies beside the real set's figures", () => {
  const train = images(40, 3);
  const r = evaluate(train.slice(0, 20 * 48), train, { size: 4, numSubsets: 5 });
  assert.ok(r.precisionRecall && r.nearCopies);
  assert.equal(r.precisionRecall.precision, 1); // the samples are real images
  assert.equal(r.nearCopies.rate, 1); // and copies of them
  assert.equal(r.nearCopies.realRate, 0);
  assert.ok(r.precisionRecall.real.recall > 0);
});
