/**
 * Checkpoints: one self-describing file in the safetensors layout, readable from Python with
 * `safetensors.numpy.load_file`.
 *
 * Layout: an 8-byte little-endian header length N, N bytes of JSON, then the raw little-endian
 * tensor bytes. The JSON maps each tensor name (`params/…`, `ema/…`, `adam_m/…`, `adam_v/…`,
 * `state/…`) to `{dtype: "F32"|"F16", shape, data_offsets: [begin, end]}` and holds
 * `__metadata__` (string values, as safetensors requires): `format` = `emoji-diffusion`,
 * `format_version`, `meta` (the JSON of {@linkcode CheckpointMeta}) and `checksum` =
 * `sha256:<hex>`, the SHA-256 of everything that is read: the 8-byte length, the header with the 64
 * hex digits of the checksum itself written as `0`, and the data section. A change to any byte of the
 * header (a tensor's shape or offsets, the schedule in `meta`, …) or of the data fails the check.
 * Format version 1 (`sha256` of the data section only) still loads, with a warning naming
 * `deno task export`, which rewrites it. Files are written atomically (temp file, fsync, rename).
 *
 * @module
 */
import type { SamplingDefaults } from "../model/labels.ts";
import { atomicWriteFile, isSplitPart, loadSplitParts } from "../platform/files.ts";
import { sha256Hex } from "../platform/sha256.ts";
import { CheckpointError } from "./error.ts";
import { type CheckpointSource, type LoadCheckpointOptions, readCheckpointSource } from "./source.ts";
import { float16BitsToFloat32, float32ToFloat16Bits } from "../core/float16.ts";
import type { ModelConfig } from "../model/model.ts";
import { validateVocabulary } from "../model/labels.ts";
import { SCHEDULE_KINDS, type ScheduleKind } from "../core/schedule.ts";
import type { RngState } from "../core/rng.ts";

export { CheckpointError };

/** The format tag in every checkpoint. */
export const CHECKPOINT_FORMAT = "emoji-diffusion";
/** The version this code writes (it also reads version 1, with a warning). */
export const CHECKPOINT_VERSION = 2;
/** Where the checksum's hex digits start in the header: right after this text. */
const CHECKSUM_KEY = '"checksum":"sha256:';
const ZERO_DIGEST = "0".repeat(64);
/**
 * The tensor holding the training set's mean image (`size`×`size`×3, flips included), where the
 * reverse process starts from (see `priorStart`). Training writes it into every checkpoint; a
 * checkpoint without it samples from N(0, I) unless given one by `deno task export --data`.
 */
export const DATA_MEAN_TENSOR = "data/mean";

/** Everything about a checkpoint besides its tensors. */
export interface CheckpointMeta {
  /** The model preset and its sizes. */
  model: ModelConfig;
  /** Image side the model was built for. */
  imageSize: number;
  /** The β schedule. */
  schedule: { kind: ScheduleKind; T: number };
  /** Optimizer updates applied so far. */
  step: number;
  /** The run's seed. */
  seed: number;
  /** SHA-256 of the training set's atlas (from its manifest), or null. */
  dataHash: string | null;
  /** The training configuration that produced it (free-form, for the record). */
  train?: Record<string, unknown>;
  /** The sampling/batch generator state, so a resumed run continues the same stream. */
  rng?: {
    noise: RngState;
    data: RngState;
    dataEpoch?: unknown;
    dropout?: RngState;
    condDrop?: RngState;
    augment?: RngState;
  };
  /** Evaluation numbers, when known. */
  eval?: Record<string, unknown>;
  /** The model's own sampling defaults (default labels, guidance) of a conditioned model. */
  sampling?: SamplingDefaults;
  /** Anything else worth keeping. */
  notes?: Record<string, unknown>;
}

/** One stored tensor. */
export interface StoredTensor {
  /** Dimensions. */
  shape: number[];
  /** Values (always expanded to float32 in memory). */
  data: Float32Array;
}

/** A decoded checkpoint. */
export interface Checkpoint {
  /** Its metadata. */
  meta: CheckpointMeta;
  /** Tensors by full name (`params/in.w`, `ema/in.w`, …). */
  tensors: Map<string, StoredTensor>;
  /** The format version the bytes were read from (set by {@linkcode decodeCheckpoint}). */
  formatVersion?: number;
}

