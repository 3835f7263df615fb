/** The k-NN label-agreement classifier of `deno task eval --label-agreement`. */
import assert from "node:assert/strict";
import { knnClassify, leaveOneOutAccuracy, sampleAgreement } from "../src/eval/label_agreement.ts";
import { Rng } from "../src/core/rng.ts";

/** n points per class around class centres 10·c in every one of `dim` dimensions, with unit noise. */
function clusters(classes: number, n: number, dim: number, seed = 1) {
  const rng = new Rng(seed);
  const features = new Float32Array(classes * n * dim), labels: number[] = [];
  for (let c = 0; c < classes; c++) {
    for (let i = 0; i < n; i++) {
      const row = c * n + i;
      labels.push(c);
      for (let d = 0; d < dim; d++) features[row * dim + d] = 10 * c + rng.normal();
    }
  }
  return { features, dim, labels };
}

Deno.test("k-NN: separated clusters are classified perfectly, out of sample and leave-one-out", () => {
  const ref = clusters(3, 10, 4);
  assert.equal(leaveOneOutAccuracy(ref, 5), 1);
  const queries = clusters(3, 4, 4, 9);
  assert.deepEqual([...knnClassify(ref, queries.features, 5)], queries.labels);
  assert.equal(sampleAgreement(ref, queries.features, queries.labels), 1);
});

Deno.test("leave-one-out never lets a point vote for itself", () => {
  // a class of one point far from the rest: with itself excluded its nearest neighbours are others
  const ref = clusters(2, 5, 2);
  const features = Float32Array.from([...ref.features, 100, 100]);
  const labels = [...ref.labels, 2];
  const loo = leaveOneOutAccuracy({ features, dim: 2, labels }, 1);
  assert.equal(loo, 10 / 11);
  // with itself included, k = 1 finds itself
  assert.equal(knnClassify({ features, dim: 2, labels }, Float32Array.of(100, 100), 1)[0], 2);
});

Deno.test("samples asked for the wrong class count as disagreeing; unlabelled references never vote", () => {
  const ref = clusters(2, 6, 3);
  const queries = clusters(2, 3, 3, 4);
  const flipped = queries.labels.map((c) => 1 - c);
  assert.equal(sampleAgreement(ref, queries.features, flipped), 0);
  const hidden = { ...ref, labels: ref.labels.map((c) => (c === 1 ? -1 : c)) };
  assert.ok([...knnClassify(hidden, queries.features, 3)].every((c) => c === 0));
});
