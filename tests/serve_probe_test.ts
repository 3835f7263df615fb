/**
 * The page server under bad and many requests: malformed URLs, a foreign Host header (DNS rebinding),
 * 200 concurrent `/models.json` requests on loopback; and `deno task serve`'s --port errors.
 */
import assert from "node:assert/strict";
import { ISOLATION_HEADERS, makeHandler, shippedModels } from "../web/server.ts";
import { ownLines } from "./helpers.ts";

const SERVE_TASK: string[] = JSON.parse(await Deno.readTextFile("deno.json")).tasks.serve.split(" ").slice(2);
const BUNDLE = new TextEncoder().encode("globalThis.bundled = true;");

function assertIsolated(res: Response, what: string): void {
  for (const [k, v] of Object.entries(ISOLATION_HEADERS)) assert.equal(res.headers.get(k), v, `${what} ${k}`);
}

async function serveCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command("deno", {
    args: ["run", "--quiet", ...SERVE_TASK, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const d = new TextDecoder();
  return { code: out.code, stdout: d.decode(out.stdout), stderr: d.decode(out.stderr) };
}

Deno.test("serve: malformed URLs are 400 with the security headers, and nothing on stderr", async () => {
  const handler = await makeHandler({ bundle: BUNDLE });
  const logged: unknown[] = [];
  const error = console.error;
  console.error = (...a: unknown[]) => logged.push(a);
  try {
    for (const path of ["/%", "/%E0%A4%A", "/models/%ZZ.safetensors", "/models/faces%00.safetensors"]) {
      const res = await handler(new Request(`http://127.0.0.1:8000${path}`));
      assert.equal(res.status, 400, path);
      assertIsolated(res, path);
      assert.equal(await res.text(), "bad request: malformed URL\n");
    }
  } finally {
    console.error = error;
  }
  assert.deepEqual(logged, []);
});

Deno.test("serve: a Host header that is not a loopback name is 403 (DNS rebinding); loopback names are served", async () => {
  const handler = await makeHandler({
    bundle: BUNDLE,
    models: { compute: () => Promise.resolve("[]"), key: () => Promise.resolve("") },
  });
  for (const host of ["evil.example", "evil.example:8000", "127.0.0.1.evil.example", "0.0.0.0:8000"]) {
    const res = await handler(new Request("http://127.0.0.1:8000/models.json", { headers: { host } }));
    assert.equal(res.status, 403, host);
    assertIsolated(res, host);
    await res.body?.cancel();
  }
  for (const host of ["127.0.0.1:8000", "localhost:8000", "[::1]:8000", "LOCALHOST"]) {
    const res = await handler(new Request("http://127.0.0.1:8000/models.json", { headers: { host } }));
    assert.equal(res.status, 200, host);
    await res.body?.cancel();
  }
});

Deno.test("serve: /models.json is computed once, and again when a checkpoint's file changes", async () => {
  let computed = 0, files = "v1";
  const handler = await makeHandler({
    bundle: BUNDLE,
    models: {
      compute: () => Promise.resolve(JSON.stringify([{ computed: ++computed }])),
      key: () => Promise.resolve(files),
    },
  });
  const get = async () => await (await handler(new Request("http://127.0.0.1:8000/models.json"))).json();
  await Promise.all(Array.from({ length: 20 }, get));
  assert.deepEqual(await get(), [{ computed: 1 }]);
  files = "v2";
  assert.deepEqual(await get(), [{ computed: 2 }]);
});

Deno.test("serve: 200 concurrent /models.json requests on loopback all get the list, and memory stays flat", async () => {
  const handler = await makeHandler({ bundle: BUNDLE });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, handler);
  try {
    const url = `http://127.0.0.1:${server.addr.port}/models.json`;
    const want = await shippedModels();
    assert.deepEqual(await (await fetch(url)).json(), want); // the one computation
    const before = Deno.memoryUsage().rss;
    const t0 = performance.now();
    const answers = await Promise.all(
      Array.from({ length: 200 }, async () => {
        const res = await fetch(url);
        assertIsolated(res, "/models.json");
        return { status: res.status, body: await res.json() };
      }),
    );
    const seconds = (performance.now() - t0) / 1000;
    const grown = (Deno.memoryUsage().rss - before) / 2 ** 20;
    for (const a of answers) assert.deepEqual(a, { status: 200, body: want });
    assert.ok(grown < 100, `rss grew by ${grown.toFixed(0)} MiB`);
    assert.ok(seconds < 20, `${seconds.toFixed(1)} s`);
  } finally {
    await server.shutdown();
  }
});

Deno.test("serve --port -1 is the shared parser's range error naming the flag, exit 2", async () => {
  const r = await serveCli(["--port", "-1"]);
  assert.equal(r.code, 2);
  assert.equal(r.stderr, 'error: --port must be an integer in [0, 65535], got "-1"\n');
});

Deno.test("serve: a busy port is named in one line, exit 2, before the bundle is built", async () => {
  const busy = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const port = (busy.addr as Deno.NetAddr).port;
    const r = await serveCli(["--port", String(port)]);
    assert.equal(r.code, 2, r.stderr);
    assert.deepEqual(ownLines(r.stderr), [
      `error: --port ${port} is in use on 127.0.0.1: choose another --port (0 picks a free one)`,
    ]);
    assert.equal(r.stdout, "");
  } finally {
    busy.close();
  }
});