/** Options of {@linkcode encodeCheckpoint}. */
export interface EncodeOptions {
  /** Storage type: `F32` (default, bit-exact) or `F16` (half the size). */
  dtype?: "F32" | "F16";
}

/**
 * Serialises a checkpoint to bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type CheckpointMeta, decodeCheckpoint, encodeCheckpoint } from "./format.ts";
 * const meta: CheckpointMeta = { model: { preset: "seed", channels: [8, 8, 8], timeDim: 8 }, imageSize: 32,
 *   schedule: { kind: "linear", T: 10 }, step: 0, seed: 0, dataHash: null };
 * const bytes = encodeCheckpoint({ meta, tensors: new Map([["params/a", { shape: [2], data: Float32Array.of(1, 2) }]]) });
 * assert.equal(decodeCheckpoint(bytes).tensors.get("params/a")!.data[1], 2);
 * ```
 */
export function encodeCheckpoint(ckpt: Checkpoint, options: EncodeOptions = {}): Uint8Array {
  const dtype = options.dtype ?? "F32";
  const width = dtype === "F32" ? 4 : 2;
  const header: Record<string, unknown> = {};
  let offset = 0;
  const names = [...ckpt.tensors.keys()];
  for (const name of names) {
    const t = ckpt.tensors.get(name)!;
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (n !== t.data.length) {
      throw new RangeError(`tensor "${name}" has ${t.data.length} values for shape [${t.shape}]`);
    }
    header[name] = { dtype, shape: t.shape, data_offsets: [offset, offset + n * width] };
    offset += n * width;
  }
  const data = new Uint8Array(offset);
  const view = new DataView(data.buffer);
  for (const name of names) {
    const t = ckpt.tensors.get(name)!;
    const [begin] = (header[name] as { data_offsets: number[] }).data_offsets;
    for (let i = 0; i < t.data.length; i++) {
      if (dtype === "F32") view.setFloat32(begin + 4 * i, t.data[i], true);
      else view.setUint16(begin + 2 * i, float32ToFloat16Bits(t.data[i]), true);
    }
  }
  header.__metadata__ = {
    format: CHECKPOINT_FORMAT,
    format_version: String(CHECKPOINT_VERSION),
    meta: JSON.stringify(ckpt.meta),
    checksum: `sha256:${ZERO_DIGEST}`,
  };
  let json = new TextEncoder().encode(JSON.stringify(header));
  // safetensors pads the header with spaces to an 8-byte boundary
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded !== json.length) {
    const p = new Uint8Array(padded).fill(0x20);
    p.set(json);
    json = p;
  }
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  const at = checksumOffset(out, json.length);
  if (at < 0) throw new Error("internal: checkpoint header lost its checksum field");
  out.set(new TextEncoder().encode(wholeFileDigest(out, at)), at);
  return out;
}

/** Offset in `bytes` of the checksum's 64 hex digits (after CHECKSUM_KEY, exactly once), or -1. */
function checksumOffset(bytes: Uint8Array, headerLen: number): number {
  const text = new TextDecoder("latin1").decode(bytes.subarray(8, 8 + headerLen));
  const i = text.indexOf(CHECKSUM_KEY);
  if (i < 0 || text.indexOf(CHECKSUM_KEY, i + 1) >= 0) return -1;
  const at = 8 + i + CHECKSUM_KEY.length;
  return at + 64 <= 8 + headerLen ? at : -1;
}

/** SHA-256 (hex) of the whole file with the 64 digits at `at` read as `0`. */
function wholeFileDigest(bytes: Uint8Array, at: number): string {
  const zeroed = bytes.slice();
  zeroed.set(new TextEncoder().encode(ZERO_DIGEST), at);
  return sha256Hex(zeroed);
}

/** Options of {@linkcode decodeCheckpoint} and {@linkcode loadCheckpoint}. */
export interface DecodeOptions {
  /** Where a warning goes (an old format version); default `console.error` with `warning: `. */
  warn?: ((line: string) => void) | null;
}

/**
 * Parses and verifies checkpoint bytes: the whole-file checksum (format 2; format 1 checked by its
 * payload checksum, with a warning), format, version, header bounds, metadata values.
 *
 * @throws {CheckpointError} with a one-line reason naming `source` when any check fails.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeCheckpoint } from "./format.ts";
 * assert.throws(() => decodeCheckpoint(new Uint8Array(4)), { name: "CheckpointError" });
 * ```
 */
