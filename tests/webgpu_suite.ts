/**
 * Every test that touches WebGPU, in this one module, which `deno task test` runs in a test process of
 * its own (its name does not end in `_test.ts`, so the first test process does not pick it up): one adapter and one tfjs device serve all the WebGPU tests, and the last test destroys the
 * device (the module's unload handler does too, as a safety net). Run together with the other modules
 * in one process, the process aborted now and then at exit with heap corruption after every test had
 * passed (Deno's WebGPU on Mesa llvmpipe torn down beside the wasm and imagescript native code); in
 * a process of its own it does not.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend, nativeAvailable, probeGpuAdapter, releaseWebgpu } from "../src/backend/select.ts";
import { Trainer } from "../src/train/trainer.ts";
import { fixtureDataset, testOnBackends, TINY_SEED, tinyTrainConfig } from "./helpers.ts";
import { plainEqualsTensor } from "./cases/dpm.ts";
import { qSampleMatchesReference } from "./cases/q_sample.ts";
import { CLIP_CASES, fusedMatchesReference, nonFiniteLossChangesNothing } from "./cases/fused_adam.ts";

const gpu = await probeGpuAdapter();
globalThis.addEventListener("unload", () => releaseWebgpu());
const skipped = gpu.adapter ? gpu.description : "no adapter: skipped";

Deno.test("auto picks webgpu only for a hardware adapter, and reports why", async () => {
  const lines: string[] = [];
  const info = await initBackend("auto", { log: (l) => lines.push(l) });
  // on a CPU: the system BLAS when one loads (the test task grants --allow-ffi), else wasm
  const expected = gpu.adapter && !gpu.fallback ? "webgpu" : nativeAvailable() ? "native" : "wasm";
  assert.equal(info.name, expected);
  assert.equal(tf.getBackend(), expected === "native" ? "wasm" : expected); // native is wasm's kernels swapped
  assert.equal(lines.length, 1);
  assert.match(lines[0], new RegExp(`^backend: ${expected} \\(.+\\)$`));
  console.log(`  ${lines[0]}`);
  console.log(
    `  backends exercised: cpu, wasm${
      gpu.adapter ? `, webgpu (${gpu.description})` : "; webgpu tests ignored"
    }`,
  );
});

testOnBackends(
  `qSampleTensor equals the plain-JS reference and never clamps x_t [${skipped}]`,
  ["webgpu"],
  (backend) => qSampleMatchesReference(backend, 1e-5),
  { ignore: !gpu.adapter },
);

Deno.test({
  name: `one train step on webgpu gives the cpu loss within 1e-4 (${skipped})`,
  ignore: !gpu.adapter,
  fn: async () => {
    const losses: Record<string, number[]> = {};
    for (const backend of ["cpu", "webgpu"] as const) {
      await initBackend(backend, { log: null });
      const trainer = new Trainer(tinyTrainConfig(TINY_SEED, { batch: 2 }), fixtureDataset(2, 8));
      losses[backend] = [(await trainer.trainStep()).loss, (await trainer.trainStep()).loss];
      trainer.dispose();
    }
    await initBackend("cpu", { log: null });
    for (let i = 0; i < 2; i++) {
      assert.ok(
        Math.abs(losses.cpu[i] - losses.webgpu[i]) < 1e-4,
        `step ${i + 1}: ${losses.cpu[i]} vs ${losses.webgpu[i]}`,
      );
    }
  },
});

const noAdapter = { ignore: !gpu.adapter };
testOnBackends(
  `DPM-Solver++ tensor steps equal the plain-JS steps to 1e-5 [${skipped}]`,
  ["webgpu"],
  plainEqualsTensor,
  noAdapter,
);
for (const [label, clip, gradScale] of CLIP_CASES) {
  testOnBackends(
    `fused update = reference Adam after 5 steps, ${label}, warm-up and cooldown, EMA [${skipped}]`,
    ["webgpu"],
    (backend) => fusedMatchesReference(backend, clip, gradScale),
    noAdapter,
  );
}
testOnBackends(
  `a non-finite loss leaves weights, moments, EMA and step unchanged [${skipped}]`,
  ["webgpu"],
  nonFiniteLossChangesNothing,
  noAdapter,
);

Deno.test("webgpu: the device is released before the test process ends", async () => {
  await initBackend("cpu", { log: null });
  const started = tf.findBackend("webgpu") !== null;
  assert.equal(releaseWebgpu(), started);
  assert.equal(tf.findBackend("webgpu"), null);
});
