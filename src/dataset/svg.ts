/**
 * Rasterising SVG with resvg (`@resvg/resvg-wasm`, the reference-quality Rust renderer compiled to
 * wasm: no native binary). The wasm module is read from the npm package and instantiated once, on first
 * use. Needs `--allow-read` (the wasm file) and, to decode the PNG resvg writes,
 * `--allow-env --allow-ffi` (imagescript).
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { type DecodedImage, decodeImage } from "../image/codec.ts";

/** The pinned resvg package, as recorded in dataset manifests. */
export const RESVG_PACKAGE = "@resvg/resvg-wasm@2.6.2";

/** An SVG that resvg cannot parse or render; `message` gives resvg's reason. */
export class SvgRenderError extends Error {
  /** Always `SvgRenderError`. */
  override name = "SvgRenderError";
}

type ResvgModule = typeof import("@resvg/resvg-wasm");
let resvg: Promise<ResvgModule> | null = null;

function loadResvg(): Promise<ResvgModule> {
  resvg ??= (async () => {
    const mod = await import("@resvg/resvg-wasm");
    const wasm = await Deno.readFile(fileURLToPath(import.meta.resolve("@resvg/resvg-wasm/index_bg.wasm")));
    await mod.initWasm(wasm);
    return mod;
  })();
  return resvg;
}

/**
 * Renders an SVG document to straight-alpha RGBA pixels, scaled so that its width is `width` pixels
 * (the height follows the SVG's aspect ratio). Throws an {@linkcode SvgRenderError} for a document
 * resvg cannot parse, or one that renders to nothing (zero size).
 *
 * @example A 4×4 SVG, red left half, rendered at 8 px
 * ```ts
 * import assert from "node:assert/strict";
 * import { rasterizeSvg } from "./svg.ts";
 * const svg = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 4 4"><rect width="2" height="4" fill="#f00"/></svg>';
 * const img = await rasterizeSvg(svg, 8);
 * assert.deepEqual([img.width, img.height], [8, 8]);
 * assert.deepEqual(Array.from(img.rgba.slice(0, 4)), [255, 0, 0, 255]); // top-left: red, opaque
 * assert.equal(img.rgba[(0 * 8 + 7) * 4 + 3], 0); // top-right: transparent
 * ```
 */
export async function rasterizeSvg(svg: string | Uint8Array, width: number): Promise<DecodedImage> {
  if (!Number.isInteger(width) || width < 1 || width > 4096) {
    throw new RangeError(`rasterizeSvg: width must be an integer in [1, 4096], got ${width}`);
  }
  const { Resvg } = await loadResvg();
  let png: Uint8Array;
  try {
    const r = new Resvg(svg, { fitTo: { mode: "width", value: width } });
    try {
      const rendered = r.render();
      try {
        png = rendered.asPng();
      } finally {
        rendered.free();
      }
    } finally {
      r.free();
    }
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new SvgRenderError(`resvg cannot render it (${reason.split("\n")[0]})`, { cause: err });
  }
  return await decodeImage(png);
}
