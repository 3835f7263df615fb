/**
 * Two fixed feature spaces for KID that need no download and give bit-identical features on
 * every machine (plain JS, double-precision accumulation, no backend):
 *
 * - **Random conv encoder** ({@linkcode randomConvFeatures}, d = 256). Exactly:
 *   1. Input: the image as is (NHWC, values in [−1, 1], no normalisation).
 *   2. Three 3×3 convolutions, stride 2, zero padding 1, no bias, each followed by ReLU, with
 *      32, 64 and 128 output channels (32×32 → 16×16×32 → 8×8×64 → 4×4×128). For other sizes
 *      each layer maps s×s to ⌈s/2⌉×⌈s/2⌉.
 *   3. Weights: He-normal, w = N(0, 1)·√(2 / (9·C_in)), drawn from `new Rng(1234).normal()`
 *      layer by layer (layer 1, 2, 3), each layer in HWIO order
 *      (index `((ky·3 + kx)·C_in + ci)·C_out + co`), kept in a Float64Array.
 *   4. Features: the per-channel spatial mean of the last layer (128 values, global average
 *      pool) followed by the per-channel spatial standard deviation (population, 128 values).
 * - **8×8 pixels** ({@linkcode pixelFeatures8}, d = 192): each image area-downsampled to 8×8
 *   (exact box filter, fractional overlaps when the size is not a multiple of 8), values left
 *   in [−1, 1], flattened HWC.
 *
 * @module
 */
import { Rng } from "../core/rng.ts";
import { checkImages } from "./common.ts";

/**
 * The documented definition of the random conv encoder behind {@linkcode randomConvFeatures}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CONV_ENCODER } from "./features.ts";
 * assert.equal(CONV_ENCODER.dim, 2 * CONV_ENCODER.channels[2]);
 * ```
 */
export const CONV_ENCODER: {
  readonly seed: number;
  readonly channels: readonly [number, number, number];
  readonly kernel: number;
  readonly stride: number;
  readonly padding: number;
  readonly dim: number;
} = Object.freeze({
  seed: 1234,
  channels: [32, 64, 128] as const,
  kernel: 3,
  stride: 2,
  padding: 1,
  dim: 256,
});

/**
 * Feature dimension of {@linkcode pixelFeatures8}: 8·8·3.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PIXEL8_DIM } from "./features.ts";
 * assert.equal(PIXEL8_DIM, 192);
 * ```
 */
export const PIXEL8_DIM = 192;

let cachedWeights: Float64Array[] | null = null;

/**
 * The He-normal weights of the random conv encoder, one HWIO Float64Array per layer, drawn
 * from `Rng(CONV_ENCODER.seed)` as documented in the module header. Computed once and cached;
 * the returned arrays are shared, do not modify them.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { convEncoderWeights } from "./features.ts";
 * const w = convEncoderWeights();
 * assert.equal(w.length, 3);
 * assert.equal(w[0].length, 3 * 3 * 3 * 32);
 * ```
 */
export function convEncoderWeights(): Float64Array[] {
  if (cachedWeights) return cachedWeights;
  const rng = new Rng(CONV_ENCODER.seed);
  const layers: Float64Array[] = [];
  let cin = 3;
  for (const cout of CONV_ENCODER.channels) {
    const fanIn = 9 * cin;
    const std = Math.sqrt(2 / fanIn);
    const w = new Float64Array(fanIn * cout);
    for (let i = 0; i < w.length; i++) w[i] = rng.normal() * std;
    layers.push(w);
    cin = cout;
  }
  cachedWeights = layers;
  return layers;
}

/** 3×3 conv, stride 2, zero padding 1, no bias, ReLU; HWC in, HWC out. */
function convS2Relu(
  input: Float64Array,
  h: number,
  w: number,
  cin: number,
  weights: Float64Array,
  cout: number,
  out: Float64Array,
): void {
  const oh = Math.ceil(h / 2), ow = Math.ceil(w / 2);
  const acc = new Float64Array(cout);
  for (let oy = 0; oy < oh; oy++) {
    for (let ox = 0; ox < ow; ox++) {
      acc.fill(0);
      for (let ky = 0; ky < 3; ky++) {
        const iy = oy * 2 - 1 + ky;
        if (iy < 0 || iy >= h) continue;
        for (let kx = 0; kx < 3; kx++) {
          const ix = ox * 2 - 1 + kx;
          if (ix < 0 || ix >= w) continue;
          const inBase = (iy * w + ix) * cin;
          const wBase = (ky * 3 + kx) * cin * cout;
          for (let ci = 0; ci < cin; ci++) {
            const v = input[inBase + ci];
            if (v === 0) continue; // post-ReLU inputs are often exactly 0; skipping adds +0 only
            const wo = wBase + ci * cout;
            for (let co = 0; co < cout; co++) acc[co] += v * weights[wo + co];
          }
        }
      }
      const ob = (oy * ow + ox) * cout;
      for (let co = 0; co < cout; co++) out[ob + co] = acc[co] > 0 ? acc[co] : 0;
    }
  }
}

