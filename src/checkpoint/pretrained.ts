/**
 * The models shipped in the package (`data/models/`), reachable by name wherever the library was
 * imported from: their URLs are resolved relative to this module, so they are local files in a
 * checkout and downloads (from the same server as the code) when imported from JSR.
 *
 * @module
 */

/** A model shipped with the package. */
export type PretrainedModel = "faces8" | "faces" | "apple-faces" | "four-vendors";

/**
 * The shipped models, all 32×32 U-Nets, the default first: `faces8` (the faces of eight styles,
 * conditioned on vendor and kind of face, drawing Apple's style unless asked otherwise), `faces` (the
 * previous default: the same on four vendors), `apple-faces` (Apple's faces, unconditional) and
 * `four-vendors` (the four vendors' faces, unconditional).
 */
export const PRETRAINED_MODELS: readonly PretrainedModel[] = [
  "faces8",
  "faces",
  "apple-faces",
  "four-vendors",
];

const FILES: Record<PretrainedModel, string> = {
  faces8: "../../data/models/faces8/unet.safetensors",
  faces: "../../data/models/faces/unet.safetensors",
  "apple-faces": "../../data/models/apple-faces-unet.safetensors",
  "four-vendors": "../../data/models/four-vendors/unet.safetensors",
};

/**
 * The URL of a shipped model's checkpoint, next to this module: `file:` in a checkout, `https:`
 * from JSR. Throws a RangeError listing the names for an unknown one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { pretrainedUrl } from "./pretrained.ts";
 * assert.ok(pretrainedUrl("apple-faces").pathname.endsWith("/data/models/apple-faces-unet.safetensors"));
 * ```
 */
export function pretrainedUrl(name: PretrainedModel): URL {
  if (!Object.hasOwn(FILES, name)) {
    throw new RangeError(`unknown pretrained model "${name}": choose one of ${PRETRAINED_MODELS.join(", ")}`);
  }
  return new URL(FILES[name], import.meta.url);
}
