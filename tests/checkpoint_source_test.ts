import assert from "node:assert/strict";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { initBackend } from "../src/backend/select.ts";
import { EmojiDiffusion } from "../src/api.ts";
import { CheckpointError, loadCheckpoint } from "../src/checkpoint/format.ts";
import { PRETRAINED_MODELS, pretrainedUrl } from "../src/checkpoint/pretrained.ts";

await initBackend("cpu", { log: null });

const SHIPPED = pretrainedUrl("apple-faces");

/** Serves the files of `dir` at `/` on a free loopback port. */
function serve(dir: string): { server: Deno.HttpServer<Deno.NetAddr>; base: string } {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    try {
      const body = await Deno.readFile(join(dir, new URL(req.url).pathname.slice(1)));
      return new Response(body, { headers: { "content-type": "application/octet-stream" } });
    } catch {
      return new Response("not found", { status: 404 });
    }
  });
  return { server, base: `http://127.0.0.1:${server.addr.port}/` };
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error("expected a rejection");
}

Deno.test("a corrupt or truncated checkpoint fails with the same one-line error from a URL as from a file", async () => {
  const dir = await Deno.makeTempDir();
  const good = await Deno.readFile(SHIPPED);
  const corrupt = good.slice();
  corrupt[corrupt.length - 100] ^= 0x40; // one bit of one weight
  await Deno.writeFile(join(dir, "corrupt.safetensors"), corrupt);
  await Deno.writeFile(join(dir, "truncated.safetensors"), good.subarray(0, good.length - 4096));
  await Deno.writeFile(join(dir, "header.safetensors"), good.subarray(0, 1000));
  const { server, base } = serve(dir);
  try {
    for (const name of ["corrupt", "truncated", "header"]) {
      const path = join(dir, `${name}.safetensors`);
      const url = `${base}${name}.safetensors`;
      const local = await rejection(EmojiDiffusion.load(path));
      const remote = await rejection(EmojiDiffusion.load(new URL(url)));
      assert.ok(
        local instanceof CheckpointError && remote instanceof CheckpointError,
        `${name}: CheckpointErrors`,
      );
      assert.match(local.message, new RegExp(`^checkpoint "${path}" is (corrupt|truncated)`));
      assert.ok(!local.message.includes("\n"), "one line");
      assert.equal(remote.message, local.message.replace(path, url), `${name}: the same message`);
      // a file: URL reads the same file and says the same, naming the URL
      const fileUrl = pathToFileURL(path);
      const viaFileUrl = await rejection(EmojiDiffusion.load(fileUrl));
      assert.equal(viaFileUrl.message, local.message.replace(path, fileUrl.href));
    }
  } finally {
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a missing checkpoint is a NotFound naming it, from a URL (HTTP 404) as from a file", async () => {
  const dir = await Deno.makeTempDir();
  const { server, base } = serve(dir);
  try {
    await assert.rejects(() => loadCheckpoint(`${base}nothing.safetensors`), {
      name: "NotFound",
      message: `checkpoint "${base}nothing.safetensors" does not exist (HTTP 404)`,
    });
    await assert.rejects(() => loadCheckpoint(join(dir, "nothing.safetensors")), {
      name: "NotFound",
      message: /does not exist; train one with: deno task train$/,
    });
  } finally {
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a download cut off before its Content-Length is a CheckpointError saying how far it got", async () => {
  // A raw HTTP server that promises 5000 bytes, sends 1200 and hangs up.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const served = (async () => {
    const conn = await listener.accept();
    await conn.read(new Uint8Array(4096));
    const head = "HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\ncontent-length: 5000\r\n\r\n";
    await conn.write(new TextEncoder().encode(head));
    await conn.write(new Uint8Array(1200));
    conn.close();
  })();
  const url = `http://127.0.0.1:${listener.addr.port}/cut.safetensors`;
  try {
    const err = await rejection(loadCheckpoint(url));
    assert.ok(err instanceof CheckpointError, String(err));
    assert.match(
      err.message,
      new RegExp(`^checkpoint "${url}" is truncated: the download stopped after \\d+ of 5000 bytes`),
    );
    assert.ok(!err.message.includes("\n"), "one line");
  } finally {
    await served;
    listener.close();
  }
});

Deno.test("loading from a URL reports progress up to the file's size and gives the same weights as the file", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.copyFile(SHIPPED, join(dir, "m.safetensors"));
  const { server, base } = serve(dir);
  try {
    const seen: { loaded: number; total: number | null }[] = [];
    const remote = await loadCheckpoint(new URL(`${base}m.safetensors`), { onProgress: (p) => seen.push(p) });
    const local = await loadCheckpoint(SHIPPED);
    const size = (await Deno.stat(SHIPPED)).size;
    assert.ok(
      seen.length >= 1 &&
        seen.every((p, i) => p.total === size && (i === 0 || p.loaded > seen[i - 1].loaded)),
    );
    assert.equal(seen.at(-1)!.loaded, size);
    assert.deepEqual([...remote.tensors.keys()], [...local.tensors.keys()]);
    for (const [name, t] of local.tensors) assert.deepEqual(remote.tensors.get(name)!.data, t.data, name);
  } finally {
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the shipped models load by name, and an unknown name lists the choices", async () => {
  for (const name of PRETRAINED_MODELS) {
    const m = await EmojiDiffusion.pretrained(name);
    assert.equal(m.imageSize, 32);
    assert.ok(m.step > 0, `${name} is trained`);
    m.dispose();
  }
  // @ts-expect-error: invalid on purpose
  await assert.rejects(() => EmojiDiffusion.pretrained("android"), {
    name: "RangeError",
    message: 'unknown pretrained model "android": choose one of faces8, faces, apple-faces, four-vendors',
  });
});