/**
 * Random-conv-encoder features (d = {@linkcode CONV_ENCODER}.dim = 256) for `n` images of
 * `size`×`size` in NHWC layout with values in [−1, 1]. The encoder is fully specified in the
 * module header (3 conv layers 3×3 stride 2 + ReLU, channels 32/64/128, He-normal weights from
 * `Rng(1234)`, then per-channel spatial mean and std). Returns `n × 256` values, row-major.
 * Deterministic and machine-independent: plain JS in double precision, rounded to float32 once.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { randomConvFeatures } from "./features.ts";
 * const img = new Float32Array(32 * 32 * 3).map((_, i) => Math.sin(i));
 * const f = randomConvFeatures(img, 1, 32);
 * assert.equal(f.length, 256);
 * assert.ok(f.every((v) => v >= 0));
 * ```
 */
export function randomConvFeatures(images: Float32Array, n: number, size = 32): Float32Array {
  const per = checkImages(images, n, size);
  const weights = convEncoderWeights();
  const [c1, c2, c3] = CONV_ENCODER.channels;
  const s1 = Math.ceil(size / 2), s2 = Math.ceil(s1 / 2), s3 = Math.ceil(s2 / 2);
  const x0 = new Float64Array(per);
  const x1 = new Float64Array(s1 * s1 * c1);
  const x2 = new Float64Array(s2 * s2 * c2);
  const x3 = new Float64Array(s3 * s3 * c3);
  const dim = CONV_ENCODER.dim;
  const out = new Float32Array(n * dim);
  const positions = s3 * s3;
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < per; k++) x0[k] = images[i * per + k];
    convS2Relu(x0, size, size, 3, weights[0], c1, x1);
    convS2Relu(x1, s1, s1, c1, weights[1], c2, x2);
    convS2Relu(x2, s2, s2, c2, weights[2], c3, x3);
    for (let c = 0; c < c3; c++) {
      let sum = 0;
      for (let p = 0; p < positions; p++) sum += x3[p * c3 + c];
      const mean = sum / positions;
      let ss = 0;
      for (let p = 0; p < positions; p++) {
        const d = x3[p * c3 + c] - mean;
        ss += d * d;
      }
      out[i * dim + c] = mean;
      out[i * dim + c3 + c] = Math.sqrt(ss / positions);
    }
  }
  return out;
}

/** Box-filter weights mapping `size` source pixels to `outSize` output pixels (rows sum to 1). */
function areaWeights(size: number, outSize: number): Float64Array {
  const w = new Float64Array(outSize * size);
  const scale = size / outSize;
  for (let o = 0; o < outSize; o++) {
    const lo = o * scale, hi = (o + 1) * scale;
    for (let x = Math.floor(lo); x < Math.min(size, Math.ceil(hi)); x++) {
      const overlap = Math.min(hi, x + 1) - Math.max(lo, x);
      if (overlap > 0) w[o * size + x] = overlap / scale;
    }
  }
  return w;
}

/**
 * Area-downsamples (or box-resamples) `n` RGB images from `size`×`size` to `outSize`×`outSize`
 * with an exact box filter: each output pixel is the area-weighted mean of the source pixels it
 * covers. Returns `n × outSize × outSize × 3` values (NHWC), same value range as the input.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { areaResize } from "./features.ts";
 * const img = new Float32Array(4 * 4 * 3).fill(0.5);
 * const small = areaResize(img, 1, 4, 2);
 * assert.equal(small.length, 12);
 * assert.ok(small.every((v) => Math.abs(v - 0.5) < 1e-7));
 * ```
 */
export function areaResize(images: Float32Array, n: number, size: number, outSize: number): Float32Array {
  const per = checkImages(images, n, size);
  if (!Number.isInteger(outSize) || outSize < 1) throw new RangeError(`outSize must be a positive integer`);
  const w = areaWeights(size, outSize);
  const rows = new Float64Array(outSize * size * 3); // vertically reduced: [oy][x][c]
  const out = new Float32Array(n * outSize * outSize * 3);
  for (let i = 0; i < n; i++) {
    const base = i * per;
    rows.fill(0);
    for (let oy = 0; oy < outSize; oy++) {
      for (let y = 0; y < size; y++) {
        const wy = w[oy * size + y];
        if (wy === 0) continue;
        const src = base + y * size * 3, dst = oy * size * 3;
        for (let k = 0; k < size * 3; k++) rows[dst + k] += wy * images[src + k];
      }
    }
    const ob = i * outSize * outSize * 3;
    for (let oy = 0; oy < outSize; oy++) {
      for (let ox = 0; ox < outSize; ox++) {
        let r = 0, g = 0, b = 0;
        for (let x = 0; x < size; x++) {
          const wx = w[ox * size + x];
          if (wx === 0) continue;
          const s = (oy * size + x) * 3;
          r += wx * rows[s];
          g += wx * rows[s + 1];
          b += wx * rows[s + 2];
        }
        const d = ob + (oy * outSize + ox) * 3;
        out[d] = r;
        out[d + 1] = g;
        out[d + 2] = b;
      }
    }
  }
  return out;
}

/**
 * 8×8 RGB pixel features (d = {@linkcode PIXEL8_DIM} = 192): each image area-downsampled to
 * 8×8 with {@linkcode areaResize}, values kept in [−1, 1], flattened HWC. Returns `n × 192`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { pixelFeatures8 } from "./features.ts";
 * const img = new Float32Array(32 * 32 * 3).fill(-1);
 * const f = pixelFeatures8(img, 1, 32);
 * assert.equal(f.length, 192);
 * assert.ok(f.every((v) => v === -1));
 * ```
 */
export function pixelFeatures8(images: Float32Array, n: number, size = 32): Float32Array {
  return areaResize(images, n, size, 8);
}
