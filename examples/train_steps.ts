/**
 * Train a small model for a few steps with a custom `onStep` callback.
 *
 *   deno run --allow-read --allow-write --allow-env --allow-ffi --allow-sys examples/train_steps.ts [out-dir]
 */
import assert from "node:assert/strict";
import { initBackend, modelConfig, train } from "@emoji-diffusion/core";

const out = Deno.args[0] ?? "data/runs/example";
await initBackend("auto");
const losses: number[] = [];
const result = await train(
  {
    model: modelConfig("unet", { channels: 8, channelMult: [1, 2], groups: 4 }),
    steps: 5,
    batch: 4,
    warmup: 0,
  },
  {
    out,
    gridImages: 4,
    onStep: ({ step, loss, imagesPerSecond }) => {
      losses.push(loss);
      console.log(`step ${step}: loss ${loss.toFixed(4)} (${imagesPerSecond.toFixed(1)} img/s)`);
    },
  },
);
assert.equal(result.steps, 5);
assert.equal(losses.length, 5, "onStep runs once a step");
assert.ok(losses.every(Number.isFinite), "every loss is finite");
console.log(`done: ${result.steps} steps, ${losses.length} callbacks, checkpoint ${result.checkpoint}`);
