/**
 * The native backend end to end: finding the library, the one-line errors, `auto`'s choice, training
 * and sampling against wasm, and no leaks. Tests that need a BLAS are skipped, saying so, where none
 * is installed (CI installs OpenBLAS and BLIS).
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { join } from "node:path";
import { initBackend, nativeAvailable } from "../src/backend/select.ts";
import { decodeImage } from "../src/image/codec.ts";
import {
  type BlasCandidate,
  BlasUnavailableError,
  openBlas,
  registerNativeKernels,
  unregisterNativeKernels,
} from "../src/backend/native/mod.ts";
import { Trainer } from "../src/train/trainer.ts";
import { denoCommand, fixtureDataset, runTask, TINY_UNET, tinyTrainConfig } from "./helpers.ts";

const haveBlas = nativeAvailable();
if (!haveBlas) console.error("native backend: no system BLAS here; its tests are skipped");

function opens(path: string): boolean {
  try {
    openBlas({ candidates: [{ family: "BLAS", path, os: [Deno.build.os] }] });
    return true;
  } catch {
    return false;
  }
}

for (const [family, path] of [["OpenBLAS", "libopenblas.so.0"], ["BLIS", "libblis.so.4"]] as const) {
  Deno.test({
    name: `the library table finds ${family} (${path}) and reads its description`,
    ignore: Deno.build.os !== "linux" || !opens(path),
    fn: () => {
      const only: BlasCandidate[] = [{ family, path, os: ["linux"] }];
      const blas = openBlas({ candidates: only });
      assert.equal(blas.family, family);
      assert.match(blas.description, new RegExp(`^${family} \\d`));
      assert.ok(blas.core.length > 0, "the core type is named");
      assert.equal(blas.setThreads(1), 1);
      const c = new Float32Array(2);
      blas.sgemm(true, false, 2, 1, 2, 1, Float32Array.of(1, 2, 3, 4), 2, Float32Array.of(1, 1), 1, 0, c, 1);
      assert.deepEqual([...c], [4, 6]); // Aᵀ·[1, 1]
    },
  });
}

Deno.test("a missing library is a BlasUnavailableError that says what to install", () => {
  assert.throws(
    () => openBlas({ candidates: [{ family: "OpenBLAS", path: "libnosuchblas.so.9", os: [Deno.build.os] }] }),
    (e: unknown) =>
      e instanceof BlasUnavailableError && e.name === "BlasUnavailableError" &&
      /tried libnosuchblas\.so\.9/.test(e.message) &&
      /libopenblas0-pthread|Accelerate|OpenBLAS/.test(e.message) &&
      !e.message.includes("\n"),
  );
});

Deno.test("sample --backend native with EMOJI_DIFFUSION_BLAS at a missing file: one line, exit 2, nothing written", async () => {
  const out = await Deno.makeTempDir({ dir: "data" });
  try {
    const r = await runTask("sample.ts", ["--backend", "native", "--n", "1", "--out", out], {
      env: { EMOJI_DIFFUSION_BLAS: "/nonexistent/libblas.so" },
    });
    assert.equal(r.code, 2, r.stderr);
    const lines = r.stderr.trim().split("\n").filter((l) => l.startsWith("error:"));
    assert.equal(lines.length, 1, r.stderr);
    assert.match(
      lines[0],
      /^error: EMOJI_DIFFUSION_BLAS=\/nonexistent\/libblas\.so cannot be used as a BLAS/,
    );
    assert.deepEqual([...Deno.readDirSync(out)], []);
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

/** Runs `code` in a child Deno with `permissions` (`Deno.args`: the backend request `auto`). */
async function child(
  code: string,
  permissions: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const deno = await denoCommand();
  if (!deno) throw new Deno.errors.NotCapable("needs --allow-run=deno");
  const file = join(Deno.cwd(), "data", `.native-child-${crypto.randomUUID()}.ts`);
  await Deno.writeTextFile(file, code);
  try {
    const out = await new Deno.Command(deno, {
      args: ["run", "--quiet", ...permissions, file, "auto"],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const dec = new TextDecoder();
    return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
  } finally {
    await Deno.remove(file);
  }
}

Deno.test("auto without --allow-ffi falls back to wasm and says why", async () => {
  const r = await child(
    `import { initBackend } from "../src/backend/select.ts";\n` +
      `const info = await initBackend(Deno.args[0] as "native");\nconsole.log(JSON.stringify(info));\n`,
    ["--allow-read", "--allow-env"],
  );
  assert.equal(r.code, 0, r.stderr);
  const info = JSON.parse(r.stdout);
  assert.equal(info.name, "wasm");
  assert.match(info.reason, /no --allow-ffi for the system BLAS/);
  assert.match(r.stderr, /^backend: wasm \(.*no --allow-ffi/m);
});

Deno.test("native without --allow-ffi is a usage error naming the flag", async () => {
  const r = await child(
    `import { initBackend } from "../src/backend/select.ts";\n` +
      `try { await initBackend("native"); } catch (e) { console.log(e.name + ": " + e.message); }\n`,
    ["--allow-read", "--allow-env"],
  );
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^BlasUnavailableError: backend native needs FFI .*--allow-ffi/);
});

Deno.test({
  name: "auto with --allow-ffi and a BLAS picks native and names the library",
  ignore: !haveBlas,
  fn: async () => {
    const r = await child(
      `import { initBackend } from "../src/backend/select.ts";\n` +
        `const info = await initBackend(Deno.args[0] as "native", { log: null });\nconsole.log(JSON.stringify(info));\n`,
      ["--allow-read", "--allow-env", "--allow-ffi"],
    );
    assert.equal(r.code, 0, r.stderr);
    const info = JSON.parse(r.stdout);
    // a hardware GPU would come first; CI machines have none
    if (info.name !== "webgpu") {
      assert.equal(info.name, "native");
      assert.match(info.reason, /BLAS thread/);
      assert.ok(info.blas.description.length > 0);
    }
  },
});

/** Losses of a seeded run of `steps` steps on the wasm kernels or the native ones. */
async function losses(native: boolean, steps: number): Promise<number[]> {
  await initBackend(native ? "native" : "wasm", { log: null });
  const trainer = new Trainer(tinyTrainConfig(TINY_UNET, { steps, batch: 4, T: 100 }), fixtureDataset(6, 16));
  const out: number[] = [];
  try {
    for (let i = 0; i < steps; i++) out.push((await trainer.trainStep()).loss);
  } finally {
    trainer.dispose();
  }
  return out;
}

Deno.test({
  name: "a seeded 100-step unet run: native and wasm losses agree within 1e-3 at every step",
  ignore: !haveBlas,
  fn: async () => {
    const wasm = await losses(false, 100);
    const native = await losses(true, 100);
    await initBackend("wasm", { log: null });
    for (let i = 0; i < wasm.length; i++) {
      assert.ok(
        Math.abs(native[i] - wasm[i]) <= 1e-3,
        `step ${i + 1}: native ${native[i]} vs wasm ${wasm[i]}`,
      );
    }
    assert.ok(wasm[99] < wasm[0], "the run learns");
  },
});

Deno.test({
  name: "deno task sample with a fixed seed: native and wasm pixels within 2 levels of 255",
  ignore: !haveBlas,
  fn: async () => {
    const dir = await Deno.makeTempDir({ dir: "data" });
    try {
      const grids: Uint8Array[] = [];
      for (const backend of ["wasm", "native"]) {
        const out = `${dir}/${backend}`;
        const r = await runTask("sample.ts", [
          "--backend",
          backend,
          "--n",
          "4",
          "--scale",
          "1",
          "--out",
          out,
        ]);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stderr, new RegExp(`^backend: ${backend} `, "m"));
        grids.push((await decodeImage(await Deno.readFile(`${out}/grid.png`))).rgba);
      }
      assert.equal(grids[0].length, grids[1].length);
      let worst = 0;
      for (let i = 0; i < grids[0].length; i++) worst = Math.max(worst, Math.abs(grids[0][i] - grids[1][i]));
      assert.ok(worst <= 2, `pixels differ by up to ${worst} levels`);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "no leak on native: tensor count, wasm heap and live JS memory flat over 1,000 training steps",
  ignore: !haveBlas,
  fn: async () => {
    // In a child process with --expose-gc: RSS is read after a full collection, so JS garbage (which
    // V8 lets grow for hundreds of steps) does not count as a leak.
    const r = await child(
      `import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../src/backend/select.ts";
import { Trainer } from "../src/train/trainer.ts";
import { fixtureDataset, TINY_SEED, tinyTrainConfig } from "../tests/helpers.ts";
await initBackend("native", { log: null });
const trainer = new Trainer(tinyTrainConfig(TINY_SEED, { steps: 1100, batch: 2 }), fixtureDataset(4, 8));
// deno-lint-ignore no-explicit-any
const heap = () => (tf.backend() as any).wasm.HEAPU8.buffer.byteLength;
// deno-lint-ignore no-explicit-any
const memory = () => ((globalThis as any).gc(), Deno.memoryUsage());
for (let i = 0; i < 100; i++) await trainer.trainStep();
const before = { tensors: tf.memory().numTensors, heap: heap(), memory: memory() };
for (let i = 0; i < 1000; i++) await trainer.trainStep();
const after = { tensors: tf.memory().numTensors, heap: heap(), memory: memory() };
console.log(JSON.stringify({ before, after }));
`,
      [
        "--v8-flags=--expose-gc",
        "--allow-read",
        "--allow-env",
        "--allow-ffi",
        "--allow-write=data",
        "--allow-sys",
      ],
    );
    assert.equal(r.code, 0, r.stderr);
    const { before, after } = JSON.parse(r.stdout.trim().split("\n").pop()!);
    assert.equal(after.tensors, before.tensors);
    assert.equal(after.heap, before.heap, "the wasm heap (where the kernels allocate) did not grow");
    const mib = (k: "rss" | "heapUsed") => (after.memory[k] - before.memory[k]) / 2 ** 20;
    assert.ok(Math.abs(mib("heapUsed")) < 4, `live JS objects grew by ${mib("heapUsed").toFixed(1)} MiB`);
    // RSS also holds the pages V8 keeps after collecting (±60 MiB here, on wasm alike); a leak of one
    // 8×8 batch per step would not show in it, but one of a training step's tensors would.
    assert.ok(mib("rss") < 160, `RSS grew by ${mib("rss").toFixed(1)} MiB over 1,000 steps`);
  },
});

Deno.test({
  name: "BLIS computes the same convolution as OpenBLAS",
  ignore: Deno.build.os !== "linux" || !opens("libblis.so.4") || !opens("libopenblas.so.0"),
  fn: async () => {
    await initBackend("wasm", { log: null });
    const run = async (path: string) => {
      registerNativeKernels(openBlas({ candidates: [{ family: "BLAS", path, os: ["linux"] }] }));
      try {
        const y = tf.tidy(() => {
          const x = tf.randomNormal([2, 9, 9, 5], 0, 1, "float32", 1) as tf.Tensor4D;
          const w = tf.randomNormal([3, 3, 5, 7], 0, 1, "float32", 2) as tf.Tensor4D;
          return tf.conv2d(x, w, 1, "same");
        });
        const v = await y.data();
        y.dispose();
        return v;
      } finally {
        unregisterNativeKernels();
      }
    };
    const a = await run("libopenblas.so.0"), b = await run("libblis.so.4");
    for (let i = 0; i < a.length; i++) {
      assert.ok(Math.abs(a[i] - b[i]) < 1e-4, `element ${i}: ${a[i]} vs ${b[i]}`);
    }
  },
});

Deno.test("BlasUnavailableError is a usage error (exit 2 under the CLI contract)", async () => {
  const { exitCodeFor } = await import("../src/cli/flags.ts");
  assert.equal(exitCodeFor(new BlasUnavailableError("x")), 2);
});
