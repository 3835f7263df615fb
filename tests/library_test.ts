import assert from "node:assert/strict";
import * as mod from "../mod.ts";
import { initBackend } from "../src/backend/select.ts";
import { Trainer } from "../src/train/trainer.ts";
import { saveCheckpoint } from "../src/checkpoint/format.ts";
import { decodeImage } from "../src/image/codec.ts";
import { denoCommand, fixtureDataset, tinyTrainConfig } from "./helpers.ts";

Deno.test("API surface: mod.ts exports exactly the documented names", () => {
  const expected = [
    "BACKEND_REQUESTS",
    "CheckpointError",
    "DatasetError",
    "NonFiniteLossError",
    "DataParallelError",
    "RunFolder",
    "RunLockedError",
    "RunWriteError",
    "FileWriteError",
    "MissingPermissionError",
    "PNG_PERMISSIONS",
    "requirePermissions",
    "writePermission",
    "UsageError",
    "DATA_MEAN_TENSOR",
    "DEFAULT_GUIDANCE",
    "DEFAULT_SAMPLER",
    "ANY_VALUE",
    "LABEL_FIELDS",
    "LabelError",
    "resolveLabels",
    "DEFAULT_SEED_CONFIG",
    "DEFAULT_STEPS",
    "DEFAULT_TRAIN_CONFIG",
    "DEFAULT_UNET_CONFIG",
    "BLAS_CANDIDATES",
    "BLAS_ENV",
    "BlasUnavailableError",
    "EmojiDiffusion",
    "FULL_GUIDANCE_INTERVAL",
    "MODEL_PRESETS",
    "Rng",
    "SAMPLERS",
    "SCHEDULE_KINDS",
    "VENDORS",
    "PRETRAINED_MODELS",
    "cosineBetaSchedule",
    "ddimStep",
    "ddimTimesteps",
    "ddpmStep",
    "dpmSolverStep",
    "editTimesteps",
    "decodeCheckpoint",
    "encodeCheckpoint",
    "gridPng",
    "guidanceAt",
    "initBackend",
    "nativeAvailable",
    "linearBetaSchedule",
    "loadCheckpoint",
    "loadDataset",
    "makeSchedule",
    "meanImage",
    "modelConfig",
    "prepareDataset",
    "priorStart",
    "qSample",
    "sample",
    "saveCheckpoint",
    "scheduleFromBetas",
    "slerp",
    "train",
  ];
  assert.deepEqual(Object.keys(mod).sort(), expected.sort());
});

async function runExample(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command((await denoCommand()) ?? "deno", {
    args: ["run", "--allow-read", "--allow-write", "--allow-env", "--allow-ffi", "--allow-sys", ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("examples/train_steps.ts trains a few steps with its onStep callback", async () => {
  const dir = await Deno.makeTempDir();
  const r = await runExample(["examples/train_steps.ts", dir]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /done: 5 steps, 5 callbacks/);
  assert.equal((r.stdout.match(/^step \d: loss/gm) ?? []).length, 5);
  const csv = (await Deno.readTextFile(`${dir}/loss.csv`)).trim().split("\n");
  assert.equal(csv.length, 6);
});

Deno.test("examples/generate.ts writes a 4×4 grid PNG from a checkpoint", async () => {
  await initBackend("wasm", { log: null });
  const dir = await Deno.makeTempDir();
  const trainer = new Trainer(tinyTrainConfig(undefined, { T: 60 }), fixtureDataset(2, 32));
  await trainer.trainStep();
  await saveCheckpoint(`${dir}/c.safetensors`, await trainer.toCheckpoint(null));
  trainer.dispose();
  const r = await runExample(["examples/generate.ts", `${dir}/c.safetensors`, `${dir}/out.png`]);
  assert.equal(r.code, 0, r.stderr);
  const png = await decodeImage(await Deno.readFile(`${dir}/out.png`));
  assert.equal(png.width, 4 * 32 * 3 + 3);
  assert.equal(png.height, 4 * 32 * 3 + 3);
});
