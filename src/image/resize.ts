/**
 * Resizing on plain typed arrays (row-major, channels last): area-averaging resize, which never
 * aliases a downscale, and a centred square crop.
 *
 * @module
 */

/** For each destination index, the source indices it covers and their weights (summing to 1). */
function areaWeights(
  srcLen: number,
  dstLen: number,
): { idx: Int32Array; w: Float64Array; start: Int32Array } {
  const scale = srcLen / dstLen;
  const idx: number[] = [];
  const w: number[] = [];
  const start = new Int32Array(dstLen + 1);
  for (let d = 0; d < dstLen; d++) {
    start[d] = idx.length;
    const lo = d * scale, hi = (d + 1) * scale;
    for (let s = Math.floor(lo); s < Math.min(Math.ceil(hi), srcLen); s++) {
      const overlap = Math.min(hi, s + 1) - Math.max(lo, s);
      if (overlap > 1e-12) {
        idx.push(s);
        w.push(overlap / scale);
      }
    }
  }
  start[dstLen] = idx.length;
  return { idx: Int32Array.from(idx), w: Float64Array.from(w), start };
}

/**
 * Resizes an HWC image by area averaging: each output pixel is the mean of the source over its exact
 * footprint (a box filter whose weights are the overlap lengths), so non-integer ratios such as
 * 3 → 2 are handled exactly. Separable: rows, then columns. Works for upscaling too (then each output
 * pixel takes the source pixel(s) it lies over).
 *
 * @param src source pixels, `srcH·srcW·channels` values
 * @param srcW source width
 * @param srcH source height
 * @param channels values per pixel
 * @param dstW output width
 * @param dstH output height
 * @returns a new Float32Array of `dstH·dstW·channels` values (unrounded)
 *
 * @example 4×4 → 2×2 takes the mean of each 2×2 block
 * ```ts
 * import assert from "node:assert/strict";
 * import { areaResize } from "./resize.ts";
 * const src = Float32Array.from({ length: 16 }, (_, i) => i);
 * const out = areaResize(src, 4, 4, 1, 2, 2);
 * assert.equal(out.join(), "2.5,4.5,10.5,12.5");
 * ```
 */
export function areaResize(
  src: ArrayLike<number>,
  srcW: number,
  srcH: number,
  channels: number,
  dstW: number,
  dstH: number,
): Float32Array {
  for (const [k, v] of Object.entries({ srcW, srcH, channels, dstW, dstH })) {
    if (!Number.isInteger(v) || v < 1) {
      throw new RangeError(`areaResize: ${k} must be a positive integer, got ${v}`);
    }
  }
  if (src.length !== srcW * srcH * channels) {
    throw new RangeError(`areaResize: expected ${srcW * srcH * channels} values, got ${src.length}`);
  }
  const wx = areaWeights(srcW, dstW), wy = areaWeights(srcH, dstH);
  // Horizontal pass: srcH × dstW.
  const tmp = new Float64Array(srcH * dstW * channels);
  for (let y = 0; y < srcH; y++) {
    for (let x = 0; x < dstW; x++) {
      const o = (y * dstW + x) * channels;
      for (let k = wx.start[x]; k < wx.start[x + 1]; k++) {
        const i = (y * srcW + wx.idx[k]) * channels, w = wx.w[k];
        for (let c = 0; c < channels; c++) tmp[o + c] += w * src[i + c];
      }
    }
  }
  // Vertical pass: dstH × dstW.
  const acc = new Float64Array(dstH * dstW * channels);
  for (let y = 0; y < dstH; y++) {
    for (let k = wy.start[y]; k < wy.start[y + 1]; k++) {
      const row = wy.idx[k] * dstW * channels, w = wy.w[k];
      const o = y * dstW * channels;
      for (let j = 0; j < dstW * channels; j++) acc[o + j] += w * tmp[row + j];
    }
  }
  return Float32Array.from(acc);
}

/**
 * Crops the largest centred square out of an HWC image (the notebook's Resize + CenterCrop, in the
 * order crop-then-resize). Returns the input itself when it is already square.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { centerCropSquare } from "./resize.ts";
 * const { data, side } = centerCropSquare(Float32Array.of(1, 2, 3), 3, 1, 1);
 * assert.equal(side, 1);
 * assert.equal(data[0], 2);
 * ```
 */
export function centerCropSquare<A extends Float32Array | Uint8Array>(
  src: A,
  width: number,
  height: number,
  channels: number,
): { data: A; side: number } {
  if (width === height) return { data: src, side: width };
  const side = Math.min(width, height);
  const x0 = Math.floor((width - side) / 2), y0 = Math.floor((height - side) / 2);
  const out = new (src.constructor as { new (n: number): A })(side * side * channels);
  for (let y = 0; y < side; y++) {
    const from = ((y + y0) * width + x0) * channels;
    out.set(src.subarray(from, from + side * channels), y * side * channels);
  }
  return { data: out, side };
}