export function decodeCheckpoint(
  bytes: Uint8Array,
  source = "checkpoint",
  options: DecodeOptions = {},
): Checkpoint {
  if (bytes.length < 8) throw new CheckpointError(`${source} is truncated: ${bytes.length} bytes`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = Number(view.getBigUint64(0, true));
  if (headerLen <= 0 || 8 + headerLen > bytes.length) {
    throw new CheckpointError(`${source} is truncated or not a checkpoint: header length ${headerLen}`);
  }
  // The whole-file checksum first: nothing of a header that fails it is trusted.
  const at = checksumOffset(bytes, headerLen);
  const stored = at < 0 ? "" : new TextDecoder("latin1").decode(bytes.subarray(at, at + 64));
  const verified = at >= 0 && wholeFileDigest(bytes, at) === stored;
  let header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }> & {
    __metadata__?: Record<string, string>;
  };
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, 8 + headerLen)));
  } catch {
    if (at >= 0) {
      throw new CheckpointError(`${source} is corrupt: checksum mismatch (the header is not JSON)`);
    }
    throw new CheckpointError(`${source} is corrupt or not a checkpoint: no valid checksum, header not JSON`);
  }
  const md = header?.__metadata__;
  if (!md || typeof md !== "object" || md.format !== CHECKPOINT_FORMAT) {
    if (at >= 0) throw new CheckpointError(`${source} is corrupt: checksum mismatch (format tag)`);
    throw new CheckpointError(`${source} is not an ${CHECKPOINT_FORMAT} checkpoint (format "${md?.format}")`);
  }
  const data = bytes.subarray(8 + headerLen);
  const names = Object.keys(header).filter((k) => k !== "__metadata__");
  const end = Math.max(
    0,
    ...names.map((n) => {
      const stop = (header[n] as { data_offsets?: unknown })?.data_offsets;
      return Array.isArray(stop) && typeof stop[1] === "number" && Number.isFinite(stop[1]) ? stop[1] : 0;
    }),
  );
  let version: number;
  if (verified) {
    version = Number(md.format_version);
    if (version !== CHECKPOINT_VERSION) {
      throw new CheckpointError(
        `${source} has format version ${md.format_version}; this code reads versions 1 to ${CHECKPOINT_VERSION}`,
      );
    }
  } else if (md.format_version === "1" && typeof md.sha256 === "string" && md.checksum === undefined) {
    // Version 1: the checksum covers the data section only.
    version = 1;
    if (end !== data.length) {
      throw new CheckpointError(
        `${source} is truncated: data section is ${data.length} bytes, header says ${end}`,
      );
    }
    if (sha256Hex(data) !== md.sha256) {
      throw new CheckpointError(`${source} is corrupt: payload checksum mismatch`);
    }
    const warn = options.warn === undefined ? (l: string) => console.error(`warning: ${l}`) : options.warn;
    warn?.(
      `${source} is in checkpoint format 1, whose checksum does not cover its metadata; rewrite it with: ` +
        `deno task export --checkpoint FILE --out NEW_FILE (--full keeps the optimizer state)`,
    );
  } else if (end !== data.length && at >= 0) {
    throw new CheckpointError(
      `${source} is truncated or corrupt: checksum mismatch, data section is ${data.length} bytes, header says ${end}`,
    );
  } else {
    const v = md.format_version;
    const newer = Number(v) > CHECKPOINT_VERSION ? ` or written by a newer version (format ${v})` : "";
    throw new CheckpointError(`${source} is corrupt${newer}: checksum mismatch`);
  }
  if (end !== data.length) {
    throw new CheckpointError(
      `${source} is truncated: data section is ${data.length} bytes, header says ${end}`,
    );
  }
  checkTensorEntries(header, names, data.length, source);
  // the metadata before any tensor is expanded: a header that asks for too much is refused first
  let meta: CheckpointMeta;
  try {
    meta = JSON.parse(md.meta);
  } catch {
    throw new CheckpointError(`${source} has corrupt metadata`);
  }
  checkMeta(meta, source);
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const tensors = new Map<string, StoredTensor>();
  for (const name of names) {
    const { dtype, shape, data_offsets: [begin] } = header[name];
    const n = shape.reduce((a, b) => a * b, 1);
    const width = dtype === "F32" ? 4 : 2;
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      out[i] = width === 4
        ? dv.getFloat32(begin + 4 * i, true)
        : float16BitsToFloat32(dv.getUint16(begin + 2 * i, true));
    }
    tensors.set(name, { shape, data: out });
  }
  return { meta, tensors, formatVersion: version };
}

