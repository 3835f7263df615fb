import assert from "node:assert/strict";
import { ownLines, runTask } from "./helpers.ts";

Deno.test("bad train flags each give a one-line error and exit 2, before any training", async () => {
  const model = "data/models/apple-faces-unet.safetensors";
  const cases: [string[], RegExp][] = [
    [["--resume", "data/nope.safetensors"], /--resume "data\/nope\.safetensors" does not exist/],
    [["--init", "data/nope.safetensors"], /--init "data\/nope\.safetensors" does not exist/],
    [["--init", model, "--resume", model], /give --resume or --init, not both/],
    [["--steps", "5", "--epochs", "2"], /give --steps or --epochs, not both/],
    [["--data", "data/nope"], /--data "data\/nope" has no manifest\.json; prepare it with/],
    [["--steps", "0"], /--steps must be an integer/],
  ];
  for (const [args, re] of cases) {
    const { code, stderr } = await runTask("train.ts", [...args, "--out", "data/runs/never-written"]);
    assert.equal(code, 2, `${args.join(" ")} → exit ${code}: ${stderr}`);
    const lines = ownLines(stderr);
    assert.equal(lines.length, 1, `one line for ${args.join(" ")}: ${stderr}`);
    assert.match(lines[0], /^error: /);
    assert.match(lines[0], re);
  }
  await assert.rejects(Deno.stat("data/runs/never-written"), Deno.errors.NotFound);
});

Deno.test("train's model-size flags are checked by the model config's own ranges, worded by the flags", async () => {
  const { MAX_UNET_CHANNELS, MAX_UNET_MULT } = await import("../src/model/model.ts");
  const cases: [string[], string][] = [
    [
      ["--channels", String(MAX_UNET_CHANNELS + 8)],
      `--channels must be an integer in [1, ${MAX_UNET_CHANNELS}]`,
    ],
    [["--mult", `1,${MAX_UNET_MULT + 1}`], `--mult values must be integers in [1, ${MAX_UNET_MULT}]`],
    [["--channels", "30"], "--channels 30×1 must be divisible by groups 8"],
  ];
  for (const [args, message] of cases) {
    const r = await runTask("train.ts", [...args, "--dry-run"]);
    assert.equal(r.code, 2, args.join(" "));
    const lines = ownLines(r.stderr);
    assert.equal(lines.length, 1, lines.join("\n"));
    assert.ok(lines[0].startsWith(`error: ${message}`), lines[0]);
  }
});
