import assert from "node:assert/strict";
import { initBackend } from "../src/backend/select.ts";
import { loadTrainRecipe, parseTrainRecipe } from "../src/train/config_file.ts";
import { DEFAULT_TRAIN_CONFIG, trainRun } from "../src/train/run.ts";
import { loadCheckpoint } from "../src/checkpoint/format.ts";
import { DiffusionModel, modelConfig } from "../src/model/model.ts";
import { ownLines, runTask, TINY_UNET, tinyTrainConfig } from "./helpers.ts";

await initBackend("wasm", { log: null });

Deno.test("recipe: the committed 64×64 recipe parses, and its model builds at 64 with attention at 16 and 8", async () => {
  const r = await loadTrainRecipe("configs/faces4-64.json");
  assert.equal(r.config.data, "data/faces4-64");
  assert.ok(r.minutes !== undefined && r.minutes > 0);
  const m = new DiffusionModel(r.config.model!, 0, 64);
  const attn = [...m.params.keys()].filter((k) => k.includes(".attn") && k.endsWith(".qkv.w"));
  m.dispose();
  // down: 2 blocks at 16×16 (level 2) and 2 at 8×8 (level 3); up: 3 + 3
  assert.equal(attn.filter((k) => k.startsWith("down")).length, 4, attn.join());
  assert.equal(attn.filter((k) => k.startsWith("up")).length, 6, attn.join());
});

Deno.test("recipe: the default attention stays at 8×8 only (the shipped models' parameters are unchanged)", () => {
  const m = new DiffusionModel(modelConfig("unet"), 0, 32);
  const names = [...m.params.keys()].filter((k) => k.includes(".attn") && k.endsWith(".qkv.w"));
  m.dispose();
  assert.deepEqual(names, ["down2.attn0.qkv.w", "mid.attn.qkv.w", "up2.attn0.qkv.w", "up2.attn1.qkv.w"]);
});

Deno.test("recipe: a partial model is completed from its preset's defaults", () => {
  const r = parseTrainRecipe('{"model": {"channels": 16}, "lr": 0.001}');
  assert.deepEqual(r.config.model, { ...modelConfig("unet"), channels: 16 });
  assert.equal(r.config.lr, 0.001);
});

Deno.test("recipe: the shipped run's recorded config reads back as the same config", async () => {
  const text = await Deno.readTextFile("data/models/apple-faces-unet.train-config.json");
  assert.deepEqual(parseTrainRecipe(text).config, JSON.parse(text));
});

Deno.test("recipe: DEFAULT_TRAIN_CONFIG is the shipped default model's recipe, configs/faces8.json", async () => {
  const { config } = await loadTrainRecipe("configs/faces8.json");
  assert.deepEqual(DEFAULT_TRAIN_CONFIG, config);
});

Deno.test("recipe: bad fields are errors naming the field", () => {
  const cases: [string, RegExp][] = [
    ["{", /not valid JSON/],
    ["[1]", /one JSON object/],
    ['{"batchsize": 8}', /unknown field "batchsize": use data, model/],
    ['{"batch": 0}', /"batch" must be an integer in \[1, 4096\], got 0/],
    ['{"lr": "fast"}', /"lr" must be a number in \(0, 1\]/],
    ['{"schedule": "cos"}', /"schedule" must be one of linear, cosine/],
    ['{"model": {"preset": "big"}}', /"model.preset" must be "unet" or "seed"/],
    ['{"model": {"chanels": 64}}', /"model.chanels" is not a unet setting/],
    ['{"model": {"channels": 64, "groups": 7}}', /"model": .*divisible by groups 7/],
    ['{"model": {"attentionResolutions": [0]}}', /attentionResolutions must list/],
    ['{"minutes": 0}', /"minutes" must be a number in \(0, /],
    ['{"init": {"checkpoint": "x"}}', /"init" is a run's record .* give the checkpoint as init/],
  ];
  for (const [text, re] of cases) {
    assert.throws(() => parseTrainRecipe(text), { name: "TrainRecipeError", message: re }, text);
  }
});

Deno.test("train --config: a bad recipe is one error line naming the file, exit 2, nothing written", async () => {
  const dir = await Deno.makeTempDir({ dir: "data" });
  try {
    await Deno.writeTextFile(`${dir}/bad.json`, '{"batch": -1}');
    const cases: [string[], RegExp][] = [
      [["--config", `${dir}/bad.json`], /^error: --config .*bad\.json: "batch" must be an integer/],
      [["--config", `${dir}/none.json`], /^error: --config .*none\.json does not exist/],
      [["--config", "configs/faces4-64.json", "--minutes", "0"], /^error: --minutes must be a number/],
    ];
    for (const [args, re] of cases) {
      const { code, stderr } = await runTask("train.ts", [...args, "--out", `${dir}/run`]);
      assert.equal(code, 2, `${args.join(" ")}: ${stderr}`);
      const lines = ownLines(stderr);
      assert.equal(lines.length, 1, stderr);
      assert.match(lines[0], re);
    }
    await assert.rejects(Deno.stat(`${dir}/run`), Deno.errors.NotFound);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** The configuration `deno task train ARGS --dry-run` would train. */
async function dryRun(args: string[]): Promise<Record<string, unknown>> {
  const { code, stdout, stderr } = await runTask("train.ts", [...args, "--dry-run"]);
  assert.equal(code, 0, stderr);
  return JSON.parse(stdout);
}

for (
  const [recipe, shipped] of [
    ["configs/apple-faces.json", "data/models/apple-faces-unet.train-config.json"],
    ["configs/four-vendors.json", "data/models/four-vendors/train-config.json"],
    ["configs/faces.json", "data/models/faces/train-config.json"],
    ["configs/faces8.json", "data/models/faces8/train-config.json"],
  ]
) {
  Deno.test(`train --config ${recipe}: trains the shipped model's recorded config (provenance aside)`, async () => {
    // `init` records which checkpoint a fine-tuned run started from: provenance, given with --init;
    // `model.labels`, a conditioned run's vocabulary, is read from the dataset when the run starts
    const { init: _init, ...recorded } = JSON.parse(await Deno.readTextFile(shipped));
    delete recorded.model.labels;
    assert.deepEqual(await dryRun(["--config", recipe]), recorded);
  });
}

Deno.test("train --config: a flag given beside the recipe wins over it, the rest stays the recipe's", async () => {
  const base = await dryRun(["--config", "configs/apple-faces.json"]);
  const changed = await dryRun(["--config", "configs/apple-faces.json", "--batch", "8", "--channels", "16"]);
  assert.equal(changed.batch, 8);
  assert.equal((changed.model as { channels: number }).channels, 16);
  assert.deepEqual({ ...changed, batch: base.batch, model: base.model }, base);
});

Deno.test("trainRun --minutes: stops when the budget is spent, before --steps, and ends with a checkpoint", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const config = tinyTrainConfig(TINY_UNET, { data: "data/apple-faces-32", batch: 2, steps: 100000 });
    const r = await trainRun(config, { out: dir, every: 1000, gridImages: 0, log: null, minutes: 1e-9 });
    assert.ok(r.steps < 100000);
    assert.equal((await loadCheckpoint(r.checkpoint)).meta.step, r.steps);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
