/**
 * Colours: parsing `--background` values, hex formatting, and compositing straight-alpha RGBA over an
 * opaque background. Backend-free, on plain typed arrays; needs no permissions.
 *
 * @module
 */

/** An opaque colour as `[r, g, b]`, each 0…255. */
export type Rgb = [number, number, number];

/**
 * Parses a background colour: `black`, `white`, or `#rrggbb` (case-insensitive).
 * Throws a RangeError naming the value and the accepted forms.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseColor } from "./colour.ts";
 * assert.equal(parseColor("#ff8000").join(), "255,128,0");
 * assert.equal(parseColor("white").join(), "255,255,255");
 * ```
 */
export function parseColor(value: string): Rgb {
  const v = value.trim().toLowerCase();
  if (v === "black") return [0, 0, 0];
  if (v === "white") return [255, 255, 255];
  const m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/.exec(v);
  if (m) return [parseInt(m[1], 16), parseInt(m[2], 16), parseInt(m[3], 16)];
  throw new RangeError(`colour "${value}" is unknown: choose one of black, white, #rrggbb`);
}

/**
 * Formats a colour as `#rrggbb`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { colorToHex } from "./colour.ts";
 * assert.equal(colorToHex([255, 128, 0]), "#ff8000");
 * ```
 */
export function colorToHex(c: Rgb): string {
  return "#" + c.map((x) => Math.round(x).toString(16).padStart(2, "0")).join("");
}

/**
 * Composites straight-alpha RGBA pixels over an opaque background colour:
 * `out = α·fg + (1 − α)·bg` with `α = a/255`, per channel. Returns unrounded RGB floats in [0, 255]
 * (`pixels·3` values) so that a following resize loses no precision; round once at the end.
 *
 * @param rgba RGBA bytes (any length divisible by 4)
 * @param bg the background colour
 *
 * @example Half-transparent red over white
 * ```ts
 * import assert from "node:assert/strict";
 * import { compositeOver } from "./colour.ts";
 * const out = compositeOver(Uint8Array.of(255, 0, 0, 51), [255, 255, 255]);
 * assert.equal(out.join(), "255,204,204");
 * ```
 */
export function compositeOver(rgba: ArrayLike<number>, bg: Rgb): Float32Array {
  if (rgba.length % 4 !== 0) throw new RangeError(`RGBA data length ${rgba.length} is not a multiple of 4`);
  const n = rgba.length / 4;
  const out = new Float32Array(n * 3);
  for (let i = 0; i < n; i++) {
    const a = rgba[i * 4 + 3] / 255;
    for (let c = 0; c < 3; c++) out[i * 3 + c] = a * rgba[i * 4 + c] + (1 - a) * bg[c];
  }
  return out;
}
