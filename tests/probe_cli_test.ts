/**
 * Bad input and full disks in the tasks besides train: each is one line naming the flag or the file,
 * with the right exit status, and nothing lost or half-written.
 */
import assert from "node:assert/strict";
import { encodePng } from "../src/image/codec.ts";
import { ownLines, runTask } from "./helpers.ts";

const FULL_DISK = "No space left on device \\(os error 28\\); no partial file was left";

/** Runs a task that must fail: its one `error:` line, after checking the exit status. */
async function failing(script: string, args: string[], code: number, env?: Record<string, string>) {
  const r = await runTask(script, args, env ? { env } : {});
  assert.equal(r.code, code, `${script} ${args.join(" ")}: ${r.stderr}`);
  const errors = ownLines(r.stderr).filter((l) => l.startsWith("error"));
  assert.equal(errors.length, 1, r.stderr);
  return errors[0];
}

Deno.test("sample --rows FIELD --n N: the cap is on the total number of images", async () => {
  assert.equal(
    await failing("sample.ts", ["--rows", "subcategory", "--n", "100000", "--out", "data/never"], 2),
    "error: --rows subcategory --n 100000 makes 12 × 100000 = 1200000 images, more than 100000 in all: " +
      "give --n 8333 or less",
  );
});

Deno.test("sample --n 100000: a grid too large to write is refused before any work, saying why", async () => {
  assert.match(
    await failing("sample.ts", ["--n", "100000", "--out", "data/never"], 2),
    /^error: --n 100000 --scale 3: 100000 images at scale 3 make a grid of 30748×30651 pixels \(at most 67108864 pixels/,
  );
});

Deno.test("sample --label __proto__=x, constructor=x and --rows __proto__ name the unknown field", async () => {
  for (const field of ["__proto__", "constructor", "toString"]) {
    assert.equal(
      await failing("sample.ts", ["--label", `${field}=x`], 2),
      `error: unknown label field "${field}": this model knows vendor, subcategory`,
    );
  }
  assert.equal(
    await failing("sample.ts", ["--rows", "__proto__"], 2),
    'error: --rows: unknown label field "__proto__": this model knows vendor, subcategory',
  );
});

Deno.test("--out '' is a usage error naming the flag in sample, eval and forward", async () => {
  for (const script of ["sample.ts", "eval.ts"]) {
    assert.equal(
      await failing(script, ["--out", ""], 2),
      "error: --out must name a folder, got an empty path",
    );
  }
  assert.equal(
    await failing("forward.ts", ["--out", ""], 2),
    "error: --out must name a PNG file, got an empty path",
  );
});

Deno.test("export --out equal to its --checkpoint is refused; the training checkpoint is kept", async () => {
  const file = `data/test-export-self-${Deno.pid}.safetensors`;
  await Deno.copyFile("data/models/apple-faces-unet.safetensors", file);
  try {
    const before = await Deno.readFile(file);
    assert.match(
      await failing("export.ts", ["--checkpoint", file, "--out", file.replace("data/", "data/./")], 2),
      /^error: --out .* is the --checkpoint itself: a sampling checkpoint would replace the training one/,
    );
    assert.deepEqual(await Deno.readFile(file), before);
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("a full disk in sample names the file and what was written, exit 1", async () => {
  const out = `data/test-full-sample-${Deno.pid}`;
  try {
    assert.match(
      await failing("sample.ts", ["--n", "2", "--steps", "2", "--each", "--out", out], 1, {
        EMOJI_DIFFUSION_FAULT: "enospc-file@sample-0001.png",
      }),
      new RegExp(
        `^error: could not write ${out}/sample-0001\\.png: ${FULL_DISK}; written before it: ` +
          `${out}/grid\\.png, ${out}/sample-0000\\.png$`,
      ),
    );
    assert.deepEqual([...Deno.readDirSync(out)].map((e) => e.name).sort(), ["grid.png", "sample-0000.png"]);
  } finally {
    await Deno.remove(out, { recursive: true }).catch(() => {});
  }
});

Deno.test("a full disk in export names the file, exit 1, nothing left", async () => {
  const out = `data/test-full-export-${Deno.pid}.safetensors`;
  assert.match(
    await failing(
      "export.ts",
      ["--checkpoint", "data/models/apple-faces-unet.safetensors", "--out", out],
      1,
      { EMOJI_DIFFUSION_FAULT: `enospc-file@${out.slice(5)}` },
    ),
    new RegExp(`^error: could not write ${out}: ${FULL_DISK}$`),
  );
  await assert.rejects(Deno.stat(out), Deno.errors.NotFound);
});

Deno.test("a full disk in forward names the file, exit 1", async () => {
  const out = `data/test-full-forward-${Deno.pid}.png`;
  assert.match(
    await failing("forward.ts", ["--out", out], 1, { EMOJI_DIFFUSION_FAULT: `enospc-file@${out.slice(5)}` }),
    new RegExp(`^error: could not write ${out}: ${FULL_DISK}$`),
  );
  await assert.rejects(Deno.stat(out), Deno.errors.NotFound);
});

Deno.test("a full disk in prepare names the file in the dataset folder, not a temp path; nothing is left", async () => {
  const src = await Deno.makeTempDir();
  const out = `data/test-full-prepare-${Deno.pid}`;
  try {
    for (let i = 0; i < 2; i++) {
      await Deno.writeFile(`${src}/e${i}.png`, await encodePng(new Uint8Array(64).fill(100 + i), 4, 4));
    }
    const r = await runTask("prepare.ts", ["--from", src, "--size", "8", "--out", out], {
      sys: false,
      env: { EMOJI_DIFFUSION_FAULT: "enospc-file@atlas.png" },
    });
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      ownLines(r.stderr).at(-1)!,
      new RegExp(
        `^error: could not write ${out}/atlas\\.png: ${FULL_DISK.split(";")[0]}; ${out} was left as it was$`,
      ),
    );
    assert.deepEqual([...Deno.readDirSync("data")].filter((e) => e.name.startsWith(out.slice(5))), []);
  } finally {
    await Deno.remove(src, { recursive: true });
    await Deno.remove(out, { recursive: true }).catch(() => {});
  }
});

Deno.test("a full disk in eval names the file and the ones written before it, exit 1", async () => {
  const out = `data/test-full-eval-${Deno.pid}`;
  try {
    assert.match(
      await failing("eval.ts", ["--n", "4", "--steps", "2", "--out", out], 1, {
        EMOJI_DIFFUSION_FAULT: "enospc-file@report.json",
      }),
      new RegExp(
        `^error: could not write ${out}/report\\.json: ${FULL_DISK}; written before it: ` +
          `${out}/pairs\\.png, ${out}/samples\\.png$`,
      ),
    );
  } finally {
    await Deno.remove(out, { recursive: true }).catch(() => {});
  }
});
