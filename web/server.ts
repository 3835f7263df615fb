/**
 * The HTTP side of `deno task serve`: the page, its bundle (built by `deno bundle` into memory),
 * tfjs's wasm binaries from the installed npm package (no CDN, so it works offline) and the
 * checkpoints under `data/models/`. Every response carries the COOP/COEP headers that make the page
 * cross-origin isolated, which threaded wasm (SharedArrayBuffer) needs.
 *
 * @module
 */
import { loadCheckpoint } from "../src/checkpoint/format.ts";
import type { LabelVocabulary, SamplingDefaults } from "../src/model/labels.ts";
import { extname, join, normalize, relative, resolve, sep as SEPARATOR } from "node:path";
import { fileURLToPath } from "node:url";
import { PRETRAINED_MODELS, pretrainedUrl } from "../src/checkpoint/pretrained.ts";
import { wasmPackageDir } from "../src/backend/wasm_package.ts";

const WEB_DIR = fileURLToPath(new URL(".", import.meta.url));
const ROOT = resolve(WEB_DIR, "..");

/** The wasm binaries tfjs-backend-wasm may ask for (plain, SIMD, threaded SIMD). */
export const WASM_FILES = [
  "tfjs-backend-wasm.wasm",
  "tfjs-backend-wasm-simd.wasm",
  "tfjs-backend-wasm-threaded-simd.wasm",
] as const;

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".json": "application/json",
  ".wasm": "application/wasm",
  ".png": "image/png",
  ".safetensors": "application/octet-stream",
};

/** Headers on every response: cross-origin isolation (COOP + COEP) and no stale caching. */
export const ISOLATION_HEADERS: Readonly<Record<string, string>> = {
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-embedder-policy": "require-corp",
  "cross-origin-resource-policy": "same-origin",
  "cache-control": "no-cache",
  "x-content-type-options": "nosniff",
};

/** A shipped model as the page lists it. */
export interface ModelEntry {
  /** Its name (`apple-faces`, …). */
  name: string;
  /** Where the page fetches it: `/models/<path under data/models>`. */
  url: string;
  /** Its size in bytes. */
  bytes: number;
  /** A conditioned model's label vocabulary (field → values), for the page's label menus. */
  labels?: LabelVocabulary;
  /** Its sampling defaults (default labels, guidance). */
  sampling?: SamplingDefaults;
}

/**
 * Runs `deno bundle` on the page's entry with the browser import map and returns the minified
 * bundle. Throws with the bundler's first error line when it fails.
 *
 * @example
 * ```ts ignore
 * const js = await buildBundle();
 * ```
 */
