/**
 * The library as a JSR user gets it: the published files, served over HTTP, imported by a client
 * script that runs in its own folder (outside the repository, with its own deno.json) with only the
 * permissions mod.ts documents.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { initBackend } from "../src/backend/select.ts";
import { EmojiDiffusion } from "../src/api.ts";
import { denoCommand } from "./helpers.ts";
import { layOutPackage, servePackage } from "./jsr_package.ts";

const SAMPLE = { n: 2, sampler: "ddim" as const, steps: 8, seed: 11 };

/** What a JSR user writes (the README's three lines), with the backend and the output made testable. */
const CLIENT = `
import { EmojiDiffusion, initBackend } from "__MOD__";
const [backend, threads] = Deno.args;
const info = await initBackend(backend as "wasm" | "auto", { log: null, wasmThreads: Number(threads ?? 1) });
const progress: number[] = [];
const model = await EmojiDiffusion.pretrained("apple-faces", { onProgress: (p) => progress.push(p.loaded) });
const workers = Deno.args[2] === "workers" ? await model.startWorkers(1) : undefined;
const { images } = await model.sample({ ...${JSON.stringify(SAMPLE)}, workers });
workers?.close();
console.log(JSON.stringify({ info, progress, images: Array.from(images) }));
`;

interface ClientResult {
  info: { name: string; reason: string };
  progress: number[];
  images: number[];
}

/**
 * Runs the client with the permissions mod.ts documents for a JSR user (`--allow-read
 * --allow-net=jsr.io`, this server standing for jsr.io), plus `extra`.
 */
async function runClient(
  dir: string,
  host: string,
  args: string[],
  extra: string[] = [],
): Promise<{ code: number; result: ClientResult | null; stderr: string }> {
  const deno = await denoCommand();
  if (!deno) throw new Deno.errors.NotCapable("this test needs --allow-run=deno");
  const out = await new Deno.Command(deno, {
    args: [
      "run",
      "--quiet",
      // JSR's host is allowed to serve imports by default; a loopback server must be named.
      `--allow-import=${host}`,
      // a fresh port may repeat one a past run cached
      `--reload=http://${host}`,
      `--allow-net=${host}`,
      "--allow-read",
      ...extra,
      "client.ts",
      ...args,
    ],
    cwd: dir,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(out.stdout).trim();
  const stderr = new TextDecoder().decode(out.stderr);
  return { code: out.code, result: out.success ? JSON.parse(stdout.split("\n").pop()!) : null, stderr };
}

Deno.test({
  name:
    "a client importing mod.ts over HTTP starts wasm (1 and 2 threads) and auto, loads the shipped model, samples the local pixels",
  fn: async () => {
    const pkg = await Deno.makeTempDir({ prefix: "emoji-jsr-pkg-" });
    const client = await Deno.makeTempDir({ prefix: "emoji-jsr-client-" });
    const files = await layOutPackage(pkg);
    assert.ok(files.includes("data/models/apple-faces-unet.safetensors"), "the shipped model is published");
    const { server, base } = servePackage(pkg);
    try {
      const host = new URL(base).host;
      await Deno.writeTextFile(join(client, "client.ts"), CLIENT.replace("__MOD__", `${base}mod.ts`));
      // Its own project: no import map, no lockfile; npm packages from Deno's shared cache.
      await Deno.writeTextFile(
        join(client, "deno.json"),
        JSON.stringify({ lock: false, nodeModulesDir: "none" }),
      );

      await initBackend("wasm", { log: null });
      const local = await EmojiDiffusion.pretrained("apple-faces");
      const expected = Array.from((await local.sample(SAMPLE)).images);
      local.dispose();

      const wasm = await runClient(client, host, ["wasm"]);
      assert.equal(wasm.code, 0, wasm.stderr);
      assert.equal(wasm.result!.info.name, "wasm");
      const size = (await Deno.stat(join(pkg, "data/models/apple-faces-unet.safetensors"))).size;
      assert.equal(wasm.result!.progress.at(-1), size, "progress ends at the file's size");
      assert.equal(wasm.result!.images.length, 2 * 32 * 32 * 3);
      assert.ok(
        wasm.result!.images.every((v, i) => v === expected[i]),
        "the same pixels as the local library",
      );

      const auto = await runClient(client, host, ["auto"]);
      assert.equal(auto.code, 0, auto.stderr);
      if (auto.result!.info.name === "wasm") {
        assert.ok(auto.result!.images.every((v, i) => v === expected[i]), "auto (wasm): the same pixels");
      } else {
        // a hardware GPU: another backend's float order, the same images to well under a grey level
        const worst = Math.max(...auto.result!.images.map((v, i) => Math.abs(v - expected[i])));
        assert.ok(worst < 0.05, `auto (${auto.result!.info.name}) differs by ${worst}`);
      }

      // The threaded build writes its two scripts to the temp folder: the documented extra permissions.
      const threaded = await runClient(client, host, ["wasm", "2"], ["--allow-write", "--allow-env"]);
      assert.equal(threaded.code, 0, threaded.stderr);
      assert.match(threaded.result!.info.reason, /requested, 2 threads$/);
      const worst = Math.max(...threaded.result!.images.map((v, i) => Math.abs(v - expected[i])));
      assert.ok(worst < 1e-4, `2 threads differ from 1 by ${worst}`);

      // data-parallel sampling: the worker's module comes over HTTP too, with the client's permissions
      const parts = await runClient(client, host, ["wasm", "1", "workers"]);
      assert.equal(parts.code, 0, parts.stderr);
      const off = Math.max(...parts.result!.images.map((v, i) => Math.abs(v - expected[i])));
      assert.ok(off < 1e-4, `two parts differ from one by ${off}`);
    } finally {
      await server.shutdown();
      await Deno.remove(pkg, { recursive: true });
      await Deno.remove(client, { recursive: true });
    }
  },
});
