/**
 * The README's commands and snippets are what they claim: the edit pictures are what the shown commands
 * wrote, and the library snippet runs as printed, importing the clone's mod.ts by path.
 */
import assert from "node:assert/strict";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { sha256Hex } from "../src/platform/sha256.ts";
import { denoCommand } from "./helpers.ts";

const README = await Deno.readTextFile("README.md");

/** The fenced blocks of `lang` in the README section starting with `heading`. */
function blocks(heading: string, lang: string): string[] {
  const start = README.indexOf(`## ${heading}\n`);
  assert.ok(start >= 0, heading);
  const end = README.indexOf("\n## ", start + 1);
  const section = README.slice(start, end < 0 ? undefined : end);
  return [...section.matchAll(new RegExp("```" + lang + "\\n([\\s\\S]*?)```", "g"))].map((m) => m[1]);
}

interface MadeBy {
  command: string;
  output: string;
  sha256: string;
}

Deno.test("README: the edit pictures are what the commands shown wrote (commands.json, checked by hash)", async () => {
  const list: MadeBy[] = JSON.parse(await Deno.readTextFile("data/models/edits/commands.json"));
  const shown = blocks("Edit an emoji", "sh")[0].trim().split("\n");
  assert.deepEqual(list.map((m) => m.command), shown, "the README shows the listed commands, in order");
  const start = README.indexOf("## Edit an emoji\n");
  const pictures = [
    ...README.slice(start, README.indexOf("\n## ", start + 1)).matchAll(/!\[[^\]]*\]\(([^)]+)\)/g),
  ]
    .map((m) => m[1]);
  assert.deepEqual(pictures, list.map((m) => m.output), "each picture is a listed output");
  for (const m of list) {
    const out = /--out (\S+)/.exec(m.command)?.[1];
    assert.ok(out && m.output.startsWith(`${out}/`), `${m.command} writes ${m.output}`);
    assert.equal(sha256Hex(await Deno.readFile(m.output)), m.sha256, m.output);
  }
});

Deno.test("README: the library snippet saves its PNG when run as printed, from the clone by path with --config", async () => {
  const deno = await denoCommand();
  assert.ok(deno, "needs --allow-run=deno");
  const snippet = blocks("Use as a library", "ts")[0];
  const command = /Run it with\s+`deno run ([^`]*) main\.ts`/.exec(README)?.[1].split(" ");
  assert.ok(command, "the README gives the command");
  const dir = await Deno.makeTempDir();
  try {
    const mod = pathToFileURL(resolve("mod.ts")).href;
    await Deno.writeTextFile(
      join(dir, "main.ts"),
      snippet.replace('"jsr:@emoji-diffusion/core"', `"${mod}"`),
    );
    // from the clone: no download, so no --allow-net; the clone's import map instead
    const flags = command.filter((f) => !f.startsWith("--allow-net"));
    const run = async (drop = "") =>
      await new Deno.Command(deno!, {
        args: [
          "run",
          "--quiet",
          "--config",
          resolve("deno.json"),
          ...flags.filter((f) => f !== drop),
          "main.ts",
        ],
        cwd: dir,
        stdout: "piped",
        stderr: "piped",
      }).output();
    const t0 = performance.now();
    const refused = await run("--allow-ffi");
    const stderr = new TextDecoder().decode(refused.stderr);
    assert.notEqual(refused.code, 0);
    assert.match(stderr, /MissingPermissionError: saving emojis\.png needs --allow-ffi/);
    assert.ok(performance.now() - t0 < 20_000, "refused before sampling");
    const ok = await run();
    assert.equal(ok.code, 0, new TextDecoder().decode(ok.stderr));
    const png = await Deno.readFile(join(dir, "emojis.png"));
    assert.deepEqual([...png.subarray(1, 4)], [0x50, 0x4e, 0x47]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("README: every picture it shows is in the JSR package (deno.json publish.include)", async () => {
  const include: string[] = JSON.parse(await Deno.readTextFile("deno.json")).publish.include;
  const pictures = [...README.matchAll(/!\[[^\]]*\]\(([^)]+)\)/g)].map((m) => m[1]);
  assert.ok(pictures.length > 0);
  for (const p of pictures) {
    assert.ok(include.some((i) => p === i || (i.endsWith("/") && p.startsWith(i))), `${p} is published`);
  }
});
