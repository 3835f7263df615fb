import assert from "node:assert/strict";
import { Rng } from "../src/core/rng.ts";
import {
  areaResize,
  closestPairs,
  colourStats,
  CONV_ENCODER,
  convEncoderWeights,
  cubicKernel,
  diversity,
  evaluate,
  formatReportMarkdown,
  kid,
  kidSplitHalfFloor,
  meanPairwiseDistance,
  memorisation,
  mmd2Unbiased,
  PIXEL8_DIM,
  pixelFeatures8,
  pixelNearestNeighbours,
  randomConvFeatures,
  realMemorisationRate,
} from "../src/eval/mod.ts";

const PER = 32 * 32 * 3;

/** Emoji-like toy images: one coloured disc on black, random centre, radius and colour. */
function discs(n: number, seed: number, size = 32): Float32Array {
  const rng = new Rng(seed), out = new Float32Array(n * size * size * 3).fill(-1);
  for (let i = 0; i < n; i++) {
    const cx = size * (0.25 + rng.uniform() * 0.5), cy = size * (0.25 + rng.uniform() * 0.5);
    const r = size * (0.15 + rng.uniform() * 0.25);
    const col = [rng.uniform() * 2 - 1, rng.uniform() * 2 - 1, rng.uniform() * 2 - 1];
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        if ((x - cx) ** 2 + (y - cy) ** 2 >= r * r) continue;
        for (let c = 0; c < 3; c++) out[((i * size + y) * size + x) * 3 + c] = col[c];
      }
    }
  }
  return out;
}

function constantImages(n: number, value: number, size = 32): Float32Array {
  return new Float32Array(n * size * size * 3).fill(value);
}

function noise(n: number, seed: number, size = 32): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n * size * size * 3 }, () => rng.uniform() * 2 - 1);
}

