// The `deno task check` steps of tools/: doc examples must assert (check_examples.ts) and local
// modules must not import each other in a cycle (check_cycles.ts).
import assert from "node:assert/strict";
import { consoleAssertProblems, exampleProblems, hasAssertion } from "../tools/check_examples.ts";
import { findCycles, formatCycle, type Graph } from "../tools/check_cycles.ts";

const doc = (...lines: string[]) =>
  ["/**", ...lines.map((l) => ` * ${l}`.trimEnd()), " */", "export const x = 1;"].join("\n");

Deno.test("hasAssertion: an import from node:assert/strict that is called", () => {
  assert.ok(hasAssertion(`import assert from "node:assert/strict";\nassert.equal(1, 1);`));
  assert.ok(hasAssertion(`import assert from "node:assert/strict";\nassert(true);`));
  assert.ok(hasAssertion(`import { deepEqual as same } from "node:assert/strict";\nsame([1], [1]);`));
  assert.ok(!hasAssertion(`import assert from "node:assert/strict";\nconst y = 1;`));
  assert.ok(!hasAssertion(`const assert = { ok() {} };\nassert.ok(true);`));
  assert.ok(!hasAssertion(`import assert from "node:assert";\nassert.equal(1, 1);`));
});

Deno.test("exampleProblems: names the line of a runnable block without an assertion", () => {
  const text = doc(
    "Adds.",
    "",
    "@example",
    "```ts",
    'import { x } from "./a.ts";',
    "x + 1;",
    "```",
  );
  assert.deepEqual(exampleProblems("a.ts", text), [{
    file: "a.ts",
    line: 5,
    message: `doc example makes no assertion (import assert from "node:assert/strict" and call it)`,
  }]);
});

Deno.test("exampleProblems: asserting, ignored and untagged blocks pass; an @example without a block does not", () => {
  const ok = doc(
    "@example",
    "```ts",
    'import assert from "node:assert/strict";',
    "assert.equal(1 + 1, 2);",
    "```",
    "```ts ignore",
    "notRun();",
    "```",
    "```",
    "plain text",
    "```",
  );
  assert.deepEqual(exampleProblems("a.ts", ok), []);
  const bare = doc("@example", "x + 1;");
  assert.deepEqual(exampleProblems("b.ts", bare).map((p) => `${p.line} ${p.message}`), [
    "2 @example without a code block",
  ]);
});

Deno.test("consoleAssertProblems: every call, by line", () => {
  const call = ["console", "assert"].join(".");
  const text = `const a = 1;\n${call}(a === 1);\n// ${call} named in prose is fine\n`;
  assert.deepEqual(consoleAssertProblems("t.ts", text).map((p) => p.line), [2]);
});

Deno.test("findCycles: one cycle per strongly connected component, type-only steps marked", () => {
  const edge = (to: string, line = 1, typeOnly = false) => ({ to, line, typeOnly });
  const graph: Graph = new Map([
    ["a.ts", [edge("b.ts", 3)]],
    ["b.ts", [edge("c.ts", 4), edge("d.ts", 5)]],
    ["c.ts", [edge("a.ts", 6, true)]],
    ["d.ts", []],
    ["e.ts", [edge("e.ts", 2)]],
  ]);
  const cycles = findCycles(graph);
  assert.deepEqual(cycles, [["a.ts", "b.ts", "c.ts", "a.ts"], ["e.ts", "e.ts"]]);
  assert.equal(formatCycle(graph, cycles[0]), "a.ts:3 → b.ts:4 → c.ts:6 (type) → a.ts");
  assert.deepEqual(findCycles(new Map([["a.ts", [edge("b.ts")]], ["b.ts", []]])), []);
});
