import assert from "node:assert/strict";
import { ownLines, runTask } from "./helpers.ts";

Deno.test("bad edit flags and files each give a one-line error naming the flag and exit 2, before any work", async () => {
  const face = "data/examples/neutral_face.png", mask = "data/examples/mouth-mask.png";
  const cases: [string[], RegExp][] = [
    [["--from", face, "--strength", "0"], /--strength must be a number in \(0, 1\], got "0"/],
    [["--from", face, "--strength", "1.5"], /--strength must be a number in \(0, 1\], got "1\.5"/],
    [["--from", "data/nope.png"], /--from data\/nope\.png does not exist/],
    [["--from", "deno.json"], /--from deno\.json is not a readable PNG or JPEG/],
    [
      ["--from", face, "--mask", "data/forward.png"],
      /--mask data\/forward\.png is \d+×\d+: it must be the model's 32×32/,
    ],
    [["--mask", mask], /--mask needs --from/],
    [["--from", face, "--mask", mask, "--resample", "0"], /--resample must be an integer in \[1, 100\]/],
    [["--morph", "1"], /--morph takes two ends A,B/],
    [["--morph", "1,2", "--sampler", "ddpm"], /--morph needs a deterministic sampler/],
    [["--morph", "1,data/nope.png"], /--morph data\/nope\.png does not exist/],
  ];
  for (const [args, re] of cases) {
    const { code, stderr } = await runTask("sample.ts", [...args, "--out", "data/samples/never-written"]);
    assert.equal(code, 2, `${args.join(" ")} → exit ${code}: ${stderr}`);
    const lines = ownLines(stderr);
    assert.equal(lines.length, 1, `one line for ${args.join(" ")}: ${stderr}`);
    assert.match(lines[0], /^error: /);
    assert.match(lines[0], re);
  }
  await assert.rejects(Deno.stat("data/samples/never-written"), Deno.errors.NotFound);
});