/** The most tensors a checkpoint may hold (the largest model has a few hundred, times four). */
const MAX_TENSORS = 10_000;
/** The most dimensions a stored tensor may have. */
const MAX_RANK = 8;

/**
 * Throws a CheckpointError unless every tensor entry of the header is well formed: an object with a
 * dtype F32 or F16, a shape of at most {@linkcode MAX_RANK} non-negative integers, `data_offsets` of two
 * integers inside the data section whose span is the shape's size, and no two tensors sharing bytes.
 */
function checkTensorEntries(
  header: Record<string, unknown>,
  names: string[],
  dataLength: number,
  source: string,
) {
  const bad = (name: string, what: string) =>
    new CheckpointError(`${source} has an invalid header: tensor "${name}" ${what}`);
  if (names.length > MAX_TENSORS) {
    throw new CheckpointError(
      `${source} has an invalid header: ${names.length} tensors (at most ${MAX_TENSORS})`,
    );
  }
  const spans: [number, number, string][] = [];
  for (const name of names) {
    const e = header[name] as { dtype?: unknown; shape?: unknown; data_offsets?: unknown } | null;
    if (!e || typeof e !== "object" || Array.isArray(e)) throw bad(name, "is not an object");
    if (e.dtype !== "F32" && e.dtype !== "F16") {
      throw bad(name, `has unsupported dtype ${JSON.stringify(e.dtype)}`);
    }
    const shape = e.shape;
    if (
      !Array.isArray(shape) || shape.length > MAX_RANK ||
      !shape.every((d) => Number.isSafeInteger(d) && d >= 0)
    ) {
      throw bad(
        name,
        `has shape ${JSON.stringify(shape)}: not a list of at most ${MAX_RANK} non-negative integers`,
      );
    }
    const off = e.data_offsets;
    if (
      !Array.isArray(off) || off.length !== 2 || !off.every((o) => Number.isSafeInteger(o)) ||
      off[0] < 0 || off[0] > off[1] || off[1] > dataLength
    ) {
      throw bad(
        name,
        `has data_offsets ${JSON.stringify(off)} outside the data section of ${dataLength} bytes`,
      );
    }
    const width = e.dtype === "F32" ? 4 : 2;
    // at most the data section's length: the product cannot overflow past it unnoticed
    let n = 1;
    for (const d of shape as number[]) n = Math.min(n * d, dataLength + 1);
    if (off[1] - off[0] !== n * width) {
      throw bad(name, `size does not match its shape [${shape}] (${off[1] - off[0]} bytes)`);
    }
    spans.push([off[0], off[1], name]);
  }
  spans.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  for (let i = 1; i < spans.length; i++) {
    if (spans[i][0] < spans[i - 1][1]) {
      throw bad(spans[i][2], `overlaps tensor "${spans[i - 1][2]}" in the data section`);
    }
  }
}

/** Bounds of the metadata fields that size what a reader allocates. */
const CHECKPOINT_LIMITS = {
  /** Diffusion steps (the train task's own cap). */
  T: 100_000,
  /** Image side in pixels. */
  imageSize: 1024,
  /** A model's channel count (per level of `seed`, the base of `unet`). */
  channels: 1024,
  /** `unet` residual blocks per level. */
  blocks: 8,
  /** `seed` time-embedding width. */
  timeDim: 4096,
  /** Label fields of a conditioned model. */
  labelFields: 8,
  /** Values of one label field. */
  labelValues: 10_000,
  /** Characters of one label value. */
  labelLength: 256,
} as const;

