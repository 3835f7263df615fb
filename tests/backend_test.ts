import assert from "node:assert/strict";
import { initBackend, parseBackendRequest } from "../src/backend/select.ts";

Deno.test("unknown backend names are RangeErrors listing the choices", async () => {
  // @ts-expect-error: invalid on purpose
  await assert.rejects(() => initBackend("tpu", { log: null }), {
    name: "RangeError",
    message: /auto, webgpu, native, wasm, cpu/,
  });
  assert.throws(() => parseBackendRequest("gpu"), { name: "RangeError", message: /"gpu"/ });
  assert.equal(parseBackendRequest("cpu"), "cpu");
});

Deno.test("cpu and wasm start on request", async () => {
  for (const name of ["cpu", "wasm"] as const) {
    assert.equal((await initBackend(name, { log: null })).name, name);
  }
});

Deno.test("only tests/webgpu_suite.ts touches WebGPU (one adapter and device per test process)", async () => {
  // built from parts, so that this file does not match itself
  const uses = new RegExp(
    ["probe" + "GpuAdapter", "navigator" + "\\.gpu", 'initBackend\\("(web' + 'gpu|auto)"'].join("|"),
  );
  const offenders: string[] = [];
  for await (const e of Deno.readDir("tests")) {
    if (!e.name.endsWith(".ts") || e.name === "webgpu_suite.ts") continue;
    if (uses.test(await Deno.readTextFile(`tests/${e.name}`))) offenders.push(e.name);
  }
  assert.deepEqual(offenders, []);
});
