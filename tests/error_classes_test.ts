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