/** Throws a CheckpointError unless the metadata fields that are read have valid, bounded values. */
function checkMeta(meta: CheckpointMeta, source: string): void {
  const bad = (what: string) => new CheckpointError(`${source} has invalid metadata: ${what}`);
  const L = CHECKPOINT_LIMITS;
  if (!meta || typeof meta !== "object" || Array.isArray(meta)) throw bad("not an object");
  if (!meta.model || typeof meta.model !== "object") throw bad("no model config");
  if (!meta.schedule || typeof meta.schedule !== "object") throw bad("no schedule");
  if (!(SCHEDULE_KINDS as readonly string[]).includes(meta.schedule.kind)) {
    throw bad(`unknown schedule "${meta.schedule.kind}"`);
  }
  if (!Number.isInteger(meta.schedule.T) || meta.schedule.T < 1 || meta.schedule.T > L.T) {
    throw bad(`schedule.T = ${meta.schedule.T} (an integer in [1, ${L.T}])`);
  }
  if (!Number.isSafeInteger(meta.step) || meta.step < 0) throw bad(`step = ${meta.step}`);
  if (
    meta.imageSize !== undefined &&
    (!Number.isInteger(meta.imageSize) || meta.imageSize < 1 || meta.imageSize > L.imageSize)
  ) {
    throw bad(`imageSize = ${meta.imageSize} (an integer in [1, ${L.imageSize}])`);
  }
  const m = meta.model as unknown as Record<string, unknown>;
  const within = (field: string, v: unknown, max: number) => {
    if (typeof v !== "number" || !Number.isInteger(v) || v < 1 || v > max) {
      throw bad(`model.${field} = ${JSON.stringify(v)} (an integer in [1, ${max}])`);
    }
  };
  if (m.preset === "seed") {
    if (!Array.isArray(m.channels) || m.channels.length !== 3) {
      throw bad(`model.channels = ${JSON.stringify(m.channels)} (three integers)`);
    }
    m.channels.forEach((c) => within("channels", c, L.channels));
    within("timeDim", m.timeDim, L.timeDim);
    if ((m.timeDim as number) % 2) throw bad(`model.timeDim = ${m.timeDim} (even)`);
  } else if (m.preset === "unet") {
    within("channels", m.channels, L.channels);
    within("blocks", m.blocks, L.blocks);
    within("groups", m.groups, L.channels);
    if (!Array.isArray(m.channelMult)) throw bad(`model.channelMult = ${JSON.stringify(m.channelMult)}`);
    if (m.channelMult.length < 1 || m.channelMult.length > 4) {
      throw bad(`model.channelMult = ${JSON.stringify(m.channelMult)} (1 to 4 multipliers)`);
    }
    m.channelMult.forEach((c) => within("channelMult", c, 16));
    if ((m.channels as number) % 2) throw bad(`model.channels = ${m.channels} (even)`);
    for (const c of m.channelMult as number[]) {
      if (((m.channels as number) * c) % (m.groups as number)) {
        throw bad(`model.channels ${m.channels}×${c} is not divisible by groups ${m.groups}`);
      }
    }
    const att = m.attentionResolutions;
    if (att !== undefined && (!Array.isArray(att) || !att.every((r) => Number.isInteger(r) && r >= 1))) {
      throw bad(`model.attentionResolutions = ${JSON.stringify(att)}`);
    }
  } else throw bad(`model.preset = ${JSON.stringify(m.preset)} (seed or unet)`);
  if (m.labels !== undefined) {
    const labels = m.labels;
    if (!labels || typeof labels !== "object" || Array.isArray(labels)) {
      throw bad("model.labels is not an object");
    }
    const fields = Object.entries(labels as Record<string, unknown>);
    if (fields.length > L.labelFields) {
      throw bad(`model.labels has ${fields.length} fields (at most ${L.labelFields})`);
    }
    for (const [f, values] of fields) {
      if (!Array.isArray(values) || values.length > L.labelValues) {
        throw bad(`model.labels.${f} is not a list of at most ${L.labelValues} values`);
      }
      if (!values.every((v) => typeof v === "string" && v.length <= L.labelLength)) {
        throw bad(
          `model.labels.${f} holds a value that is not a string of at most ${L.labelLength} characters`,
        );
      }
    }
  }
  try {
    if (m.labels !== undefined) validateVocabulary(m.labels);
  } catch (err) {
    if (err instanceof RangeError) throw bad(`model.${err.message}`);
    throw err;
  }
}

