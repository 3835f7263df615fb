// The page in a real browser (Debian's Chromium, headless): `deno task serve` on a free loopback
// port, the page driven over the DevTools protocol. Skipped (ignored) when no Chromium is installed
// or the test lacks the permission to run it. The browser and the server are killed in all cases.
import assert from "node:assert/strict";
import { EmojiDiffusion, initBackend } from "../mod.ts";
import { encodeCheckpoint } from "../src/checkpoint/format.ts";
import { floatToRgb8 } from "../src/image/pixels.ts";
import { Trainer } from "../src/train/trainer.ts";
import { fixtureDataset, TINY_UNET, tinyTrainConfig } from "./helpers.ts";
import { type Browser, findChromium, launchChromium, type Page, waitForPage } from "./chromium.ts";

/** `deno task serve`'s command line from deno.json, after "deno run": its declared permissions. */
const SERVE_TASK: string[] = JSON.parse(await Deno.readTextFile("deno.json")).tasks.serve.split(" ").slice(2);

const CHROMIUM = findChromium();
const CHECKPOINT = "data/models/apple-faces-unet.safetensors";
const FACES = "data/models/faces8/unet.safetensors";

/** `deno task serve --port 0`, as deno.json runs it; resolves to its URL once it listens. */
async function startServer(): Promise<{ url: string; stop: () => Promise<void> }> {
  const child = new Deno.Command("deno", {
    args: [
      "run",
      "--quiet",
      ...SERVE_TASK,
      "--port",
      "0",
    ],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stop = async () => {
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
    await child.status;
  };
  const errText = new Response(child.stderr).text();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  try {
    while (!/serving (http:\/\/127\.0\.0\.1:\d+\/)/.test(text)) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`deno task serve exited: ${(await errText).trim()}`);
      text += value;
    }
  } catch (err) {
    await stop();
    throw err;
  }
  (async () => {
    while (!(await reader.read()).done) { /* drain */ }
  })().catch(() => {});
  return { url: text.match(/serving (\S+)/)![1], stop };
}

/** A tiny 8×8 U-Net checkpoint (untrained weights, a data mean): SwiftShader compiles it quickly. */
async function tinyCheckpoint(): Promise<Uint8Array> {
  await initBackend("wasm", { log: null });
  const trainer = new Trainer(tinyTrainConfig(TINY_UNET), fixtureDataset(3, 8));
  try {
    return encodeCheckpoint(await trainer.toCheckpoint(null));
  } finally {
    trainer.dispose();
  }
}

/** Serves `bytes` cross-origin (CORS) on another loopback port: a checkpoint "from elsewhere". */
function serveBytes(bytes: Uint8Array): { url: string; server: Deno.HttpServer } {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    () =>
      new Response(bytes.slice(), {
        headers: { "access-control-allow-origin": "*", "content-type": "application/octet-stream" },
      }),
  );
  return { url: `http://127.0.0.1:${server.addr.port}/tiny.safetensors`, server };
}

