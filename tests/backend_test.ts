import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend, parseBackendRequest, probeGpuAdapter } from "../src/backend.ts";

Deno.test("auto picks webgpu only for a hardware adapter, and reports why", async () => {
  const lines: string[] = [];
  const probe = await probeGpuAdapter();
  const info = await initBackend("auto", { log: (l) => lines.push(l) });
  const expected = probe.adapter && !probe.fallback ? "webgpu" : "wasm";
  assert.equal(info.name, expected);
  assert.equal(tf.getBackend(), expected);
  assert.equal(lines.length, 1);
  assert.match(lines[0], new RegExp(`^backend: ${expected} \\(.+\\)$`));
  console.log(`  ${lines[0]}`);
});

Deno.test("unknown backend names are RangeErrors listing the choices", async () => {
  // @ts-expect-error: invalid on purpose
  await assert.rejects(() => initBackend("tpu", { log: null }), {
    name: "RangeError",
    message: /auto, webgpu, wasm, cpu/,
  });
  assert.throws(() => parseBackendRequest("gpu"), { name: "RangeError", message: /"gpu"/ });
  assert.equal(parseBackendRequest("cpu"), "cpu");
});

Deno.test("report: the backends this run exercises", async () => {
  const probe = await probeGpuAdapter();
  const exercised = ["cpu", "wasm", probe.adapter ? `webgpu (${probe.description})` : null].filter(Boolean);
  console.log(
    `  backends exercised: ${exercised.join(", ")}${
      probe.adapter ? "" : "; webgpu tests ignored: no adapter"
    }`,
  );
  for (const name of ["cpu", "wasm"] as const) {
    assert.equal((await initBackend(name, { log: null })).name, name);
  }
});
