/**
 * Crafted checkpoint headers with a valid checksum (what a probe, not a bit flip, produces): each is
 * refused in one line naming the file and the field, before anything is allocated for it.
 */
import assert from "node:assert/strict";
import {
  CheckpointError,
  type CheckpointMeta,
  encodeCheckpoint,
  loadCheckpoint,
} from "../src/checkpoint/format.ts";
import { sha256Hex } from "../src/platform/sha256.ts";

const META: CheckpointMeta = {
  model: { preset: "seed", channels: [8, 8, 8], timeDim: 8 },
  imageSize: 32,
  schedule: { kind: "linear", T: 10 },
  step: 0,
  seed: 0,
  dataHash: null,
};

type Header = Record<string, Record<string, unknown>>;

/** A valid checkpoint of three 2-value tensors, its header changed by `edit`, its checksum recomputed. */
function crafted(edit: (header: Header, meta: Record<string, unknown>) => void): Uint8Array {
  const tensors = new Map(
    ["a", "b", "c"].map((n) => [`params/${n}`, { shape: [2], data: Float32Array.of(1, 2) }]),
  );
  const bytes = encodeCheckpoint({ meta: META, tensors });
  const len = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + len))) as Header;
  const meta = JSON.parse(header.__metadata__.meta as string);
  edit(header, meta);
  header.__metadata__.meta = JSON.stringify(meta);
  header.__metadata__.checksum = `sha256:${"0".repeat(64)}`;
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = new Uint8Array(Math.ceil(json.length / 8) * 8).fill(0x20);
  padded.set(json);
  json = padded;
  const data = bytes.subarray(8 + len);
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  const text = new TextDecoder("latin1").decode(json);
  const at = 8 + text.indexOf('"checksum":"sha256:') + '"checksum":"sha256:'.length;
  out.set(new TextEncoder().encode(sha256Hex(out)), at);
  return out;
}

/** Writes `bytes` to a file and returns the message of loading it (it must fail with a CheckpointError). */
async function refusal(bytes: Uint8Array): Promise<string> {
  const path = `${await Deno.makeTempDir()}/crafted.safetensors`;
  await Deno.writeFile(path, bytes);
  try {
    await loadCheckpoint(path);
  } catch (err) {
    assert.ok(err instanceof CheckpointError, `${(err as Error).name}: ${(err as Error).message}`);
    assert.ok(err.message.startsWith(`checkpoint "${path}" `), err.message);
    return err.message.slice(`checkpoint "${path}" `.length);
  } finally {
    await Deno.remove(path);
  }
  throw new Error("the crafted checkpoint loaded");
}

Deno.test("the crafting helper without a change gives a checkpoint that loads", async () => {
  assert.equal((await loadCheckpoint(crafted(() => {}))).tensors.size, 3);
});

Deno.test("crafted header: schedule.T = 1e9 is refused by name, at once", async () => {
  const t0 = performance.now();
  assert.equal(
    await refusal(crafted((_, m) => (m.schedule as { T: number }).T = 1e9)),
    "has invalid metadata: schedule.T = 1000000000 (an integer in [1, 100000])",
  );
  assert.ok(performance.now() - t0 < 2000);
});

Deno.test("crafted header: model sizes and image size are bounded", async () => {
  assert.match(
    await refusal(crafted((_, m) => (m.model as { channels: number[] }).channels = [8, 1e7, 8])),
    /^has invalid metadata: model\.channels = 10000000 \(an integer in \[1, 1024\]\)$/,
  );
  assert.match(
    await refusal(crafted((_, m) => m.imageSize = 1e6)),
    /^has invalid metadata: imageSize = 1000000/,
  );
});

Deno.test("crafted header: label counts are bounded", async () => {
  const values = Array.from({ length: 20_000 }, (_, i) => `v${i}`);
  assert.equal(
    await refusal(crafted((_, m) => (m.model as { labels: unknown }).labels = { vendor: values })),
    "has invalid metadata: model.labels.vendor is not a list of at most 10000 values",
  );
});

Deno.test("crafted header: a shape that is not a list is named, not a raw JavaScript error", async () => {
  assert.equal(
    await refusal(crafted((h) => h["params/a"].shape = "abc")),
    'has an invalid header: tensor "params/a" has shape "abc": not a list of at most 8 non-negative integers',
  );
});

Deno.test("crafted header: data_offsets outside the data section are named", async () => {
  assert.match(
    await refusal(crafted((h) => h["params/a"].data_offsets = [-8, 0])),
    /^has an invalid header: tensor "params\/a" has data_offsets \[-8,0\] outside the data section of 24 bytes$/,
  );
});

Deno.test("crafted header: overlapping tensor offsets are refused", async () => {
  assert.equal(
    await refusal(crafted((h) => h["params/b"].data_offsets = [4, 12])),
    'has an invalid header: tensor "params/b" overlaps tensor "params/a" in the data section',
  );
});

Deno.test("crafted header: an unknown dtype and a non-object entry are named", async () => {
  assert.equal(
    await refusal(crafted((h) => h["params/a"].dtype = "F64")),
    'has an invalid header: tensor "params/a" has unsupported dtype "F64"',
  );
  assert.equal(
    await refusal(crafted((h) => (h as Record<string, unknown>)["params/a"] = 7)),
    'has an invalid header: tensor "params/a" is not an object',
  );
});
