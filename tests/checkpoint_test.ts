import assert from "node:assert/strict";
import { initBackend } from "../src/backend/select.ts";
import {
  type Checkpoint,
  CheckpointError,
  decodeCheckpoint,
  encodeCheckpoint,
  loadCheckpoint,
  saveCheckpoint,
} from "../src/checkpoint/format.ts";
import { Trainer } from "../src/train/trainer.ts";
import { float16BitsToFloat32, float32ToFloat16Bits } from "../src/core/float16.ts";
import { createHash } from "node:crypto";
import { fixtureDataset, TINY_SEED, TINY_UNET, tinyTrainConfig } from "./helpers.ts";

await initBackend("wasm", { log: null });

/** The header text of checkpoint bytes, edited by `edit` (same length: the padding absorbs the change). */
function editHeader(bytes: Uint8Array, edit: (header: string) => string): Uint8Array {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  const text = edit(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  const header = new TextEncoder().encode(text.padEnd(n, " "));
  assert.equal(header.length, n, "the edit keeps the header length");
  const out = bytes.slice();
  out.set(header, 8);
  return out;
}

/** Recomputes the whole-file checksum of format-2 bytes, as a writer of a valid file would. */
function reseal(bytes: Uint8Array): Uint8Array {
  const text = new TextDecoder("latin1").decode(bytes);
  const at = text.indexOf('"checksum":"sha256:') + '"checksum":"sha256:'.length;
  const out = bytes.slice();
  out.set(new TextEncoder().encode("0".repeat(64)), at);
  out.set(new TextEncoder().encode(createHash("sha256").update(out).digest("hex")), at);
  return out;
}

/** A format-1 file of `ckpt` (sha256 of the data section only), as the code before format 2 wrote. */
function encodeVersion1(ckpt: Checkpoint): Uint8Array {
  const v2 = encodeCheckpoint(ckpt);
  const n = Number(new DataView(v2.buffer).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(v2.subarray(8, 8 + n)));
  const data = v2.subarray(8 + n);
  header.__metadata__ = {
    format: "emoji-diffusion",
    format_version: "1",
    sha256: createHash("sha256").update(data).digest("hex"),
    meta: header.__metadata__.meta,
  };
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = new Uint8Array(Math.ceil(json.length / 8) * 8).fill(0x20);
  padded.set(json);
  json = padded;
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

async function trainedCheckpoint(steps = 3): Promise<{ trainer: Trainer; ckpt: Checkpoint }> {
  const trainer = new Trainer(tinyTrainConfig(TINY_SEED), fixtureDataset(4, 8));
  for (let i = 0; i < steps; i++) await trainer.trainStep();
  return { trainer, ckpt: await trainer.toCheckpoint("abc") };
}

Deno.test("checkpoint round trip is bit-exact: weights, EMA, Adam moments, BN state, step", async () => {
  const { trainer, ckpt } = await trainedCheckpoint();
  const dir = await Deno.makeTempDir();
  await saveCheckpoint(`${dir}/a.safetensors`, ckpt);
  const back = await loadCheckpoint(`${dir}/a.safetensors`);
  assert.equal(back.meta.step, 3);
  assert.deepEqual(back.meta.model, TINY_SEED);
  for (const prefix of ["params", "ema", "adam_m", "adam_v", "state"]) {
    assert.ok([...back.tensors.keys()].some((k) => k.startsWith(prefix + "/")), `has ${prefix}`);
  }
  for (const [name, t] of ckpt.tensors) {
    const u = back.tensors.get(name)!;
    assert.deepEqual(u.shape, t.shape);
    assert.ok(u.data.every((v, i) => Object.is(v, t.data[i])), `${name} bit-exact`);
  }
  // and restoring into a fresh trainer gives the same tensors back
  const fresh = new Trainer(tinyTrainConfig(TINY_SEED), fixtureDataset(4, 8));
  fresh.restore(back);
  const again = await fresh.toCheckpoint("abc");
  for (const [name, t] of ckpt.tensors) assert.deepEqual(again.tensors.get(name)!.data, t.data, name);
  assert.equal(fresh.step, 3);
  trainer.dispose();
  fresh.dispose();
});

Deno.test("the file is safetensors: u64 header length, JSON header, 8-byte aligned data", async () => {
  const { trainer, ckpt } = await trainedCheckpoint(1);
  const bytes = encodeCheckpoint(ckpt);
  const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assert.equal(n % 8, 0);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  assert.equal(header.__metadata__.format, "emoji-diffusion");
  assert.deepEqual(header["params/enc1.conv.w"].shape, [3, 3, 3, 8]);
  assert.equal(header["params/enc1.conv.w"].dtype, "F32");
  trainer.dispose();
});

Deno.test("truncated, bit-flipped, wrong-version and wrong-shape checkpoints are each rejected", async () => {
  const { trainer, ckpt } = await trainedCheckpoint(1);
  const bytes = encodeCheckpoint(ckpt);
  assert.throws(() => decodeCheckpoint(bytes.subarray(0, bytes.length - 10)), {
    name: "CheckpointError",
    message: /truncated/,
  });
  const flipped = bytes.slice();
  flipped[flipped.length - 5] ^= 0x10;
  assert.throws(() => decodeCheckpoint(flipped), { name: "CheckpointError", message: /checksum mismatch/ });
  const wrongVersion = reseal(
    editHeader(bytes, (h) => h.replace('"format_version":"2"', '"format_version":"9"')),
  );
  assert.throws(() => decodeCheckpoint(wrongVersion), {
    name: "CheckpointError",
    message: /format version 9/,
  });
  assert.throws(() => decodeCheckpoint(new TextEncoder().encode("not a checkpoint at all")), CheckpointError);
  // wrong shape: a checkpoint of another config does not load into this model
  const other = new Trainer(tinyTrainConfig(TINY_UNET), fixtureDataset(4, 8));
  assert.throws(() => other.restore(ckpt), {
    name: "CheckpointError",
    message: /lacks tensor "params\/time\.fc2\.w"/,
  });
  const reshaped = structuredClone(ckpt);
  reshaped.tensors.get("params/enc1.conv.w")!.shape = [3, 3, 8, 3];
  assert.throws(() => trainer.restore(reshaped), {
    name: "CheckpointError",
    message: /enc1\.conv\.w" has shape \[3,3,8,3\]/,
  });
  const before = await trainer.model.params.get("enc1.conv.w")!.data();
  assert.deepEqual(await trainer.model.params.get("enc1.conv.w")!.data(), before, "nothing half-loaded");
  await assert.rejects(() => loadCheckpoint("/nonexistent/x.safetensors"), {
    message: /does not exist.*deno task train/,
  });
  trainer.dispose();
  other.dispose();
});

Deno.test("every byte of the header flipped in turn fails the checksum; so does the length", async () => {
  const { trainer, ckpt } = await trainedCheckpoint(1);
  // the full metadata of a training checkpoint, over three small tensors (the header is what is flipped)
  const small: Checkpoint = {
    meta: ckpt.meta,
    tensors: new Map(
      [...ckpt.tensors].slice(0, 3).map(([k, t]) => [k, { shape: [2], data: t.data.slice(0, 2) }]),
    ),
  };
  trainer.dispose();
  const bytes = encodeCheckpoint(small);
  assert.equal(decodeCheckpoint(bytes).meta.step, 1);
  const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  for (let i = 8; i < 8 + n; i++) {
    const bad = bytes.slice();
    bad[i] ^= 0x01;
    assert.throws(() => decodeCheckpoint(bad), {
      name: "CheckpointError",
      message: /checksum/,
    }, `byte ${i} (${JSON.stringify(String.fromCharCode(bytes[i]))}) flipped`);
  }
  for (let i = 0; i < 8; i++) {
    const bad = bytes.slice();
    bad[i] ^= 0x01;
    assert.throws(() => decodeCheckpoint(bad), CheckpointError, `length byte ${i} flipped`);
  }
});

Deno.test("a changed schedule in the metadata fails the checksum (it used to sample with the wrong T)", async () => {
  const { trainer, ckpt } = await trainedCheckpoint(1);
  trainer.dispose();
  const bytes = encodeCheckpoint(ckpt);
  const edited = editHeader(bytes, (h) => h.replace('\\"T\\":100', '\\"T\\":400'));
  assert.notDeepEqual(edited, bytes, "the edit happened");
  assert.throws(() => decodeCheckpoint(edited), { name: "CheckpointError", message: /checksum mismatch/ });
  // resealed by a writer, an unknown schedule is still refused as invalid metadata, not a usage error
  const unknown = reseal(
    editHeader(bytes, (h) => h.replace('\\"kind\\":\\"linear\\"', '\\"kind\\":\\"lineaR\\"')),
  );
  assert.throws(() => decodeCheckpoint(unknown), {
    name: "CheckpointError",
    message: /unknown schedule "lineaR"/,
  });
});

Deno.test("a format-1 file loads with a warning naming deno task export; its payload is still checked", async () => {
  const { trainer, ckpt } = await trainedCheckpoint(1);
  trainer.dispose();
  const v1 = encodeVersion1(ckpt);
  const warnings: string[] = [];
  const back = decodeCheckpoint(v1, "old.safetensors", { warn: (l) => warnings.push(l) });
  assert.equal(back.formatVersion, 1);
  for (const [name, t] of ckpt.tensors) assert.deepEqual(back.tensors.get(name)!.data, t.data, name);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /old\.safetensors is in checkpoint format 1.*deno task export --checkpoint/);
  const flipped = v1.slice();
  flipped[flipped.length - 3] ^= 0x04;
  assert.throws(() => decodeCheckpoint(flipped, "old", { warn: null }), {
    message: /payload checksum mismatch/,
  });
});

Deno.test("the shipped checkpoints load", async () => {
  for (
    const path of ["data/models/apple-faces-unet.safetensors", "data/models/four-vendors/unet.safetensors"]
  ) {
    const warnings: string[] = [];
    const ckpt = await loadCheckpoint(path, { warn: (l) => warnings.push(l) });
    assert.ok(ckpt.tensors.size > 0 && ckpt.meta.step > 0, path);
    assert.ok(
      ckpt.formatVersion === 2 ? warnings.length === 0 : /deno task export/.test(warnings[0] ?? ""),
      `${path}: format ${ckpt.formatVersion}, warnings ${warnings}`,
    );
  }
});

Deno.test("resume after N steps continues the same loss curve as an uninterrupted run, dropout masks included", async () => {
  const curves: number[][] = [];
  for (const dropout of [0, 0.3]) {
    const config = tinyTrainConfig(TINY_UNET, { batch: 3, dropout });
    const straight = new Trainer(config, fixtureDataset(5, 8));
    const a: number[] = [];
    for (let i = 0; i < 6; i++) a.push((await straight.trainStep()).loss);
    straight.dispose();
    const first = new Trainer(config, fixtureDataset(5, 8));
    const b: number[] = [];
    for (let i = 0; i < 3; i++) b.push((await first.trainStep()).loss);
    const bytes = encodeCheckpoint(await first.toCheckpoint(null));
    first.dispose();
    const resumed = new Trainer(config, fixtureDataset(5, 8));
    resumed.restore(decodeCheckpoint(bytes));
    for (let i = 0; i < 3; i++) b.push((await resumed.trainStep()).loss);
    resumed.dispose();
    for (let i = 0; i < 6; i++) {
      assert.ok(Math.abs(a[i] - b[i]) < 1e-5, `dropout ${dropout}, step ${i + 1}: ${a[i]} vs ${b[i]}`);
    }
    curves.push(a);
  }
  // the zero-initialised output conv hides dropout at step 1; later steps must feel it
  assert.equal(curves[0][0], curves[1][0]);
  assert.ok(
    curves[0].slice(2).some((v, i) => Math.abs(v - curves[1][i + 2]) > 1e-4),
    "dropout changed nothing",
  );
});

Deno.test("float16 storage halves the size and rounds to nearest", async () => {
  for (const v of [0, 1, -2.5, 65504, 6.1e-5, 1e-7, 0.1]) {
    const back = float16BitsToFloat32(float32ToFloat16Bits(v));
    assert.ok(Math.abs(back - v) <= Math.abs(v) * 2 ** -11 + 6e-8, `${v} → ${back}`);
  }
  assert.equal(float16BitsToFloat32(float32ToFloat16Bits(1e6)), Infinity);
  const { trainer, ckpt } = await trainedCheckpoint(1);
  const f32 = encodeCheckpoint(ckpt), f16 = encodeCheckpoint(ckpt, { dtype: "F16" });
  assert.ok(f16.length < 0.55 * f32.length);
  const back = decodeCheckpoint(f16).tensors.get("params/enc1.conv.w")!.data;
  const orig = ckpt.tensors.get("params/enc1.conv.w")!.data;
  assert.ok(back.every((v, i) => Math.abs(v - orig[i]) <= Math.abs(orig[i]) * 2 ** -11 + 1e-7));
  trainer.dispose();
});

Deno.test("a sampling checkpoint keeps only EMA weights, state and data mean, and loads for sampling", async () => {
  const { samplingCheckpoint } = await import("../src/checkpoint/format.ts");
  const { modelFromCheckpoint } = await import("../src/model/from_checkpoint.ts");
  const { trainer, ckpt } = await trainedCheckpoint(2);
  const small = samplingCheckpoint(ckpt, { eval: { kid: 1 } });
  assert.ok(
    [...small.tensors.keys()].every((k) =>
      k.startsWith("ema/") || k.startsWith("state/") || k === "data/mean"
    ),
  );
  assert.equal(small.meta.rng, undefined);
  assert.deepEqual(small.meta.eval, { kid: 1 });
  const loaded = modelFromCheckpoint(decodeCheckpoint(encodeCheckpoint(small, { dtype: "F16" })));
  assert.ok(loaded.usedEma);
  const want = ckpt.tensors.get("ema/enc1.conv.w")!.data;
  const got = await loaded.model.params.get("enc1.conv.w")!.data();
  assert.ok(
    got.every((v, i) => Math.abs(v - want[i]) <= Math.abs(want[i]) * 2 ** -11 + 1e-7),
    "EMA weights, in F16",
  );
  loaded.model.dispose();
  trainer.dispose();
});
