/**
 * `deno task check` step: no import cycles among the repository's own modules.
 *
 * Builds the import graph of every `.ts` file in `mod.ts`, `src/`, `tasks/`, `web/`, `tools/` and
 * `examples/` with `deno info --json` (static imports, `import type` and re-exports all count; a
 * dynamic `import()` does not, since it runs after its importer has loaded), and refuses any cycle,
 * printing it as `a.ts:LINE → b.ts:LINE → … → a.ts`, each step at the line of its import.
 *
 *   deno run --allow-read --allow-write --allow-run=deno tools/check_cycles.ts
 *
 * This is a tool for developers, not part of the library: it lives in `tools/` and is not published.
 *
 * @module
 */
import { dirname, relative, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { sourceFiles } from "./check_examples.ts";

/** An import of one local module by another. */
export interface Edge {
  /** The imported module (a path relative to the root). */
  to: string;
  /** 1-based line of the import in the importing module. */
  line: number;
  /** Whether the import only brings in types (`import type`, or only type-level uses). */
  typeOnly: boolean;
}

/** Local module → its imports of local modules. */
export type Graph = Map<string, Edge[]>;

interface InfoDependency {
  code?: { specifier: string; span: { start: { line: number } } };
  type?: { specifier: string; span: { start: { line: number } } };
  isDynamic?: boolean;
}

interface InfoJson {
  modules: { specifier: string; dependencies?: InfoDependency[] }[];
}

/** Reads `deno info --json` output into the graph of the modules under `root`. */
export function graphFromInfo(info: InfoJson, root: string): Graph {
  const local = (spec: string | undefined) => {
    if (!spec?.startsWith("file://")) return null;
    const path = relative(root, fileURLToPath(spec));
    return path.startsWith("..") ? null : path;
  };
  const graph: Graph = new Map();
  for (const m of info.modules) {
    const from = local(m.specifier);
    if (from === null) continue;
    const edges: Edge[] = [];
    for (const d of m.dependencies ?? []) {
      if (d.isDynamic) continue;
      const dep = d.code ?? d.type;
      const to = local(dep?.specifier);
      if (to === null || !dep) continue;
      edges.push({ to, line: dep.span.start.line + 1, typeOnly: !d.code });
    }
    graph.set(from, edges);
  }
  return graph;
}

/**
 * The cycles of `graph`: one per strongly connected component with more than one module (or a module
 * importing itself), as the list of modules along a shortest cycle through the component's first
 * module in sorted order, that module repeated at the end.
 */
export function findCycles(graph: Graph): string[][] {
  // Tarjan's strongly connected components, iterative.
  const index = new Map<string, number>(), low = new Map<string, number>();
  const onStack = new Set<string>(), stack: string[] = [];
  const components: string[][] = [];
  let next = 0;
  const nodes = [...graph.keys()].sort();
  for (const start of nodes) {
    if (index.has(start)) continue;
    const work: [string, number][] = [[start, 0]];
    index.set(start, next), low.set(start, next++), stack.push(start), onStack.add(start);
    while (work.length > 0) {
      const top = work[work.length - 1];
      const [v, i] = top;
      const edges = graph.get(v) ?? [];
      if (i < edges.length) {
        top[1]++;
        const w = edges[i].to;
        if (!index.has(w)) {
          index.set(w, next), low.set(w, next++), stack.push(w), onStack.add(w);
          work.push([w, 0]);
        } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
        continue;
      }
      work.pop();
      if (work.length > 0) {
        const u = work[work.length - 1][0];
        low.set(u, Math.min(low.get(u)!, low.get(v)!));
      }
      if (low.get(v) === index.get(v)) {
        const comp: string[] = [];
        let w: string;
        do {
          w = stack.pop()!;
          onStack.delete(w);
          comp.push(w);
        } while (w !== v);
        const selfLoop = (graph.get(v) ?? []).some((e) => e.to === v);
        if (comp.length > 1 || selfLoop) components.push(comp.sort());
      }
    }
  }
  // One shortest cycle through the first module of each component (breadth-first inside it).
  return components.sort((a, b) => a[0] < b[0] ? -1 : 1).map((comp) => {
    const inComp = new Set(comp);
    const first = comp[0];
    const prev = new Map<string, string>();
    const queue = [first];
    let found = false;
    while (queue.length > 0 && !found) {
      const v = queue.shift()!;
      for (const e of graph.get(v) ?? []) {
        if (!inComp.has(e.to)) continue;
        if (e.to === first) {
          prev.set(first, v);
          found = true;
          break;
        }
        if (!prev.has(e.to)) {
          prev.set(e.to, v);
          queue.push(e.to);
        }
      }
    }
    const cycle = [first];
    for (let v = prev.get(first)!; v !== first; v = prev.get(v)!) cycle.unshift(v);
    cycle.unshift(first);
    return cycle;
  });
}

/** The modules that `start` reaches and that reach `start`, sorted. */
export function stronglyConnected(graph: Graph, start: string): string[] {
  const reach = (edges: (v: string) => string[]) => {
    const seen = new Set([start]);
    const queue = [start];
    while (queue.length > 0) {
      for (const w of edges(queue.shift()!)) {
        if (!seen.has(w)) seen.add(w), queue.push(w);
      }
    }
    return seen;
  };
  const forward = reach((v) => (graph.get(v) ?? []).map((e) => e.to));
  const backward = reach((v) => [...graph].filter(([, es]) => es.some((e) => e.to === v)).map(([u]) => u));
  return [...forward].filter((v) => backward.has(v)).sort();
}

/** `a.ts:3 → b.ts:7 → a.ts`, marking type-only steps. */
export function formatCycle(graph: Graph, cycle: string[]): string {
  const steps = cycle.slice(0, -1).map((from, i) => {
    const edge = (graph.get(from) ?? []).find((e) => e.to === cycle[i + 1])!;
    return `${from}:${edge.line}${edge.typeOnly ? " (type)" : ""}`;
  });
  return [...steps, cycle[cycle.length - 1]].join(" → ");
}

/** The import graph of the repository at `root` by `deno info --json`. */
export async function repoGraph(root: string): Promise<Graph> {
  const files: string[] = [];
  for (const dir of ["mod.ts", "src", "tasks", "web", "tools", "examples"]) {
    files.push(...await sourceFiles(root, dir));
  }
  // deno info takes one module: a temporary one that imports them all.
  const entry = await Deno.makeTempFile({ suffix: ".ts" });
  try {
    await Deno.writeTextFile(
      entry,
      files.map((f) => `import ${JSON.stringify(pathToFileURL(resolve(root, f)).href)};\n`).join(""),
    );
    const out = await new Deno.Command("deno", {
      args: ["info", "--json", "--config", resolve(root, "deno.json"), entry],
      cwd: root,
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) throw new Error(`deno info failed: ${new TextDecoder().decode(out.stderr)}`);
    return graphFromInfo(JSON.parse(new TextDecoder().decode(out.stdout)), root);
  } finally {
    await Deno.remove(entry);
  }
}

if (import.meta.main) {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
  const graph = await repoGraph(root);
  const cycles = findCycles(graph);
  for (const c of cycles) {
    const members = stronglyConnected(graph, c[0]);
    console.error(`import cycle: ${formatCycle(graph, c)}`);
    if (members.length > c.length - 1) {
      console.error(`  (the modules ${members.join(", ")} all reach each other)`);
    }
  }
  if (cycles.length > 0) {
    console.error(`check_cycles: ${cycles.length} import cycle(s) among ${graph.size} modules`);
    Deno.exit(1);
  }
  console.log(`check_cycles: no import cycles among ${graph.size} modules`);
}
