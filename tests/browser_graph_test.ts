// The browser entry's module graph, as Deno resolves it with the browser import map: the code
// reachable from web/core.ts and web/page.ts imports no node: built-in, no imagescript, and no
// local module in it uses Deno.* (type-only imports are erased, so they are not followed).
import assert from "node:assert/strict";

interface Dep {
  specifier: string;
  code?: { specifier: string };
}
interface Mod {
  specifier: string;
  dependencies?: Dep[];
  local?: string;
}

async function codeGraph(entry: string): Promise<Map<string, Mod>> {
  const out = await new Deno.Command("deno", {
    args: ["info", "--json", "--import-map", "web/import_map.json", entry],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert(out.success, new TextDecoder().decode(out.stderr));
  const info = JSON.parse(new TextDecoder().decode(out.stdout));
  const bySpec = new Map<string, Mod>(info.modules.map((m: Mod) => [m.specifier, m]));
  const redirects: Record<string, string> = info.redirects ?? {};
  const seen = new Map<string, Mod>();
  const todo: string[] = [...info.roots];
  while (todo.length) {
    let spec = todo.pop()!;
    spec = redirects[spec] ?? spec;
    if (seen.has(spec)) continue;
    const mod = bySpec.get(spec) ?? { specifier: spec };
    seen.set(spec, mod);
    for (const d of mod.dependencies ?? []) if (d.code) todo.push(d.code.specifier);
  }
  return seen;
}

/** Source without comments, so a JSDoc mentioning Deno's errors does not count. */
function code(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:"'`])\/\/.*$/gm, "$1");
}

for (const entry of ["web/core.ts", "web/page.ts"]) {
  Deno.test(`browser graph of ${entry}: no node:, no imagescript, no Deno.*`, async () => {
    const graph = await codeGraph(entry);
    const specs = [...graph.keys()];
    assert.deepEqual(specs.filter((s) => s.startsWith("node:")), []);
    assert.deepEqual(specs.filter((s) => /imagescript/.test(s)), []);
    const local = [...graph.values()].filter((m) => m.specifier.startsWith("file:") && m.local);
    assert(local.some((m) => m.specifier.endsWith("/src/model/model.ts")), "the model is in the graph");
    assert(
      local.some((m) => m.specifier.endsWith("/src/platform/files_browser.ts")),
      "browser files module used",
    );
    assert(!local.some((m) => m.specifier.endsWith("/src/platform/files.ts")), "Deno files module left out");
    const usesDeno = [];
    for (const m of local) {
      if (/\bDeno\./.test(code(await Deno.readTextFile(m.local!)))) usesDeno.push(m.specifier);
    }
    assert.deepEqual(usesDeno, []);
  });
}
