/**
 * Generate 16 emojis from a checkpoint and save them as one PNG, using the library the way a JSR
 * user does (`@emoji-diffusion/core` is mapped to this package's `mod.ts` in deno.json).
 *
 *   deno run --allow-read --allow-write --allow-env --allow-ffi --allow-sys examples/generate.ts \
 *     [checkpoint] [out.png]
 */
import assert from "node:assert/strict";
import { EmojiDiffusion, gridPng, initBackend } from "@emoji-diffusion/core";

const checkpoint = Deno.args[0] ?? "data/models/apple-faces-unet.safetensors";
const out = Deno.args[1] ?? "emojis.png";

await initBackend("auto");
const model = await EmojiDiffusion.load(checkpoint);
const { images, n, size, seconds } = await model.sample({ n: 16, sampler: "ddim", steps: 50, seed: 42 });
assert.equal(n, 16);
assert.equal(images.length, n * size * size * 3);
assert.ok(images.every((v) => v >= -1 && v <= 1), "pixel values lie in [-1, 1]");
await Deno.writeFile(out, await gridPng(images, n, size, 3));
model.dispose();
console.log(`wrote ${out}: ${n} emojis in ${seconds.toFixed(1)} s`);
