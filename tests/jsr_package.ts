/**
 * The package as a JSR user gets it, for the remote-import tests: the files `deno publish --dry-run`
 * lists, with the import map's bare specifiers rewritten the way JSR rewrites them (`npm:` ones to
 * their `npm:` specifier, local ones to relative paths), served over HTTP on a free loopback port.
 */
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { denoCommand } from "./helpers.ts";

/** The repository root. */
export const ROOT: string = dirname(dirname(fileURLToPath(import.meta.url)));

/** The files `deno publish --dry-run` would upload, relative to the root. */
export async function publishedFiles(): Promise<string[]> {
  const deno = await denoCommand();
  if (!deno) throw new Deno.errors.NotCapable("the JSR layout needs --allow-run=deno");
  const out = await new Deno.Command(deno, {
    args: ["publish", "--dry-run", "--allow-dirty"],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  if (!out.success) throw new Error(`deno publish --dry-run failed:\n${text}`);
  const prefix = `file://${ROOT}/`;
  const files = [...text.matchAll(/^\s+(file:\/\/\S+) \([0-9.]+[KMG]?B\)$/gm)]
    .map((m) => decodeURIComponent(m[1]))
    .filter((u) => u.startsWith(prefix))
    .map((u) => u.slice(prefix.length))
    // a worktree's `.git` is a file; a clone's is a folder and is never listed
    .filter((f) => f !== ".git");
  if (!files.includes("mod.ts")) throw new Error(`deno publish --dry-run listed no mod.ts:\n${text}`);
  return files;
}

/**
 * Rewrites the specifiers of `import`/`export … from`/`import(…)`/`import.meta.resolve(…)` with a
 * literal argument in a module the way JSR does:
 * an import-map key (or key/subpath) mapped to `npm:` becomes that specifier, one mapped to a local
 * file becomes a relative path from `file`.
 */
export function rewriteSpecifiers(source: string, file: string, imports: Record<string, string>): string {
  return source.replace(
    /(\bfrom\s*|\bimport\s*\(\s*|\bimport\s+|\bimport\.meta\.resolve\(\s*)(["'])([^"'\n]+)\2/g,
    (all, pre: string, quote: string, spec: string) => {
      for (const [key, target] of Object.entries(imports)) {
        const sub = spec === key ? "" : spec.startsWith(key + "/") ? spec.slice(key.length) : null;
        if (sub === null) continue;
        let to = target + sub;
        if (!/^(npm|jsr|https?):/.test(target)) {
          to = relative(dirname(join(ROOT, file)), join(ROOT, target + sub)).replaceAll("\\", "/");
          if (!to.startsWith(".")) to = "./" + to;
        }
        return `${pre}${quote}${to}${quote}`;
      }
      return all;
    },
  );
}

/** Copies the published files into `dir`, rewriting the specifiers of the TypeScript modules. */
export async function layOutPackage(dir: string): Promise<string[]> {
  const files = await publishedFiles();
  const imports = JSON.parse(await Deno.readTextFile(join(ROOT, "deno.json"))).imports as Record<
    string,
    string
  >;
  for (const f of files) {
    await Deno.mkdir(dirname(join(dir, f)), { recursive: true });
    if (/\.(ts|js|mts|tsx)$/.test(f)) {
      await Deno.writeTextFile(
        join(dir, f),
        rewriteSpecifiers(await Deno.readTextFile(join(ROOT, f)), f, imports),
      );
    } else {
      await Deno.copyFile(join(ROOT, f), join(dir, f));
    }
  }
  return files;
}

const TYPES: Record<string, string> = {
  ts: "application/typescript; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  json: "application/json",
  md: "text/markdown; charset=utf-8",
  png: "image/png",
  svg: "image/svg+xml",
  csv: "text/csv; charset=utf-8",
};

/** A static file server on 127.0.0.1 (a free port) for the files under `dir`, at `/pkg/`. */
export function servePackage(dir: string): { server: Deno.HttpServer<Deno.NetAddr>; base: string } {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const path = decodeURIComponent(new URL(req.url).pathname);
    if (!path.startsWith("/pkg/") || path.includes("..")) return new Response("not found", { status: 404 });
    const file = path.slice("/pkg/".length);
    try {
      const body = await Deno.readFile(join(dir, file));
      const type = TYPES[file.split(".").pop()!] ?? "application/octet-stream";
      return new Response(body, { headers: { "content-type": type } });
    } catch {
      return new Response("not found", { status: 404 });
    }
  });
  return { server, base: `http://127.0.0.1:${server.addr.port}/pkg/` };
}