export async function buildBundle(entry = join(WEB_DIR, "page.ts")): Promise<Uint8Array> {
  const out = await new Deno.Command("deno", {
    args: [
      "bundle",
      "--quiet",
      "--platform",
      "browser",
      "--minify",
      "--import-map",
      join(WEB_DIR, "import_map.json"),
      entry,
    ],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const err = new TextDecoder().decode(out.stderr).split("\n")
    .map((l) => l.replace(/^error: /, "").trim())
    .filter((l) => l && !/experimental/.test(l));
  if (!out.success || out.stdout.length === 0) {
    throw new Error(`deno bundle failed: ${err[0] ?? `exit code ${out.code}`}`);
  }
  return out.stdout;
}

/**
 * The shipped models that exist on disk, with the URL the page fetches each from.
 *
 * @example
 * ```ts ignore
 * console.log((await shippedModels()).map((m) => m.name));
 * ```
 */
export async function shippedModels(): Promise<ModelEntry[]> {
  const models: ModelEntry[] = [];
  const dir = join(ROOT, "data", "models");
  for (const name of PRETRAINED_MODELS) {
    const path = fileURLToPath(pretrainedUrl(name));
    try {
      const { size } = await Deno.stat(path);
      const { meta } = await loadCheckpoint(path);
      models.push({
        name,
        url: `/models/${relative(dir, path).split(SEPARATOR).join("/")}`,
        bytes: size,
        ...(meta.model.labels ? { labels: meta.model.labels } : {}),
        ...(meta.sampling ? { sampling: meta.sampling } : {}),
      });
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
  }
  return models;
}

/** What identifies the shipped checkpoints' files as they are now: path, size and mtime of each. */
async function shippedFilesKey(): Promise<string> {
  const parts: string[] = [];
  for (const name of PRETRAINED_MODELS) {
    const path = fileURLToPath(pretrainedUrl(name));
    const stat = await Deno.stat(path).catch(() => null);
    parts.push(`${path}:${stat?.size ?? -1}:${stat?.mtime?.getTime() ?? -1}`);
  }
  return parts.join("|");
}

/** Where {@linkcode shippedModelsCache} gets its answer and the key that says when to compute it again. */
export interface ModelsCacheSource {
  /** The JSON to serve (default: {@linkcode shippedModels}'s). */
  compute?: () => Promise<string>;
  /** Changes when the files change (default: path, size and mtime of each shipped checkpoint). */
  key?: () => Promise<string>;
}

/**
 * {@linkcode shippedModels} as JSON, computed once and again only when a shipped checkpoint's file
 * changes (its size or mtime): each call stats the files, and concurrent calls share one computation.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { shippedModelsCache } from "./server.ts";
 * let computed = 0, version = "a";
 * const models = shippedModelsCache({ compute: () => Promise.resolve(`[${++computed}]`), key: () => Promise.resolve(version) });
 * await Promise.all([models(), models()]);
 * assert.equal(computed, 1);
 * version = "b";
 * assert.equal(await models(), "[2]");
 * ```
 */
export function shippedModelsCache(source: ModelsCacheSource = {}): () => Promise<string> {
  const compute = source.compute ?? (async () => JSON.stringify(await shippedModels()));
  const currentKey = source.key ?? shippedFilesKey;
  let cached: { key: string; json: Promise<string> } | null = null;
  return async () => {
    const key = await currentKey();
    if (cached?.key !== key) {
      const json = compute();
      cached = { key, json };
      // a failure is not kept: the next request tries again
      json.catch(() => {
        if (cached?.json === json) cached = null;
      });
    }
    return await cached.json;
  };
}

/** The host names the server answers to: loopback only, so that a rebinding page cannot read through it. */
const LOOPBACK_HOSTS = new Set(["127.0.0.1", "localhost", "[::1]"]);

/**
 * Whether a request's `Host` (or, without one, its URL's host) names the loopback interface:
 * `127.0.0.1`, `localhost` or `[::1]`, with any port. A DNS-rebinding page sends its own name.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { loopbackHost } from "./server.ts";
 * assert.equal(loopbackHost(new Request("http://127.0.0.1:8000/")), true);
 * assert.equal(loopbackHost(new Request("http://127.0.0.1:8000/", { headers: { host: "evil.example:8000" } })), false);
 * ```
 */
export function loopbackHost(req: Request): boolean {
  const host = req.headers.get("host") ?? new URL(req.url).host;
  const m = /^(\[[^\]]*\]|[^:]*)(?::(\d{1,5}))?$/.exec(host.trim().toLowerCase());
  return m !== null && LOOPBACK_HOSTS.has(m[1]);
}

/** What {@linkcode makeHandler} serves. */
export interface ServeOptions {
  /** The page's JavaScript bundle (see {@linkcode buildBundle}). */
  bundle: Uint8Array;
  /** Where `/models.json` comes from (default: the shipped checkpoints, see {@linkcode shippedModelsCache}). */
  models?: ModelsCacheSource;
}

function respond(body: BodyInit | null, status: number, type: string, extra: Record<string, string> = {}) {
  return new Response(body, { status, headers: { ...ISOLATION_HEADERS, "content-type": type, ...extra } });
}

async function serveFile(path: string, method: string): Promise<Response> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return respond("not found\n", 404, "text/plain; charset=utf-8");
    throw err;
  }
  const { size, isFile } = await file.stat();
  if (!isFile) {
    file.close();
    return respond("not found\n", 404, "text/plain; charset=utf-8");
  }
  const type = TYPES[extname(path)] ?? "application/octet-stream";
  if (method === "HEAD") {
    file.close();
    return respond(null, 200, type, { "content-length": String(size) });
  }
  return respond(file.readable, 200, type, { "content-length": String(size) });
}