/**
 * Writes a checkpoint atomically (temp file, fsync, rename): `path` holds the old file or the new
 * one, never a part.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type Checkpoint, loadCheckpoint, saveCheckpoint } from "./format.ts";
 * const ckpt: Checkpoint = { meta: { model: { preset: "seed", channels: [8, 8, 8], timeDim: 8 }, imageSize: 32,
 *   schedule: { kind: "linear", T: 10 }, step: 0, seed: 0, dataHash: null }, tensors: new Map() };
 * const path = `${await Deno.makeTempDir()}/a.safetensors`;
 * await saveCheckpoint(path, ckpt);
 * assert.equal((await loadCheckpoint(path)).meta.step, 0);
 * ```
 */
export async function saveCheckpoint(
  path: string,
  ckpt: Checkpoint,
  options: EncodeOptions = {},
): Promise<void> {
  await atomicWriteFile(path, encodeCheckpoint(ckpt, options));
}

/**
 * Reads and verifies a checkpoint from a path, a URL (`file:`, `http:`, `https:`) or its bytes: the
 * same integrity checks whatever the source (see {@linkcode readCheckpointSource}). A missing file
 * (or an HTTP 404) is a Deno.errors.NotFound naming it. A local path naming one part of a split
 * checkpoint (`<base>-00001-of-00002.safetensors`, see `saveSplitCheckpoint`) loads all its parts as one
 * checkpoint.
 *
 * @throws {Deno.errors.NotFound} when the file does not exist (the message names it).
 * @throws {CheckpointError} when it is truncated, corrupt or not a checkpoint.
 *
 * @example From bytes
 * ```ts
 * import assert from "node:assert/strict";
 * import { type CheckpointMeta, encodeCheckpoint, loadCheckpoint } from "./format.ts";
 * const meta: CheckpointMeta = { model: { preset: "seed", channels: [8, 8, 8], timeDim: 8 }, imageSize: 32,
 *   schedule: { kind: "linear", T: 10 }, step: 0, seed: 0, dataHash: null };
 * const bytes = encodeCheckpoint({ meta, tensors: new Map([["params/a", { shape: [1], data: Float32Array.of(7) }]]) });
 * assert.equal((await loadCheckpoint(bytes)).tensors.get("params/a")!.data[0], 7);
 * ```
 */
export async function loadCheckpoint(
  source: CheckpointSource,
  options: LoadCheckpointOptions & DecodeOptions = {},
): Promise<Checkpoint> {
  if (typeof source === "string" && !/^(https?|file):/i.test(source) && isSplitPart(source)) {
    return await loadSplitParts(source, decodeCheckpoint);
  }
  const { bytes, name } = await readCheckpointSource(source, options);
  return decodeCheckpoint(bytes, name, options);
}

/**
 * A sampling-only copy of a training checkpoint: the EMA weights (or the raw ones when there is no
 * EMA), the model state and the data mean, no optimizer moments; metadata kept, with `extra` merged in.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type Checkpoint, samplingCheckpoint } from "./format.ts";
 * const full: Checkpoint = { meta: { model: { preset: "seed", channels: [8, 8, 8], timeDim: 8 }, imageSize: 32,
 *   schedule: { kind: "linear", T: 10 }, step: 5, seed: 0, dataHash: null }, tensors: new Map([
 *   ["params/a", { shape: [1], data: Float32Array.of(1) }], ["ema/a", { shape: [1], data: Float32Array.of(2) }],
 *   ["adam_m/a", { shape: [1], data: Float32Array.of(3) }], ["data/mean", { shape: [1], data: Float32Array.of(0) }]]) };
 * assert.equal([...samplingCheckpoint(full).tensors.keys()].join(), "ema/a,data/mean");
 * ```
 */
export function samplingCheckpoint(ckpt: Checkpoint, extra: Partial<CheckpointMeta> = {}): Checkpoint {
  const hasEma = [...ckpt.tensors.keys()].some((k) => k.startsWith("ema/"));
  const keep = hasEma ? "ema/" : "params/";
  const tensors = new Map(
    [...ckpt.tensors].filter(([k]) => k.startsWith(keep) || k.startsWith("state/") || k === DATA_MEAN_TENSOR),
  );
  const { rng: _rng, ...meta } = ckpt.meta;
  return { meta: { ...meta, ...extra }, tensors };
}
