import assert from "node:assert/strict";
import { initBackend } from "../src/backend/select.ts";
import { saveCheckpoint } from "../src/checkpoint/format.ts";
import { ensureDataset } from "../src/dataset/mod.ts";
import { Trainer } from "../src/train/trainer.ts";
import { folderSet, ownLines, runTask, TINY_UNET, tinyTrainConfig } from "./helpers.ts";

await initBackend("wasm", { log: null });

const runEval = (args: string[]) => runTask("eval.ts", [...args, "--threads", "1"]);

/** A tiny unet checkpoint whose config says it was trained on `data`. */
async function tinyCheckpoint(path: string, data: string): Promise<void> {
  const trainer = new Trainer(tinyTrainConfig(TINY_UNET, { T: 10, data }), await ensureDataset(data));
  await saveCheckpoint(path, await trainer.toCheckpoint(null));
  trainer.dispose();
}

Deno.test("eval compares with the checkpoint's own training set by default; a missing one is a one-line error", async () => {
  const dir = await Deno.makeTempDir();
  const set = await folderSet(dir, 6);
  const ckpt = `${dir}/c.safetensors`;
  await tinyCheckpoint(ckpt, set);
  const out = `data/.cache/eval-test-${crypto.randomUUID()}`;
  try {
    const { code, stderr } = await runEval(["--checkpoint", ckpt, "--n", "6", "--steps", "2", "--out", out]);
    assert.equal(code, 0, stderr);
    const { report } = JSON.parse(await Deno.readTextFile(`${out}/report.json`));
    assert.equal(report.nTrain, 6, "the 6-image set the checkpoint names, not the 118 Apple faces");
    assert.equal(report.size, 8);

    const lost = `${dir}/lost.safetensors`;
    await tinyCheckpoint(lost, set);
    await Deno.remove(`${set}/manifest.json`);
    const missing = await runEval(["--checkpoint", lost]);
    assert.equal(missing.code, 2);
    const lines = ownLines(missing.stderr);
    assert.equal(lines.length, 1, missing.stderr);
    assert.match(lines[0], /the checkpoint's training set ".*set" has no manifest\.json; prepare it with/);
  } finally {
    await Deno.remove(out, { recursive: true }).catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("eval --label: KID against the images with that label, memorisation against the whole set", async () => {
  const dir = await Deno.makeTempDir();
  const set = await folderSet(dir, 8);
  // give the folder's images two vendors, 5 and 3 (the manifest's hash covers the atlas, not the labels)
  const manifest = JSON.parse(await Deno.readTextFile(`${set}/manifest.json`));
  manifest.images.forEach((im: { vendor: string }, i: number) => im.vendor = i < 5 ? "left" : "right");
  await Deno.writeTextFile(`${set}/manifest.json`, JSON.stringify(manifest));
  const ckpt = `${dir}/c.safetensors`;
  const trainer = new Trainer(
    tinyTrainConfig(TINY_UNET, { T: 10, data: set, condition: ["vendor"] }),
    await ensureDataset(set),
  );
  await saveCheckpoint(ckpt, await trainer.toCheckpoint(null));
  trainer.dispose();
  const out = `data/.cache/eval-test-${crypto.randomUUID()}`;
  try {
    const args = ["--checkpoint", ckpt, "--n", "4", "--steps", "2", "--out", out, "--label", "vendor=left"];
    const { code, stderr } = await runEval(args);
    assert.equal(code, 0, stderr);
    const { meta, report } = JSON.parse(await Deno.readTextFile(`${out}/report.json`));
    assert.equal(meta.labels, "vendor=left");
    assert.equal(report.nTrain, 5, "KID compares with the 5 images labelled left");
    assert.equal(report.memorisation.trainLooDistance.length, 8, "memorisation against all 8");
    const few = await runEval(["--checkpoint", ckpt, "--n", "4", "--steps", "2", "--label", "vendor=right"]);
    assert.equal(few.code, 2);
    assert.deepEqual(ownLines(few.stderr), [
      "error: only 3 training images carry vendor=right: KID needs at least 4; ask for fewer labels",
    ]);
  } finally {
    await Deno.remove(out, { recursive: true }).catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
});
