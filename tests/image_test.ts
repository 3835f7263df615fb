import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../src/backend/select.ts";
import { areaResize, centerCropSquare } from "../src/image/resize.ts";
import { colorToHex, compositeOver, parseColor } from "../src/image/colour.ts";
import { decodeImage, encodePng } from "../src/image/codec.ts";
import { floatToRgb8, rgb8ToFloat, roundToBytes, tensorToRgb8 } from "../src/image/pixels.ts";
import { makeGrid, stackVertical } from "../src/image/grid.ts";

function assertArrayClose(actual: ArrayLike<number>, expected: number[], eps = 1e-4) {
  assert.equal(actual.length, expected.length, "length");
  for (let i = 0; i < expected.length; i++) {
    assert.ok(
      Math.abs(actual[i] - expected[i]) <= eps,
      `index ${i}: got ${actual[i]}, expected ${expected[i]}`,
    );
  }
}

Deno.test("compositeOver: hand-computed pixels over black", () => {
  // Opaque, fully transparent, α = 102/255 = 0.4, α = 51/255 = 0.2.
  const rgba = Uint8Array.of(200, 100, 50, 255, 200, 100, 50, 0, 200, 100, 50, 102, 10, 250, 0, 51);
  assertArrayClose(compositeOver(rgba, [0, 0, 0]), [200, 100, 50, 0, 0, 0, 80, 40, 20, 2, 50, 0]);
});

Deno.test("compositeOver: hand-computed pixels over white and #102030", () => {
  const rgba = Uint8Array.of(200, 100, 50, 255, 200, 100, 50, 0, 200, 100, 50, 102);
  // 0.4·200 + 0.6·255 = 233, 0.4·100 + 153 = 193, 0.4·50 + 153 = 173.
  assertArrayClose(compositeOver(rgba, [255, 255, 255]), [200, 100, 50, 255, 255, 255, 233, 193, 173]);
  // 0.4·200 + 0.6·16 = 89.6, 0.4·100 + 0.6·32 = 59.2, 0.4·50 + 0.6·48 = 48.8.
  assertArrayClose(compositeOver(rgba, [16, 32, 48]), [200, 100, 50, 16, 32, 48, 89.6, 59.2, 48.8]);
  // Colour under a fully transparent pixel never leaks (no premultiplication mistake).
  assertArrayClose(compositeOver(Uint8Array.of(255, 255, 255, 0), [0, 0, 0]), [0, 0, 0]);
  assert.throws(() => compositeOver(Uint8Array.of(1, 2, 3), [0, 0, 0]), RangeError);
});

Deno.test("areaResize: 4x4 -> 2x2 is the mean of each 2x2 block", () => {
  const src = Float32Array.from({ length: 16 }, (_, i) => i);
  assertArrayClose(areaResize(src, 4, 4, 1, 2, 2), [2.5, 4.5, 10.5, 12.5]);
  // Two channels stay separate.
  const two = Float32Array.from({ length: 32 }, (_, i) => (i % 2 === 0 ? i / 2 : 100));
  assertArrayClose(areaResize(two, 4, 4, 2, 2, 2), [2.5, 100, 4.5, 100, 10.5, 100, 12.5, 100]);
});