/**
 * The request handler: `/` (the page), `/page.css`, `/page.js` (the bundle), `/models.json` (the
 * shipped models, computed once and again when a checkpoint's file changes), `/models/…` (`.safetensors`
 * under `data/models/`), `/wasm/…` (tfjs's binaries). Anything else, or a path leaving its folder, is a
 * 404; a malformed URL is a 400; a `Host` that is not a loopback name (`127.0.0.1`, `localhost`,
 * `[::1]`) is a 403. Every answer carries {@linkcode ISOLATION_HEADERS}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { makeHandler } from "./server.ts";
 * const handler = await makeHandler({ bundle: new TextEncoder().encode("console.log(1)") });
 * const res = await handler(new Request("http://127.0.0.1/page.js"));
 * assert.equal(res.headers.get("cross-origin-embedder-policy"), "require-corp");
 * await res.body?.cancel();
 * ```
 */
export async function makeHandler(options: ServeOptions): Promise<(req: Request) => Promise<Response>> {
  const { version_wasm } = await import("@tensorflow/tfjs-backend-wasm");
  const wasmDir = join(wasmPackageDir(version_wasm), "dist");
  const modelsDir = join(ROOT, "data", "models");
  const models = shippedModelsCache(options.models);
  const text = "text/plain; charset=utf-8";
  const handle = async (req: Request): Promise<Response> => {
    if (!loopbackHost(req)) return respond("forbidden host: use http://127.0.0.1/\n", 403, text);
    if (req.method !== "GET" && req.method !== "HEAD") {
      return respond("method not allowed\n", 405, text, { allow: "GET, HEAD" });
    }
    let path: string;
    try {
      path = decodeURIComponent(new URL(req.url).pathname);
    } catch {
      return respond("bad request: malformed URL\n", 400, text);
    }
    // no file name holds a control character (a NUL would reach the file system as an error)
    if ([...path].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f)) {
      return respond("bad request: malformed URL\n", 400, text);
    }
    if (path === "/" || path === "/index.html") {
      return await serveFile(join(WEB_DIR, "index.html"), req.method);
    }
    if (path === "/page.css") return await serveFile(join(WEB_DIR, "page.css"), req.method);
    if (path === "/page.js") {
      return respond(req.method === "HEAD" ? null : options.bundle.slice(), 200, TYPES[".js"], {
        "content-length": String(options.bundle.length),
      });
    }
    if (path === "/models.json") return respond(await models(), 200, TYPES[".json"]);
    if (path.startsWith("/wasm/")) {
      const name = path.slice("/wasm/".length);
      if ((WASM_FILES as readonly string[]).includes(name)) {
        return await serveFile(join(wasmDir, name), req.method);
      }
    }
    if (path.startsWith("/models/") && path.endsWith(".safetensors")) {
      const file = normalize(join(modelsDir, path.slice("/models/".length)));
      if (file.startsWith(modelsDir + SEPARATOR)) return await serveFile(file, req.method);
    }
    return respond("not found\n", 404, text);
  };
  return async (req: Request): Promise<Response> => {
    try {
      return await handle(req);
    } catch (err) {
      // one line on stderr, no stack; the answer keeps the headers
      console.error(
        `error: ${req.method} ${new URL(req.url).pathname}: ${
          String((err as Error)?.message ?? err).split("\n")[0]
        }`,
      );
      return respond("internal error\n", 500, text);
    }
  };
}