function close(actual: number, expected: number, tol: number, what = "") {
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: ${actual} is not within ${tol} of ${expected}`);
}

// ---------------------------------------------------------------- KID

Deno.test("kid: a set against itself is ≈ 0, black vs white is large", () => {
  const f = randomConvFeatures(discs(160, 1), 160);
  const self = kid(f, f, CONV_ENCODER.dim, { subsetSize: 50, seed: 3 });
  const black = randomConvFeatures(constantImages(10, -1), 10);
  const white = randomConvFeatures(constantImages(10, 1), 10);
  const bw = kid(black, white, CONV_ENCODER.dim, { seed: 3 });
  assert.ok(Math.abs(self.mean) < 0.01, `self KID ${self.mean}`);
  assert.ok(Math.abs(self.mean) <= 2 * self.std, `self KID ${self.mean} ± ${self.std}`);
  assert.ok(bw.mean > 1, `black vs white KID ${bw.mean}`);
  assert.ok(bw.mean > 1000 * Math.abs(self.mean));
  // All black features are equal, so every subset gives k(b,b) + k(w,w) − 2k(b,w) exactly.
  const d = CONV_ENCODER.dim;
  const exact = cubicKernel(black, 0, black, 0, d) + cubicKernel(white, 0, white, 0, d) -
    2 * cubicKernel(black, 0, white, 0, d);
  close(bw.mean, exact, 1e-9, "black vs white");
  assert.ok(bw.std < 1e-9);
});

Deno.test("kid: 8×8 pixel features of black vs white give exactly 8 + 8 − 2·0 = 16", () => {
  const r = kid(
    pixelFeatures8(constantImages(6, -1), 6),
    pixelFeatures8(constantImages(6, 1), 6),
    PIXEL8_DIM,
  );
  close(r.mean, 16, 1e-12, "KID");
  assert.equal(r.subsetSize, 6);
  assert.equal(r.numSubsets, 50);
});

/** Draws n points uniformly from a small discrete set of d-dim points. */
function drawDiscrete(points: Float32Array, d: number, n: number, rng: Rng): Float32Array {
  const k = points.length / d, out = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    const j = rng.int(k);
    out.set(points.subarray(j * d, (j + 1) * d), i * d);
  }
  return out;
}

/** E k(x, y) for x uniform over the rows of a, y uniform over the rows of b (independent draws). */
function expectedKernel(a: Float32Array, b: Float32Array, d: number): number {
  let s = 0;
  const na = a.length / d, nb = b.length / d;
  for (let i = 0; i < na; i++) for (let j = 0; j < nb; j++) s += cubicKernel(a, i, b, j, d);
  return s / (na * nb);
}

Deno.test("kid: unbiased — matches the exact population MMD² of two discrete distributions", () => {
  // P, Q: uniform over 4 points each in 3-D. Population MMD² = E k(x,x') + E k(y,y') − 2 E k(x,y),
  // computed exactly by enumeration (x, x' independent, so they coincide with probability 1/4).
  const d = 3, m = 10;
  const P = Float32Array.of(1, 0, 0, 0, 1, 0, -1, -1, 0, 0.5, 0.5, 1);
  const Q = Float32Array.of(1, 1, 0, 0, 0, 1, -1, 0, -1, 0.5, -0.5, 0.5);
  const population = expectedKernel(P, P, d) + expectedKernel(Q, Q, d) - 2 * expectedKernel(P, Q, d);
  // The biased (V-statistic) estimator would be off by (E k(x,x) − E k(x,x')) / m per side.
  let diag = 0;
  for (let i = 0; i < 4; i++) diag += (cubicKernel(P, i, P, i, d) + cubicKernel(Q, i, Q, i, d)) / 4;
  const vBias = (diag - expectedKernel(P, P, d) - expectedKernel(Q, Q, d)) / m;
  assert.ok(vBias > 0.3, `toy case must separate biased from unbiased (${vBias})`);

  const rng = new Rng(11);
  const A = drawDiscrete(P, d, 2000, rng), B = drawDiscrete(Q, d, 2000, rng);
  const r = kid(A, B, d, { subsetSize: m, numSubsets: 4000, seed: 5 });
  close(r.mean, population, 0.04, "KID vs population MMD²");

  const A2 = drawDiscrete(P, d, 2000, rng);
  const same = kid(A, A2, d, { subsetSize: m, numSubsets: 4000, seed: 6 });
  close(same.mean, 0, 0.04, "KID of two samples of P");
});

Deno.test("kid: one subset holding both whole sets equals mmd2Unbiased; seeds are reproducible", () => {
  const rng = new Rng(2);
  const a = rng.normalArray(30 * 5), b = rng.normalArray(30 * 5).map((v) => v + 0.3);
  const whole = kid(a, b, 5, { subsetSize: 30, numSubsets: 3 });
  close(whole.mean, mmd2Unbiased(a, b, 5), 1e-12, "whole-set KID");
  assert.ok(whole.std < 1e-12);
  const r1 = kid(a, b, 5, { subsetSize: 10, seed: 9 }), r2 = kid(a, b, 5, { subsetSize: 10, seed: 9 });
  const r3 = kid(a, b, 5, { subsetSize: 10, seed: 10 });
  assert.deepEqual(r1, r2);
  assert.notEqual(r1.mean, r3.mean);
  assert.throws(() => kid(a, b.subarray(0, 7), 5), RangeError);
  assert.throws(() => kid(a, b.subarray(0, 5), 5), RangeError);
});

Deno.test("kidSplitHalfFloor: ≈ 0 within its standard error, below the KID of a different set", () => {
  const train = randomConvFeatures(discs(120, 4), 120);
  const floor = kidSplitHalfFloor(train, CONV_ENCODER.dim, { numSubsets: 100, seed: 1 });
  assert.equal(floor.subsetSize, 60);
  assert.equal(floor.numSubsets, 100);
  assert.ok(floor.std > 0);
  // Over random splits of a fixed set the estimator has expectation exactly 0, splits are i.i.d.
  assert.ok(Math.abs(floor.mean) < 4 * floor.std / Math.sqrt(100), `floor ${floor.mean} ± ${floor.std}`);
  const other = randomConvFeatures(noise(120, 5), 120);
  const far = kid(other, train, CONV_ENCODER.dim, { seed: 1 });
  assert.ok(
    far.mean > floor.mean + 10 * floor.std,
    `noise KID ${far.mean} vs floor ${floor.mean} ± ${floor.std}`,
  );
  assert.equal(kidSplitHalfFloor(train, CONV_ENCODER.dim, { subsetSize: 20 }).subsetSize, 20);
  assert.throws(
    () => kidSplitHalfFloor(train.subarray(0, 3 * CONV_ENCODER.dim), CONV_ENCODER.dim),
    RangeError,
  );
});

// ---------------------------------------------------------------- features

Deno.test("randomConvFeatures: deterministic, per-image, input-sensitive, documented weights", () => {
  const imgs = discs(5, 7);
  const f1 = randomConvFeatures(imgs, 5), f2 = randomConvFeatures(imgs, 5);
  assert.equal(f1.length, 5 * 256);
  assert.deepEqual(f1, f2);
  assert.ok(f1.every((v) => Number.isFinite(v) && v >= 0));
  // Each image's features do not depend on the rest of the batch.
  assert.deepEqual(randomConvFeatures(imgs.slice(3 * PER, 4 * PER), 1), f1.slice(3 * 256, 4 * 256));
  // Different images → different features; features are not all zero.
  for (let i = 1; i < 5; i++) assert.notDeepEqual(f1.slice(0, 256), f1.slice(i * 256, (i + 1) * 256));
  assert.ok(f1.some((v) => v > 0));
  // Weights: He-normal drawn from Rng(1234) in layer, HWIO order.
  const w = convEncoderWeights();
  assert.deepEqual(w.map((l) => l.length), [27 * 32, 288 * 64, 576 * 128]);
  const rng = new Rng(1234);
  close(w[0][0], rng.normal() * Math.sqrt(2 / 27), 0, "w1[0]");
  close(w[0][1], rng.normal() * Math.sqrt(2 / 27), 0, "w1[1]");
  for (let i = 2; i < 27 * 32; i++) rng.normal();
  close(w[1][0], rng.normal() * Math.sqrt(2 / 288), 0, "w2[0]");
  let ss = 0;
  for (const v of w[2]) ss += v * v;
  close(ss / w[2].length, 2 / 576, 0.1 * 2 / 576, "layer 3 weight variance");
  // Other sizes work (each layer maps s to ⌈s/2⌉).
  assert.equal(randomConvFeatures(discs(2, 3, 20), 2, 20).length, 512);
  assert.throws(() => randomConvFeatures(imgs, 4), RangeError);
});

/** Independent, slow implementation of the encoder exactly as documented in features.ts. */
function referenceConvFeatures(img: Float32Array, size: number): number[] {
  const weights = convEncoderWeights();
  let x: number[][][] = []; // [y][x][c]
  for (let y = 0; y < size; y++) {
    x.push([]);
    for (let xx = 0; xx < size; xx++) x[y].push([0, 1, 2].map((c) => img[(y * size + xx) * 3 + c]));
  }
  let cin = 3;
  for (let layer = 0; layer < 3; layer++) {
    const cout = CONV_ENCODER.channels[layer], s = x.length, os = Math.ceil(s / 2), w = weights[layer];
    const padded = (
      y: number,
      xx: number,
      c: number,
    ) => (y < 0 || xx < 0 || y >= s || xx >= s ? 0 : x[y][xx][c]);
    const next: number[][][] = [];
    for (let oy = 0; oy < os; oy++) {
      next.push([]);
      for (let ox = 0; ox < os; ox++) {
        const v: number[] = [];
        for (let co = 0; co < cout; co++) {
          let a = 0;
          for (let ky = 0; ky < 3; ky++) {
            for (let kx = 0; kx < 3; kx++) {
              for (let ci = 0; ci < cin; ci++) {
                a += padded(2 * oy + ky - 1, 2 * ox + kx - 1, ci) * w[((ky * 3 + kx) * cin + ci) * cout + co];
              }
            }
          }
          v.push(Math.max(0, a));
        }
        next[oy].push(v);
      }
    }
    x = next;
    cin = cout;
  }
  const flat = x.flat(), means: number[] = [], stds: number[] = [];
  for (let c = 0; c < cin; c++) {
    const vals = flat.map((v) => v[c]), mean = vals.reduce((a, b) => a + b, 0) / vals.length;
    means.push(mean);
    stds.push(Math.sqrt(vals.reduce((a, b) => a + (b - mean) ** 2, 0) / vals.length));
  }
  return [...means, ...stds];
}

Deno.test("randomConvFeatures: matches a naive implementation of the documented encoder", () => {
  for (const size of [32, 13]) {
    const img = discs(1, 50 + size, size);
    const fast = randomConvFeatures(img, 1, size), ref = referenceConvFeatures(img, size);
    assert.equal(fast.length, ref.length);
    // Same summation order in double precision, rounded to float32 once: bit-identical.
    ref.forEach((v, i) => assert.equal(fast[i], Math.fround(v), `feature ${i} at size ${size}`));
  }
});

Deno.test("pixelFeatures8: exact 4×4 box means at 32×32, mean preserved at other sizes", () => {
  const imgs = noise(2, 8);
  const f = pixelFeatures8(imgs, 2);
  assert.equal(f.length, 2 * PIXEL8_DIM);
  // Output (oy, ox, c) of image 1 is the mean of its 4×4 block.
  for (const [oy, ox, c] of [[0, 0, 0], [3, 5, 2], [7, 7, 1]]) {
    let s = 0;
    for (let y = 4 * oy; y < 4 * oy + 4; y++) {
      for (let x = 4 * ox; x < 4 * ox + 4; x++) s += imgs[PER + (y * 32 + x) * 3 + c];
    }
    close(f[PIXEL8_DIM + (oy * 8 + ox) * 3 + c], s / 16, 1e-6, `block ${oy},${ox},${c}`);
  }
  assert.ok(pixelFeatures8(constantImages(1, 0.25), 1).every((v) => Math.abs(v - 0.25) < 1e-7));
  // 12×12 → 8×8 with fractional overlaps: the mean of each channel is kept.
  const small = noise(1, 9, 12), r = areaResize(small, 1, 12, 8);
  for (let c = 0; c < 3; c++) {
    let a = 0, b = 0;
    for (let p = 0; p < 144; p++) a += small[p * 3 + c] / 144;
    for (let p = 0; p < 64; p++) b += r[p * 3 + c] / 64;
    close(b, a, 1e-6, `channel ${c} mean`);
  }
});

// ---------------------------------------------------------------- memorisation

Deno.test("memorisation: copies of training images are 100%, noise is 0%", () => {
  const train = discs(40, 12);
  const picks = [3, 17, 17, 0, 39, 25];
  const copies = new Float32Array(picks.length * PER);
  picks.forEach((t, i) => copies.set(train.subarray(t * PER, (t + 1) * PER), i * PER));
  const m = memorisation(copies, picks.length, train, 40);
  assert.equal(m.rate, 1);
  assert.equal(m.count, picks.length);
  assert.deepEqual(m.nnIndex, picks);
  assert.deepEqual(m.nnDistance, picks.map(() => 0));
  assert.ok(m.trainLooMedian > 0);
  close(m.threshold, 0.5 * m.trainLooMedian, 1e-12, "threshold");

  const n = memorisation(noise(30, 13), 30, train, 40);
  assert.equal(n.rate, 0);
  assert.ok(n.sampleNnMin > n.threshold);
  assert.equal(n.nnIndex.length, 30);
});

Deno.test("memorisation: the 0.5 × median leave-one-out rule, by hand on 1×1 images", () => {
  // Training grey levels −1, −0.8, −0.4, 0.1 (all channels): LOO NN distances √3·(0.2, 0.2, 0.4, 0.5),
  // median √3·0.3, threshold √3·0.15.
  const levels = [-1, -0.8, -0.4, 0.1];
  const train = Float32Array.from(levels.flatMap((v) => [v, v, v]));
  const loo = pixelNearestNeighbours(train, 4, train, 4, 1, true);
  assert.deepEqual(loo.index, [1, 0, 1, 2]);
  const s3 = Math.sqrt(3);
  const samples = Float32Array.from([-0.91, -0.69, 0.26, -0.2].flatMap((v) => [v, v, v]));
  const m = memorisation(samples, 4, train, 4, 1);
  close(m.trainLooMedian, s3 * 0.3, 1e-6, "median");
  close(m.threshold, s3 * 0.15, 1e-6, "threshold");
  // NN distances √3·(0.09, 0.11, 0.16, 0.2): only the first two are below √3·0.15.
  assert.deepEqual(m.nnIndex, [0, 1, 3, 2]);
  m.nnDistance.forEach((d, i) => close(d, s3 * [0.09, 0.11, 0.16, 0.2][i], 1e-6, `distance ${i}`));
  assert.equal(m.count, 2);
  assert.equal(m.rate, 0.5);
  assert.equal(memorisation(samples, 4, train, 4, 1, { factor: 0.2 }).count, 0);
});

Deno.test("realMemorisationRate: the rule on real images, by hand; itself is skipped, a duplicate is not", () => {
  // the 1×1 grey levels of the test above: LOO NN distances √3·(0.2, 0.2, 0.4, 0.5)
  const train = Float32Array.from([-1, -0.8, -0.4, 0.1].flatMap((v) => [v, v, v]));
  const s3 = Math.sqrt(3);
  assert.equal(realMemorisationRate(train, 4, train, 4, s3 * 0.3, 1), 0.5);
  assert.equal(realMemorisationRate(train, 4, train, 4, s3 * 0.45, 1), 0.75);
  // the last two images as the reference, measured against the whole set
  assert.equal(realMemorisationRate(train.slice(6), 2, train, 4, s3 * 0.45, 1), 0.5);
  // a duplicated image is a copy of the other one
  const dup = Float32Array.from([-1, -1, 0.5].flatMap((v) => [v, v, v]));
  assert.equal(realMemorisationRate(dup, 3, dup, 3, 0.01, 1), 2 / 3);
});

Deno.test("evaluate: the report's real-image rate is the training set's own LOO distances under the threshold", () => {
  const train = discs(40, 12);
  const r = evaluate(noise(8, 3), train, { numSubsets: 2, subsetSize: 4 });
  const m = r.memorisation;
  const want = m.trainLooDistance.filter((d) => d < m.threshold).length / 40;
  assert.equal(m.realRate, want);
});

Deno.test("closestPairs: closest first, with the matching training images", () => {
  const train = discs(10, 14);
  const samples = new Float32Array(4 * PER);
  const offsets = [0.3, 0.0, 0.1, 0.2], targets = [2, 5, 7, 9];
  targets.forEach((t, i) => {
    for (let k = 0; k < PER; k++) samples[i * PER + k] = train[t * PER + k] + offsets[i];
  });
  const m = memorisation(samples, 4, train, 10);
  const p = closestPairs(samples, train, m, 3);
  assert.equal(p.k, 3);
  assert.deepEqual(p.sampleIndex, [1, 2, 3]);
  assert.deepEqual(p.trainIndex, [5, 7, 9]);
  assert.deepEqual(p.samples.subarray(0, PER), samples.subarray(PER, 2 * PER));
  assert.deepEqual(p.train.subarray(2 * PER, 3 * PER), train.subarray(9 * PER, 10 * PER));
  assert.deepEqual(p.interleaved.subarray(3 * PER, 4 * PER), train.subarray(7 * PER, 8 * PER));
  assert.ok(p.distance[0] <= p.distance[1] && p.distance[1] <= p.distance[2]);
  assert.equal(closestPairs(samples, train, m, 99).k, 4);
});

// ---------------------------------------------------------------- colour, diversity

/** One size×size image filled with a [0, 1] RGB colour, in [−1, 1] units. */
function solid(rgb: [number, number, number], size = 2): Float32Array {
  const out = new Float32Array(size * size * 3);
  for (let p = 0; p < size * size; p++) for (let c = 0; c < 3; c++) out[p * 3 + c] = rgb[c] * 2 - 1;
  return out;
}

Deno.test("colourStats: hand-computed values on tiny images", () => {
  const red = colourStats(solid([1, 0, 0]), 1, 2);
  assert.deepEqual(red.all, { fraction: 1, saturation: 1, brightness: 1, channelMeans: [1, 0, 0] });
  assert.deepEqual(red.foreground, red.all);

  const orange = colourStats(solid([1, 0.5, 0.25]), 1, 2).all;
  close(orange.saturation, 0.75, 1e-7, "S");
  close(orange.brightness, 1, 1e-7, "V");

  const grey = colourStats(solid([0.5, 0.5, 0.5]), 1, 2).all;
  assert.equal(grey.saturation, 0);
  assert.equal(grey.brightness, 0.5);

  // Two images: red and black → half the pixels are foreground.
  const both = new Float32Array(2 * 12);
  both.set(solid([1, 0, 0]));
  both.set(solid([0, 0, 0]), 12);
  const c = colourStats(both, 2, 2);
  assert.deepEqual(c.all, { fraction: 1, saturation: 0.5, brightness: 0.5, channelMeans: [0.5, 0, 0] });
  assert.deepEqual(c.foreground, { fraction: 0.5, saturation: 1, brightness: 1, channelMeans: [1, 0, 0] });

  // Out-of-range values are clamped; an all-black set has an empty foreground.
  assert.deepEqual(colourStats(Float32Array.of(3, -1, -5), 1, 1).all.channelMeans, [1, 0, 0]);
  assert.equal(colourStats(constantImages(2, -1, 4), 2, 4).foreground.fraction, 0);
  // Near-black (V = 0.04 < 0.05) is background.
  assert.equal(colourStats(solid([0.04, 0, 0]), 1, 2).foreground.fraction, 0);
});

Deno.test("diversity: identical images give 0, hand-computed distances otherwise", () => {
  const same = new Float32Array(5 * PER);
  for (let i = 0; i < 5; i++) same.set(discs(1, 20), i * PER);
  assert.equal(meanPairwiseDistance(same, 5), 0);
  // Three 1×1 images at levels 0, 0.5, 1: distances √3·(0.5, 1, 0.5) → mean √3·2/3.
  const three = Float32Array.from([0, 0.5, 1].flatMap((v) => [v, v, v]));
  close(meanPairwiseDistance(three, 3, 1), (Math.sqrt(3) * 2) / 3, 1e-7, "mean distance");
  const train = discs(10, 21);
  const d = diversity(same, 5, train, 10);
  assert.equal(d.samples, 0);
  assert.ok(d.train > 0);
  assert.equal(d.ratio, 0);
  close(diversity(train, 10, train, 10).ratio, 1, 0, "ratio");
  assert.throws(() => meanPairwiseDistance(same.subarray(0, PER), 1), RangeError);
});

// ---------------------------------------------------------------- evaluate, report

Deno.test("evaluate: JSON-serialisable, deterministic, and sensible on copies vs noise", () => {
  const train = discs(40, 30);
  const copies = train.slice(0, 20 * PER);
  const opts = { seed: 4, numSubsets: 20 };
  const r = evaluate(copies, train, opts);
  assert.deepEqual(JSON.parse(JSON.stringify(r)), r);
  assert.deepEqual(evaluate(copies, train, opts), r);
  assert.equal(r.schema, "emoji-diffusion/eval@1");
  assert.equal(r.nSamples, 20);
  assert.equal(r.nTrain, 40);
  assert.equal(r.memorisation.rate, 1);
  assert.equal(r.kid.conv.dim, 256);
  assert.equal(r.kid.pixels8.dim, 192);
  assert.equal(r.kid.conv.subsetSize, 20);
  assert.equal(r.kid.conv.floor.subsetSize, 20);

  const bad = evaluate(noise(20, 31), train, opts);
  assert.equal(bad.memorisation.rate, 0);
  assert.ok(bad.kid.conv.mean > bad.kid.conv.floor.mean + 5 * bad.kid.conv.floor.std);
  assert.ok(bad.kid.pixels8.mean > bad.kid.pixels8.floor.mean + 5 * bad.kid.pixels8.floor.std);
  assert.ok(bad.kid.conv.mean > 10 * Math.abs(r.kid.conv.mean));
  assert.ok(bad.colour.samples.all.brightness > r.colour.samples.all.brightness);

  assert.throws(() => evaluate(copies, train, { nSamples: 19 }), RangeError);
  assert.throws(() => evaluate(copies.subarray(1), train), RangeError);
  const stages: string[] = [];
  evaluate(copies, train, { ...opts, onProgress: (s) => stages.push(s) });
  assert.deepEqual(stages, [
    "conv features",
    "conv KID",
    "pixel KID",
    "memorisation",
    "colour",
    "diversity",
    "precision and recall",
    "near-copies",
  ]);
});

Deno.test("formatReportMarkdown: all sections, meta fields and the pairs image", () => {
  const train = discs(24, 40), samples = discs(12, 41);
  const r = evaluate(samples, train, { numSubsets: 10 });
  const md = formatReportMarkdown(r, {
    title: "Eval at step 500",
    fields: { checkpoint: "ckpt-500" },
    pairsImage: "pairs.png",
  });
  for (
    const s of [
      "# Eval at step 500",
      "| checkpoint | ckpt-500 |",
      "## KID",
      "## Memorisation",
      "## Colour",
      "## Diversity",
    ]
  ) {
    assert.ok(md.includes(s), `missing ${s}`);
  }
  assert.ok(md.includes("![closest sample/training pairs](pairs.png)"));
  assert.ok(!md.includes("NaN") && !md.includes("undefined"));
  assert.ok(!formatReportMarkdown(r).includes("!["));
});