Deno.test("areaResize: 3x3 -> 2x2 weighs the exact footprint (non-integer ratio)", () => {
  // Each output covers 1.5x1.5 source pixels: 1D weights (2/3, 1/3, 0) and (0, 1/3, 2/3).
  const centre = Float32Array.of(0, 0, 0, 0, 9, 0, 0, 0, 0);
  assertArrayClose(areaResize(centre, 3, 3, 1, 2, 2), [1, 1, 1, 1]);
  const corner = Float32Array.of(9, 0, 0, 0, 0, 0, 0, 0, 0);
  assertArrayClose(areaResize(corner, 3, 3, 1, 2, 2), [4, 0, 0, 0]);
  // v = 0..8 row-major: out[0][0] = (4·0 + 2·1 + 2·3 + 1·4)/9 = 12/9.
  const ramp = Float32Array.from({ length: 9 }, (_, i) => i);
  assertArrayClose(areaResize(ramp, 3, 3, 1, 2, 2), [12 / 9, 24 / 9, 48 / 9, 60 / 9]);
  // Non-square: 5x1 -> 2x1, footprints [0, 2.5) and [2.5, 5).
  assertArrayClose(areaResize(Float32Array.of(0, 10, 20, 30, 40), 5, 1, 1, 2, 1), [8, 32]);
  // The mean is preserved for any ratio.
  const rnd = Float32Array.from({ length: 7 * 5 }, (_, i) => (i * 37) % 11);
  const out = areaResize(rnd, 7, 5, 1, 3, 2);
  const mean = (a: ArrayLike<number>) => Array.from(a).reduce((s, v) => s + v, 0) / a.length;
  assert.ok(Math.abs(mean(out) - mean(rnd)) < 1e-5);
});

Deno.test("areaResize: identity and upscale replicate pixels", () => {
  const src = Float32Array.of(1, 2, 3, 4);
  assertArrayClose(areaResize(src, 2, 2, 1, 2, 2), [1, 2, 3, 4]);
  assertArrayClose(areaResize(Float32Array.of(5, 7), 2, 1, 1, 4, 1), [5, 5, 7, 7]);
  assert.throws(() => areaResize(src, 2, 2, 1, 0, 2), RangeError);
  assert.throws(() => areaResize(src, 3, 2, 1, 1, 1), RangeError);
});

Deno.test("centerCropSquare takes the centred square", () => {
  // 4 wide, 2 high, 1 channel: columns 1..2 survive.
  const { data, side } = centerCropSquare(Float32Array.of(0, 1, 2, 3, 4, 5, 6, 7), 4, 2, 1);
  assert.deepEqual(side, 2);
  assert.deepEqual(Array.from(data), [1, 2, 5, 6]);
  const tall = centerCropSquare(Uint8Array.of(0, 1, 2), 1, 3, 1);
  assert.deepEqual(Array.from(tall.data), [1]);
});

Deno.test("float <-> uint8 conversions clip, round and round-trip", () => {
  assert.deepEqual(Array.from(floatToRgb8([-5, -1, -0.5, 0, 0.5, 1, 7, NaN])), [
    0,
    0,
    64,
    128,
    191,
    255,
    255,
    0,
  ]);
  const all = Uint8Array.from({ length: 256 }, (_, i) => i);
  assert.deepEqual(Array.from(floatToRgb8(rgb8ToFloat(all))), Array.from(all));
  assert.deepEqual(Array.from(roundToBytes([-1, 0.49, 0.5, 254.6, 999])), [0, 0, 1, 255, 255]);
});

Deno.test("tensorToRgb8 reads a tensor asynchronously", async () => {
  await initBackend("cpu", { log: null });
  const t = tf.tensor4d([-1, 0, 1, 2, -2, 0.5], [1, 1, 2, 3]);
  assert.deepEqual(Array.from(await tensorToRgb8(t)), [0, 128, 255, 255, 0, 191]);
  t.dispose();
});

