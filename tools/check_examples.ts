/**
 * `deno task check` step: doc examples that can fail.
 *
 * Refuses, naming file:line,
 * - a JSDoc code block that `deno test --doc` runs (fenced `ts`, `js`, `tsx`, … without `ignore`) in
 *   `mod.ts`, `src/` or `web/` that makes no assertion: it must import from `node:assert/strict` and
 *   call what it imports;
 * - an `@example` tag in those files with no code block under it;
 * - a file under `examples/` that makes no assertion the same way;
 * - `console.assert` in any `.ts` file of the repository: in Deno it prints "Assertion failed" and
 *   goes on, so an example or test that uses it passes whatever it computes.
 *
 *   deno run --allow-read tools/check_examples.ts
 *
 * This is a tool for developers, not part of the library: it lives in `tools/` and is not published.
 *
 * @module
 */
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** One problem: where and what. */
export interface Problem {
  /** The path as given to the check. */
  file: string;
  /** 1-based line. */
  line: number;
  /** What is wrong. */
  message: string;
}

/** The languages `deno test --doc` type-checks and runs. */
const RUNNABLE = new Set(["js", "javascript", "mjs", "cjs", "jsx", "ts", "typescript", "mts", "cts", "tsx"]);

// Built from parts so that this file does not match its own rule.
const CONSOLE_ASSERT = new RegExp(["console", "\\s*\\.\\s*", "assert", "\\s*\\("].join(""));

/** The local names bound by imports from `node:assert/strict` in `code`. */
function assertBindings(code: string): string[] {
  const names: string[] = [];
  const re = /import\s+([^;]*?)\s+from\s*["']node:assert\/strict["']/g;
  for (const m of code.matchAll(re)) {
    const clause = m[1].replace(/^type\s+/, "");
    const star = clause.match(/\*\s+as\s+([\w$]+)/);
    if (star) names.push(star[1]);
    const def = clause.match(/^([\w$]+)\s*(,|$)/);
    if (def) names.push(def[1]);
    const braces = clause.match(/\{([^}]*)\}/);
    if (braces) {
      for (const part of braces[1].split(",")) {
        const name = part.trim().split(/\s+as\s+/).pop()?.trim();
        if (name && !name.startsWith("type ")) names.push(name);
      }
    }
  }
  return names;
}

/**
 * Whether `code` asserts with a throwing assertion: it imports from `node:assert/strict` and calls
 * what it imports (`assert(…)`, `assert.equal(…)`, `equal(…)`).
 */
export function hasAssertion(code: string): boolean {
  const names = assertBindings(code);
  const body = code.replace(/import\s+[^;]*?\s+from\s*["']node:assert\/strict["'];?/g, "");
  return names.some((name) => {
    const n = name.replace(/\$/g, "\\$");
    return new RegExp(`(^|[^\\w$.])${n}(\\s*\\.\\s*[\\w$]+)?\\s*\\(`).test(body);
  });
}

/** A fenced code block of a JSDoc comment. */
interface Block {
  /** 1-based line of the opening fence. */
  line: number;
  lang: string;
  attrs: string[];
  code: string;
}

/**
 * Problems in the doc examples of one source file: runnable JSDoc code blocks without an assertion,
 * and `@example` tags without a code block.
 */
export function exampleProblems(file: string, text: string): Problem[] {
  const problems: Problem[] = [];
  const lines = text.split("\n");
  let inDoc = false;
  let block: Block | null = null;
  let fence = "";
  let example: { line: number; blocks: number } | null = null;
  const endExample = () => {
    if (example && example.blocks === 0) {
      problems.push({ file, line: example.line, message: "@example without a code block" });
    }
    example = null;
  };
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i];
    if (!inDoc) {
      const at = line.indexOf("/**");
      if (at < 0 || line.slice(0, at).includes("//")) continue;
      inDoc = true;
      line = line.slice(at + 3);
    }
    const end = line.indexOf("*/");
    const content = (end >= 0 ? line.slice(0, end) : line).replace(/^\s*\*(?!\/)\s?/, "");
    if (block) {
      if (content.trimStart().startsWith(fence)) {
        const b: Block = block;
        const runnable = RUNNABLE.has(b.lang) && !b.attrs.includes("ignore");
        if (runnable && !hasAssertion(b.code)) {
          problems.push({
            file,
            line: b.line,
            message: `doc example makes no assertion (import assert from "node:assert/strict" and call it)`,
          });
        }
        block = null;
      } else {
        block.code += content + "\n";
      }
    } else {
      const open = content.match(/^\s*(`{3,}|~{3,})\s*([\w-]*)\s*(.*)$/);
      if (open) {
        fence = open[1];
        block = { line: i + 1, lang: open[2].toLowerCase(), attrs: open[3].split(/[\s,]+/), code: "" };
        if (example) example.blocks++;
      } else if (/^\s*@example\b/.test(content)) {
        endExample();
        example = { line: i + 1, blocks: 0 };
      } else if (/^\s*@\w/.test(content)) {
        endExample();
      }
    }
    if (end >= 0) {
      if (block) problems.push({ file, line: block.line, message: "code block not closed in its comment" });
      endExample();
      inDoc = false;
      block = null;
    }
  }
  return problems;
}

/** Lines of `text` that call `console.assert`. */
export function consoleAssertProblems(file: string, text: string): Problem[] {
  const problems: Problem[] = [];
  text.split("\n").forEach((line, i) => {
    if (CONSOLE_ASSERT.test(line)) {
      problems.push({
        file,
        line: i + 1,
        message: `console.assert prints and goes on; use node:assert/strict, which throws`,
      });
    }
  });
  return problems;
}

const SKIP = new Set(["node_modules", ".git", "data", "scratch", ".carry"]);

/** The `.ts`/`.tsx` files under `dir` (relative to `root`), sorted; skips node_modules, data, .git. */
export async function sourceFiles(root: string, dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    const entries: Deno.DirEntry[] = [];
    for await (const e of Deno.readDir(d)) entries.push(e);
    for (const e of entries.sort((a, b) => a.name < b.name ? -1 : 1)) {
      const path = join(d, e.name);
      if (e.isDirectory && !SKIP.has(e.name)) await walk(path);
      else if (e.isFile && /\.(ts|tsx|mts|cts)$/.test(e.name)) out.push(relative(root, path));
    }
  };
  const start = join(root, dir);
  try {
    if ((await Deno.stat(start)).isFile) return [relative(root, start)];
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return [];
    throw err;
  }
  await walk(start);
  return out;
}

/** Every problem in the repository at `root`. */
export async function checkRepo(root: string): Promise<Problem[]> {
  const problems: Problem[] = [];
  const read = (f: string) => Deno.readTextFile(join(root, f));
  for (const dir of ["mod.ts", "src", "web"]) {
    for (const f of await sourceFiles(root, dir)) problems.push(...exampleProblems(f, await read(f)));
  }
  for (const f of await sourceFiles(root, "examples")) {
    if (!hasAssertion(await read(f))) {
      problems.push({
        file: f,
        line: 1,
        message: `example makes no assertion (import assert from "node:assert/strict" and call it)`,
      });
    }
  }
  for (const f of await sourceFiles(root, ".")) problems.push(...consoleAssertProblems(f, await read(f)));
  return problems;
}

if (import.meta.main) {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
  const problems = await checkRepo(root);
  for (const p of problems) console.error(`${p.file}:${p.line}: ${p.message}`);
  if (problems.length > 0) {
    console.error(`check_examples: ${problems.length} problem(s)`);
    Deno.exit(1);
  }
  console.log("check_examples: every doc example asserts; no console.assert");
}
