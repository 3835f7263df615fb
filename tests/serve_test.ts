// deno task serve: its flags, and what its handler serves (without starting a browser).
import assert from "node:assert/strict";
import { join } from "node:path";
import { ISOLATION_HEADERS, makeHandler, shippedModels, WASM_FILES } from "../web/server.ts";

/** `deno task serve`'s command line from deno.json, after "deno run": its declared permissions. */
const SERVE_TASK: string[] = JSON.parse(await Deno.readTextFile("deno.json")).tasks.serve.split(" ").slice(2);

const BUNDLE = new TextEncoder().encode("globalThis.bundled = true;");

async function get(path: string, method = "GET"): Promise<Response> {
  const handler = await makeHandler({ bundle: BUNDLE });
  return await handler(new Request(`http://127.0.0.1:1${path}`, { method }));
}

async function serveCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command("deno", {
    args: [
      "run",
      "--quiet",
      ...SERVE_TASK,
      ...args,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const d = new TextDecoder();
  return { code: out.code, stdout: d.decode(out.stdout), stderr: d.decode(out.stderr) };
}

Deno.test("serve: a bad --port is one line naming the flag, exit 2, before any work", async () => {
  const r = await serveCli(["--port", "http"]);
  assert.equal(r.code, 2);
  assert.equal(r.stderr, 'error: --port must be an integer in [0, 65535], got "http"\n');
  assert.equal(r.stdout, "");
});

Deno.test("serve: an unknown flag is one line, exit 2", async () => {
  const r = await serveCli(["--host", "0.0.0.0"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^error: .*--host.*\n$/);
});

Deno.test("serve: every response is cross-origin isolated (COOP/COEP)", async () => {
  for (const path of ["/", "/page.js", "/models.json", "/nope"]) {
    const res = await get(path);
    await res.body?.cancel();
    for (const [k, v] of Object.entries(ISOLATION_HEADERS)) {
      assert.equal(res.headers.get(k), v, `${path} ${k}`);
    }
  }
});

Deno.test("serve: the page, its stylesheet and the bundle", async () => {
  const html = await get("/");
  assert.equal(html.headers.get("content-type"), "text/html; charset=utf-8");
  assert.match(await html.text(), /<script type="module" src="\/page.js">/);
  const css = await get("/page.css");
  assert.equal(css.status, 200);
  await css.body?.cancel();
  const js = await get("/page.js");
  assert.equal(js.headers.get("content-type"), "text/javascript; charset=utf-8");
  assert.deepEqual(new Uint8Array(await js.arrayBuffer()), BUNDLE);
});

Deno.test("serve: tfjs's wasm binaries come from the installed npm package, as application/wasm", async () => {
  for (const name of WASM_FILES) {
    const res = await get(`/wasm/${name}`);
    assert.equal(res.status, 200, name);
    assert.equal(res.headers.get("content-type"), "application/wasm");
    const bytes = new Uint8Array(await res.arrayBuffer());
    assert.deepEqual([...bytes.subarray(0, 4)], [0, 0x61, 0x73, 0x6d], `${name} is wasm`);
    assert.equal(Number(res.headers.get("content-length")), bytes.length);
  }
});

Deno.test("serve: models.json lists the shipped checkpoints, each served with its length", async () => {
  const listed = await (await get("/models.json")).json();
  assert.deepEqual(listed, await shippedModels());
  assert.ok(listed.some((m: { name: string }) => m.name === "apple-faces"));
  for (const m of listed) {
    const res = await get(m.url, "HEAD");
    assert.equal(res.status, 200, m.url);
    assert.equal(Number(res.headers.get("content-length")), m.bytes);
    assert.equal(m.bytes, (await Deno.stat(join("data/models", m.url.slice("/models/".length)))).size);
  }
});

Deno.test("serve: nothing outside data/models/*.safetensors and the listed files", async () => {
  for (
    const path of [
      "/models/../../deno.json",
      "/models/%2e%2e/%2e%2e/deno.json",
      "/models/apple-faces-unet.train-config.json",
      "/models/missing.safetensors",
      "/wasm/tfjs-backend-wasm.js",
      "/web/server.ts",
      "/deno.json",
    ]
  ) {
    const res = await get(path);
    await res.body?.cancel();
    assert.equal(res.status, 404, path);
  }
  const post = await get("/", "POST");
  await post.body?.cancel();
  assert.equal(post.status, 405);
});