Deno.test("parseColor and colorToHex", () => {
  assert.deepEqual(parseColor("black"), [0, 0, 0]);
  assert.deepEqual(parseColor("WHITE"), [255, 255, 255]);
  assert.deepEqual(parseColor("#0a0B0c"), [10, 11, 12]);
  assert.deepEqual(colorToHex([10, 11, 12]), "#0a0b0c");
  assert.throws(() => parseColor("red"), /black, white, #rrggbb/);
  assert.throws(() => parseColor("#12345"), RangeError);
});

Deno.test("makeGrid: layout, gutters, scale and empty cells", () => {
  // Three 2x2 images with values -1, 0, 1 (bytes 0, 128, 255) in a 2x2 grid, scale 2, gutter 1.
  const per = 2 * 2 * 3;
  const imgs = new Float32Array(3 * per);
  imgs.fill(-1, 0, per);
  imgs.fill(0, per, 2 * per);
  imgs.fill(1, 2 * per);
  const g = makeGrid(imgs, 2, 2, 2, { gutter: 1, scale: 2, gutterColor: [9, 8, 7] });
  assert.deepEqual([g.width, g.height], [9, 9]);
  const px = (x: number, y: number) =>
    Array.from(g.rgba.slice((y * g.width + x) * 4, (y * g.width + x) * 4 + 4));
  assert.deepEqual(px(0, 0), [0, 0, 0, 255]);
  assert.deepEqual(px(3, 3), [0, 0, 0, 255]);
  assert.deepEqual(px(4, 0), [9, 8, 7, 255]); // vertical gutter
  assert.deepEqual(px(5, 0), [128, 128, 128, 255]); // second image, top-left
  assert.deepEqual(px(8, 3), [128, 128, 128, 255]);
  assert.deepEqual(px(0, 4), [9, 8, 7, 255]); // horizontal gutter
  assert.deepEqual(px(0, 5), [255, 255, 255, 255]); // third image, second row
  assert.deepEqual(px(6, 6), [9, 8, 7, 255]); // empty fourth cell
  assert.throws(() => makeGrid(imgs, 1, 2, 2), /do not fit/);
  assert.throws(() => makeGrid(imgs.subarray(1), 2, 2, 2), RangeError);
});

Deno.test("makeGrid: uint8 input, margin, grey and non-square images", () => {
  const g = makeGrid(Uint8Array.of(10, 20, 30, 40, 50, 60), 1, 1, 1, { width: 2, margin: 1 });
  assert.deepEqual([g.width, g.height], [4, 3]);
  assert.deepEqual(Array.from(g.rgba.slice((1 * 4 + 1) * 4, (1 * 4 + 3) * 4)), [
    10,
    20,
    30,
    255,
    40,
    50,
    60,
    255,
  ]);
  const grey = makeGrid(Float32Array.of(1), 1, 1, 1, { channels: 1 });
  assert.deepEqual(Array.from(grey.rgba), [255, 255, 255, 255]);
});

Deno.test("stackVertical puts blocks under each other with a gap", () => {
  const a = { width: 2, height: 1, rgba: new Uint8Array(8).fill(1) };
  const b = { width: 1, height: 1, rgba: Uint8Array.of(2, 2, 2, 255) };
  const s = stackVertical([a, b], 1, [7, 7, 7]);
  assert.deepEqual([s.width, s.height], [2, 3]);
  assert.deepEqual(Array.from(s.rgba.slice(8, 12)), [7, 7, 7, 255]);
  assert.deepEqual(Array.from(s.rgba.slice(16, 24)), [2, 2, 2, 255, 7, 7, 7, 255]);
});

Deno.test("encodePng is deterministic and decodeImage round-trips RGB and RGBA", async () => {
  const rgba = Uint8Array.from({ length: 3 * 2 * 4 }, (_, i) => (i * 41) % 256);
  const a = await encodePng(rgba, 3, 2), b = await encodePng(rgba, 3, 2);
  assert.deepEqual(a, b);
  const back = await decodeImage(a);
  assert.deepEqual([back.width, back.height], [3, 2]);
  assert.deepEqual(back.rgba, rgba);
  const rgb = await decodeImage(await encodePng(Uint8Array.of(1, 2, 3, 4, 5, 6), 2, 1));
  assert.deepEqual(Array.from(rgb.rgba), [1, 2, 3, 255, 4, 5, 6, 255]);
  await assert.rejects(() => decodeImage(new TextEncoder().encode("not an image at all")));
  await assert.rejects(() => decodeImage(a.slice(0, 20)));
  await assert.rejects(() => encodePng(rgba, 5, 5));
});
