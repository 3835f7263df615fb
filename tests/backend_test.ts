import assert from "node:assert/strict";
import { initBackend, parseBackendRequest } from "../src/backend.ts";

Deno.test("unknown backend names are RangeErrors listing the choices", async () => {
  // @ts-expect-error: invalid on purpose
  await assert.rejects(() => initBackend("tpu", { log: null }), {
    name: "RangeError",
    message: /auto, webgpu, wasm, cpu/,
  });
  assert.throws(() => parseBackendRequest("gpu"), { name: "RangeError", message: /"gpu"/ });
  assert.equal(parseBackendRequest("cpu"), "cpu");
});

Deno.test("cpu and wasm start on request", async () => {
  for (const name of ["cpu", "wasm"] as const) {
    assert.equal((await initBackend(name, { log: null })).name, name);
  }
});
