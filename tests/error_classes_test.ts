// Every error a caller's bad input causes is a UsageError, so the CLI exits 2 without re-wrapping it.
import assert from "node:assert/strict";
import { exitCodeFor, UsageError } from "../src/cli/flags.ts";
import { EditInputError } from "../src/sample/edit_input.ts";
import { TrainRecipeError } from "../src/train/config_file.ts";
import { LabelError } from "../src/model/labels.ts";
import { DatasetError } from "../src/dataset/manifest.ts";
import { RunLockedError } from "../src/errors.ts";

Deno.test("usage errors: each class is a UsageError keeping its own name and message, and exits 2", () => {
  const errors = [
    new EditInputError("--from x.png does not exist"),
    new TrainRecipeError("--config r.json does not exist"),
    new LabelError("unknown vendor"),
    new DatasetError("no dataset"),
    new RunLockedError("data/runs/a", { pid: 1, startedAt: "now", host: "h" }),
  ];
  for (const err of errors) {
    assert.ok(err instanceof UsageError, err.name);
    assert.equal(exitCodeFor(err), 2, err.name);
  }
  assert.deepEqual(errors.map((e) => e.name), [
    "EditInputError",
    "TrainRecipeError",
    "LabelError",
    "DatasetError",
    "RunLockedError",
  ]);
  assert.equal(errors[0].message, "--from x.png does not exist");
});

Deno.test("an error that wraps another keeps it as its cause", async () => {
  const { parseTrainRecipe } = await import("../src/train/config_file.ts");
  const { FileWriteError } = await import("../src/errors.ts");
  const { asUsage } = await import("../src/cli/flags.ts");
  let caught: unknown;
  try {
    parseTrainRecipe("{");
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof TrainRecipeError);
  assert.ok((caught as Error).cause instanceof SyntaxError);
  const disk = new Error("No space left on device");
  assert.equal(new FileWriteError("a.png", disk.message, "nothing", { cause: disk }).cause, disk);
  assert.equal(new DatasetError("bad", { corrupt: true, cause: disk }).cause, disk);
  const range = new RangeError("n must be >= 1");
  assert.throws(() =>
    asUsage(() => {
      throw range;
    }), (e: Error) => e instanceof UsageError && e.cause === range);
});
