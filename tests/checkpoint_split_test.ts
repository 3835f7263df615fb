import assert from "node:assert/strict";
import {
  type Checkpoint,
  CheckpointError,
  loadCheckpoint,
  saveCheckpoint,
} from "../src/checkpoint/format.ts";
import { saveSplitCheckpoint, splitCheckpoint, splitPartPath } from "../src/checkpoint/split.ts";
import { exportForReturn } from "../src/train/return_files.ts";
import { Rng } from "../src/core/rng.ts";

function bigCheckpoint(tensors = 6, size = 300_000): Checkpoint {
  const rng = new Rng(3);
  return {
    meta: {
      model: { preset: "seed", channels: [8, 8, 8], timeDim: 8 },
      imageSize: 32,
      schedule: { kind: "linear", T: 10 },
      step: 42,
      seed: 0,
      dataHash: null,
    },
    tensors: new Map(
      Array.from({ length: tensors }, (_, i) => [
        `ema/w${i}`,
        { shape: [size], data: Float32Array.from({ length: size }, () => rng.normal()) },
      ]),
    ),
  };
}

Deno.test("split checkpoint: every part stays under the limit and loading any part gives back every tensor", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const ckpt = bigCheckpoint();
    const paths = await saveSplitCheckpoint(`${dir}/ema`, ckpt, { maxBytes: 2_700_000 });
    assert.equal(paths.length, 3);
    for (const p of paths) assert.ok((await Deno.stat(p)).size <= 2_700_000);
    const back = await loadCheckpoint(paths[2]);
    assert.deepEqual([...back.tensors.keys()], [...ckpt.tensors.keys()]);
    for (const [k, t] of ckpt.tensors) assert.deepEqual(back.tensors.get(k)!.data, t.data, k);
    assert.deepEqual(back.meta, ckpt.meta);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("split checkpoint: a missing part is a CheckpointError naming it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const paths = await saveSplitCheckpoint(`${dir}/ema`, bigCheckpoint(), { maxBytes: 2_700_000 });
    await Deno.remove(paths[1]);
    await assert.rejects(
      loadCheckpoint(paths[0]),
      (e: Error) => e instanceof CheckpointError && /part 2 of 3 is missing/.test(e.message),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("split checkpoint: a part of another checkpoint is refused", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const a = await saveSplitCheckpoint(`${dir}/ema`, bigCheckpoint(), { maxBytes: 2_700_000 });
    const other = bigCheckpoint();
    other.meta.step = 43;
    const [, b2] = splitCheckpoint(other, { maxBytes: 2_700_000 });
    await saveCheckpoint(a[1], b2);
    await assert.rejects(loadCheckpoint(a[0]), /part 2 of 3 belongs to another checkpoint/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("split checkpoint: a tensor larger than a part is a RangeError", () => {
  assert.throws(() => splitCheckpoint(bigCheckpoint(1, 200_000), { maxBytes: 500_000 }), RangeError);
  assert.equal(splitPartPath("a/b", 3, 12), "a/b-00003-of-00012.safetensors");
});

Deno.test("export for return: F16 EMA parts under the limit, within F16 rounding of the run's EMA, plus grid and loss", async () => {
  const run = await Deno.makeTempDir(), out = await Deno.makeTempDir();
  try {
    const ckpt = bigCheckpoint(4);
    ckpt.tensors.set("params/w0", ckpt.tensors.get("ema/w0")!);
    await saveCheckpoint(`${run}/latest.safetensors`, ckpt);
    await Deno.writeTextFile(`${run}/loss.csv`, "step,loss\n");
    await Deno.writeFile(`${run}/samples-000010.png`, Uint8Array.of(1));
    await Deno.writeFile(`${run}/samples-000020.png`, Uint8Array.of(2));
    const files = await exportForReturn(`${run}/latest.safetensors`, out, { maxBytes: 1_000_000 });
    const names = files.map((f) => f.slice(out.length + 1));
    assert.deepEqual(names, [
      "ema-00001-of-00004.safetensors",
      "ema-00002-of-00004.safetensors",
      "ema-00003-of-00004.safetensors",
      "ema-00004-of-00004.safetensors",
      "samples-000020.png",
      "loss.csv",
    ]);
    for (const f of files) assert.ok((await Deno.stat(f)).size <= 1_000_000);
    const back = await loadCheckpoint(files[0]);
    assert.ok(!back.tensors.has("params/w0"), "sampling checkpoints keep only the EMA weights");
    for (const [k, t] of back.tensors) {
      const want = ckpt.tensors.get(k)!.data;
      let worst = 0;
      for (let i = 0; i < want.length; i++) {
        worst = Math.max(worst, Math.abs(t.data[i] - want[i]) / Math.max(1, Math.abs(want[i])));
      }
      assert.ok(worst < 1e-3, `${k}: relative error ${worst}`);
    }
  } finally {
    await Deno.remove(run, { recursive: true });
    await Deno.remove(out, { recursive: true });
  }
});
