/**
 * The error contract of docs/errors.md, one row per case: bad input is one line `error: …` naming the
 * flag or file, exit 2, before any work (nothing written); a runtime failure is one line, exit 1.
 */
import assert from "node:assert/strict";
import { type CheckpointMeta, encodeCheckpoint } from "../src/checkpoint/format.ts";
import { exitCodeFor } from "../src/cli/flags.ts";
import { DatasetError } from "../src/dataset/mod.ts";
import { CheckpointError } from "../src/checkpoint/format.ts";
import { RunLockedError, RunWriteError, UsageError } from "../src/errors.ts";
import { NonFiniteLossError } from "../src/train/trainer.ts";
import { ownLines, runTask } from "./helpers.ts";

const DIR = `data/runs/test-errors-${Deno.pid}`;
const SHIPPED = "data/models/apple-faces-unet.safetensors";

Deno.test("exit codes by error class: usage 2, runtime 1, an internal RangeError is runtime", () => {
  assert.equal(exitCodeFor(new UsageError("x")), 2);
  assert.equal(exitCodeFor(new DatasetError("x")), 2);
  assert.equal(exitCodeFor(new RunLockedError("d", { pid: 1, startedAt: "", host: "" })), 2);
  assert.equal(exitCodeFor(new Deno.errors.NotFound("x")), 2);
  assert.equal(exitCodeFor(new DatasetError("x", { corrupt: true })), 1);
  assert.equal(exitCodeFor(new CheckpointError("x")), 1);
  assert.equal(exitCodeFor(new RunWriteError("p", "full", "kept")), 1);
  assert.equal(exitCodeFor(new NonFiniteLossError("x")), 1);
  assert.equal(exitCodeFor(new RangeError("x")), 1);
  assert.equal(exitCodeFor(new Error("x")), 1);
});

Deno.test("the error-contract table: each bad input gives its exit code and one line naming the flag", async () => {
  await Deno.mkdir(DIR, { recursive: true });
  // a seed-preset checkpoint (its metadata is what --model is checked against)
  const seedMeta: CheckpointMeta = {
    model: { preset: "seed", channels: [64, 128, 256], timeDim: 256 },
    imageSize: 32,
    schedule: { kind: "linear", T: 500 },
    step: 1,
    seed: 0,
    dataHash: null,
  };
  await Deno.writeFile(`${DIR}/seed.safetensors`, encodeCheckpoint({ meta: seedMeta, tensors: new Map() }));
  // the shipped model with one digit of its schedule changed ("T":500 → "T":400)
  const bytes = await Deno.readFile(SHIPPED);
  const text = new TextDecoder("latin1").decode(bytes);
  const at = text.indexOf('\\"T\\":500');
  assert.ok(at > 0);
  bytes[at + 6] = "4".charCodeAt(0);
  await Deno.writeFile(`${DIR}/flipped-T.safetensors`, bytes);
  const out = `${DIR}/never`;
  const cases: [string, string[], number, RegExp][] = [
    ["sample.ts", ["--n", "-3"], 2, /^error: --n must be an integer in \[1, 100000\], got "-3"$/],
    ["sample.ts", ["--eta", "-1"], 2, /^error: --eta must be a number in \[0, 1\], got "-1"$/],
    ["sample.ts", ["--eta", "2"], 2, /^error: --eta must be a number in \[0, 1\], got "2"$/],
    [
      "sample.ts",
      ["--out", "/tmp/elsewhere"],
      2,
      /^error: --out \/tmp\/elsewhere is outside .*under data\/$/,
    ],
    ["sample.ts", ["--backend", "tpu"], 2, /^error: --backend: unknown backend "tpu"/],
    ["sample.ts", ["--steps", "600"], 2, /^error: --steps 600 exceeds the checkpoint's T = 500$/],
    [
      "sample.ts",
      ["--checkpoint", `${DIR}/nope.safetensors`],
      2,
      /--checkpoint ".*nope\.safetensors" does not/,
    ],
    [
      "sample.ts",
      ["--checkpoint", `${DIR}/flipped-T.safetensors`],
      1,
      /flipped-T\.safetensors" is corrupt.*checksum/,
    ],
    ["train.ts", ["--lr", "-1"], 2, /^error: --lr must be a number in .*got "-1"$/],
    ["train.ts", ["--steps", "-5"], 2, /^error: --steps must be an integer >= 1, got "-5"$/],
    ["train.ts", ["--keep", "0"], 2, /^error: --keep must be an integer >= 1, got "0"$/],
    [
      "train.ts",
      ["--resume", `${DIR}/seed.safetensors`, "--model", "unet", "--channels", "64"],
      2,
      /^error: --model, --channels describe another model than the checkpoint .*seed\.safetensors \(seed/,
    ],
    ["eval.ts", ["--eta", "1.5"], 2, /^error: --eta must be a number in \[0, 1\], got "1\.5"$/],
    ["prepare.ts", ["--fit", "crop"], 2, /^error: --fit applies to --from folders only/],
    [
      "export.ts",
      ["--checkpoint", SHIPPED, "--out", "/tmp/x.safetensors"],
      2,
      /^error: --out \/tmp is outside/,
    ],
  ];
  // three at a time: each is a process start
  for (let i = 0; i < cases.length; i += 3) {
    await Promise.all(
      cases.slice(i, i + 3).map(async ([task, args, code, re]) => {
        const withOut = task === "sample.ts" && !args.includes("--out") ? [...args, "--out", out] : args;
        const r = await runTask(task, withOut, { sys: task !== "prepare.ts" && task !== "export.ts" });
        const what = `${task} ${args.join(" ")}`;
        assert.equal(r.code, code, `${what} → exit ${r.code}: ${r.stderr}`);
        const lines = ownLines(r.stderr);
        assert.equal(lines.length, 1, `${what}: one line, got ${r.stderr}`);
        assert.match(lines[0], re, what);
      }),
    );
  }
  await assert.rejects(Deno.stat(out), Deno.errors.NotFound, "nothing written");
  await Deno.remove(DIR, { recursive: true });
});