/** The Deno library's bytes for the same settings as the page (DDIM, η = 0, its data-mean start). */
async function denoBytes(
  n: number,
  steps: number,
  seed: number,
  source: string | Uint8Array = CHECKPOINT,
  asked: { labels?: Record<string, string>; guidance?: number } = {},
): Promise<Uint8Array> {
  await initBackend("wasm", { log: null });
  const model = await EmojiDiffusion.load(source);
  try {
    const { images } = await model.sample({ n, sampler: "ddim", steps, eta: 0, seed, ...asked });
    return floatToRgb8(images);
  } finally {
    model.dispose();
  }
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

async function pageBytes(page: Page): Promise<number[]> {
  return await page.evaluate<number[]>("emojiPage.bytes");
}

Deno.test({
  name: "browser: the page samples the shipped model in Chromium (wasm and WebGPU)",
  ignore: CHROMIUM === null,
  async fn(t) {
    const server = await startServer();
    const browsers: Browser[] = [];
    try {
      const wasmBrowser = await launchChromium(CHROMIUM!, ["--disable-gpu"]);
      browsers.push(wasmBrowser);

      await t.step(
        "wasm: 4 images, fixed seed, the same bytes as EmojiDiffusion.sample in Deno",
        async () => {
          const query = "model=apple-faces&n=4&seed=7&sampler=ddim&steps=10&backend=wasm&threads=1&generate";
          const page = await wasmBrowser.open(`${server.url}?${query}`);
          const state = await waitForPage(page, 90_000);
          assert.deepEqual(state, { state: "done" });
          const backend = await page.evaluate<{ name: string }>("emojiPage.backend");
          assert.equal(backend.name, "wasm");
          const got = await pageBytes(page);
          const want = await denoBytes(4, 10, 7);
          assert.equal(got.length, 4 * 32 * 32 * 3);
          const diff = maxDiff(got, want);
          assert.ok(diff <= 3, `the page's pixels differ from Deno's by up to ${diff} levels of 255`);
          // not a blank: the grid is a picture
          assert.ok(new Set(got).size > 50);
        },
      );

      await t.step(
        "a conditioned model: the label menus and guidance give the same bytes as the library's labels",
        async () => {
          const asked = "vendor=google&subcategory=face-smiling&guidance=2";
          const page = await wasmBrowser.open(
            `${server.url}?model=faces8&n=4&seed=3&steps=4&${asked}&backend=wasm&threads=1&generate`,
          );
          assert.deepEqual(await waitForPage(page, 90_000), { state: "done" });
          const menus = await page.evaluate<string[]>(
            "[...document.querySelectorAll('#label-menus select')].map((s) => s.name + '=' + s.value)",
          );
          assert.deepEqual(menus, ["vendor=google", "subcategory=face-smiling"]);
          const want = await denoBytes(4, 4, 3, FACES, {
            labels: { vendor: "google", subcategory: "face-smiling" },
            guidance: 2,
          });
          const diff = maxDiff(await pageBytes(page), want);
          assert.ok(diff <= 3, `the page's pixels differ from Deno's by up to ${diff} levels of 255`);
        },
      );

      await t.step("a missing checkpoint shows a readable message on the page", async () => {
        const page = await wasmBrowser.open(
          `${server.url}?checkpoint=/models/missing.safetensors&n=4&steps=2&backend=wasm&threads=1&generate`,
        );
        const state = await waitForPage(page, 30_000);
        assert.equal(state.state, "error");
        assert.match(
          state.error!,
          /^The checkpoint could not be loaded: checkpoint ".*\/models\/missing\.safetensors" does not exist \(HTTP 404\)$/,
        );
        const shown = await page.evaluate<{ hidden: boolean; text: string }>(
          "({ hidden: document.getElementById('error').hidden, text: document.getElementById('error').textContent })",
        );
        assert.equal(shown.hidden, false);
        assert.equal(shown.text, state.error);
      });

      await t.step("WebGPU asked for where there is none: a readable message, not a blank", async () => {
        const page = await wasmBrowser.open(
          `${server.url}?model=apple-faces&n=1&steps=1&backend=webgpu&generate`,
        );
        const state = await waitForPage(page, 30_000);
        assert.equal(state.state, "error");
        assert.match(
          state.error!,
          /^The webgpu backend could not start: WebGPU cannot start: .*(no WebGPU|adapter)/,
        );
        assert.equal(await page.evaluate<boolean>("document.getElementById('error').hidden"), false);
      });

      await wasmBrowser.close();
      const gpuBrowser = await launchChromium(CHROMIUM!, [
        "--enable-unsafe-webgpu",
        "--use-webgpu-adapter=swiftshader",
      ]);
      browsers.push(gpuBrowser);

      await t.step(
        "WebGPU (SwiftShader): a tiny checkpoint from another origin, the Deno library's bytes",
        async () => {
          const tiny = await tinyCheckpoint();
          const other = serveBytes(tiny);
          try {
            const page = await gpuBrowser.open(
              `${server.url}?checkpoint=${
                encodeURIComponent(other.url)
              }&n=4&seed=3&steps=2&backend=webgpu&generate`,
            );
            const state = await waitForPage(page, 90_000);
            assert.deepEqual(state, { state: "done" });
            const backend = await page.evaluate<{ name: string; adapter: string }>("emojiPage.backend");
            assert.equal(backend.name, "webgpu");
            assert.match(backend.adapter, /swiftshader/i);
            const got = await pageBytes(page);
            assert.equal(got.length, 4 * 8 * 8 * 3);
            const diff = maxDiff(got, await denoBytes(4, 2, 3, tiny));
            assert.ok(diff <= 3, `WebGPU's pixels differ from Deno's wasm by up to ${diff} levels of 255`);
          } finally {
            await other.server.shutdown();
          }
        },
      );
    } finally {
      for (const b of browsers) await b.close();
      await server.stop();
    }
  },
});
