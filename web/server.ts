/**
 * The HTTP side of `deno task serve`: the page, its bundle (built by `deno bundle` into memory),
 * tfjs's wasm binaries from the installed npm package (no CDN, so it works offline) and the
 * checkpoints under `data/models/`. Every response carries the COOP/COEP headers that make the page
 * cross-origin isolated, which threaded wasm (SharedArrayBuffer) needs.
 *
 * @module
 */
import { loadCheckpoint } from "../src/checkpoint.ts";
import type { LabelVocabulary, SamplingDefaults } from "../src/model/labels.ts";
import { extname, join, normalize, relative, resolve, sep as SEPARATOR } from "node:path";
import { fileURLToPath } from "node:url";
import { PRETRAINED_MODELS, pretrainedUrl } from "../src/pretrained.ts";
import { wasmPackageDir } from "../src/wasm_package.ts";

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

/** What {@linkcode makeHandler} serves. */
export interface ServeOptions {
  /** The page's JavaScript bundle (see {@linkcode buildBundle}). */
  bundle: Uint8Array;
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
 * shipped models), `/models/…` (`.safetensors` under `data/models/`), `/wasm/…` (tfjs's binaries).
 * Anything else, or a path leaving its folder, is a 404.
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
  return async (req: Request): Promise<Response> => {
    if (req.method !== "GET" && req.method !== "HEAD") {
      return respond("method not allowed\n", 405, "text/plain; charset=utf-8", { allow: "GET, HEAD" });
    }
    const path = decodeURIComponent(new URL(req.url).pathname);
    if (path === "/" || path === "/index.html") {
      return await serveFile(join(WEB_DIR, "index.html"), req.method);
    }
    if (path === "/page.css") return await serveFile(join(WEB_DIR, "page.css"), req.method);
    if (path === "/page.js") {
      return respond(req.method === "HEAD" ? null : options.bundle.slice(), 200, TYPES[".js"], {
        "content-length": String(options.bundle.length),
      });
    }
    if (path === "/models.json") {
      return respond(JSON.stringify(await shippedModels()), 200, TYPES[".json"]);
    }
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
    return respond("not found\n", 404, "text/plain; charset=utf-8");
  };
}
