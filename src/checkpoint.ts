/**
 * Checkpoints: one self-describing file in the safetensors layout, readable from Python with
 * `safetensors.numpy.load_file`.
 *
 * Layout: an 8-byte little-endian header length N, N bytes of JSON, then the raw little-endian
 * tensor bytes. The JSON maps each tensor name (`params/…`, `ema/…`, `adam_m/…`, `adam_v/…`,
 * `state/…`) to `{dtype: "F32"|"F16", shape, data_offsets: [begin, end]}` and holds
 * `__metadata__` (string values, as safetensors requires): `format` = `emoji-diffusion`,
 * `format_version`, `sha256` of the whole data section, and `meta`, the JSON of
 * {@linkcode CheckpointMeta}. Files are written atomically (temp file, fsync, rename).
 *
 * @module
 */
import { atomicWriteFile } from "./platform/files.ts";
import { sha256Hex } from "./platform/sha256.ts";
import {
  type CheckpointSource,
  type LoadCheckpointOptions,
  readCheckpointSource,
} from "./checkpoint_source.ts";
import { float16BitsToFloat32, float32ToFloat16Bits } from "./float16.ts";
import type { ModelConfig } from "./model/model.ts";
import type { ScheduleKind } from "./schedule.ts";
import type { RngState } from "./rng.ts";

/** The format tag in every checkpoint. */
export const CHECKPOINT_FORMAT = "emoji-diffusion";
/** The version this code writes and reads. */
export const CHECKPOINT_VERSION = 1;
/**
 * The tensor holding the training set's mean image (`size`×`size`×3, flips included), where the
 * reverse process starts from (see `priorStart`). Written by training since it existed; older
 * checkpoints lack it and sample from N(0, I) unless given one by `deno task export --data`.
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
  rng?: { noise: RngState; data: RngState; dataEpoch?: unknown; dropout?: RngState };
  /** Evaluation numbers, when known. */
  eval?: Record<string, unknown>;
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
}

/** A checkpoint that cannot be read, with the reason. */
export class CheckpointError extends Error {
  /** Always `"CheckpointError"`. */
  override name = "CheckpointError";
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
 * import { type CheckpointMeta, decodeCheckpoint, encodeCheckpoint } from "./checkpoint.ts";
 * const meta: CheckpointMeta = { model: { preset: "seed", channels: [8, 8, 8], timeDim: 8 }, imageSize: 32,
 *   schedule: { kind: "linear", T: 10 }, step: 0, seed: 0, dataHash: null };
 * const bytes = encodeCheckpoint({ meta, tensors: new Map([["params/a", { shape: [2], data: Float32Array.of(1, 2) }]]) });
 * console.assert(decodeCheckpoint(bytes).tensors.get("params/a")!.data[1] === 2);
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
    sha256: sha256Hex(data),
    meta: JSON.stringify(ckpt.meta),
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
  return out;
}

/**
 * Parses and verifies checkpoint bytes: format, version, header bounds, checksum. Throws a
 * {@linkcode CheckpointError} with a one-line reason otherwise.
 *
 * @example
 * ```ts
 * import { decodeCheckpoint } from "./checkpoint.ts";
 * try { decodeCheckpoint(new Uint8Array(4)); } catch (e) { console.assert((e as Error).name === "CheckpointError"); }
 * ```
 */
export function decodeCheckpoint(bytes: Uint8Array, source = "checkpoint"): Checkpoint {
  if (bytes.length < 8) throw new CheckpointError(`${source} is truncated: ${bytes.length} bytes`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = Number(view.getBigUint64(0, true));
  if (headerLen <= 0 || 8 + headerLen > bytes.length) {
    throw new CheckpointError(`${source} is truncated or not a checkpoint: header length ${headerLen}`);
  }
  let header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }> & {
    __metadata__?: Record<string, string>;
  };
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, 8 + headerLen)));
  } catch {
    throw new CheckpointError(`${source} has a corrupt header (not JSON)`);
  }
  const md = header.__metadata__;
  if (!md || md.format !== CHECKPOINT_FORMAT) {
    throw new CheckpointError(`${source} is not an ${CHECKPOINT_FORMAT} checkpoint (format "${md?.format}")`);
  }
  if (md.format_version !== String(CHECKPOINT_VERSION)) {
    throw new CheckpointError(
      `${source} has format version ${md.format_version}; this code reads version ${CHECKPOINT_VERSION}`,
    );
  }
  const data = bytes.subarray(8 + headerLen);
  const names = Object.keys(header).filter((k) => k !== "__metadata__");
  const end = Math.max(0, ...names.map((n) => header[n].data_offsets?.[1] ?? 0));
  if (end !== data.length) {
    throw new CheckpointError(
      `${source} is truncated: data section is ${data.length} bytes, header says ${end}`,
    );
  }
  const digest = sha256Hex(data);
  if (digest !== md.sha256) throw new CheckpointError(`${source} is corrupt: payload checksum mismatch`);
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const tensors = new Map<string, StoredTensor>();
  for (const name of names) {
    const { dtype, shape, data_offsets: [begin, stop] } = header[name];
    const n = shape.reduce((a, b) => a * b, 1);
    const width = dtype === "F32" ? 4 : dtype === "F16" ? 2 : 0;
    if (!width) throw new CheckpointError(`${source}: tensor "${name}" has unsupported dtype ${dtype}`);
    if (stop - begin !== n * width) {
      throw new CheckpointError(`${source}: tensor "${name}" size does not match its shape`);
    }
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      out[i] = width === 4
        ? dv.getFloat32(begin + 4 * i, true)
        : float16BitsToFloat32(dv.getUint16(begin + 2 * i, true));
    }
    tensors.set(name, { shape, data: out });
  }
  let meta: CheckpointMeta;
  try {
    meta = JSON.parse(md.meta);
  } catch {
    throw new CheckpointError(`${source} has corrupt metadata`);
  }
  return { meta, tensors };
}

/** Writes a checkpoint atomically. */
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
 * (or an HTTP 404) is a Deno.errors.NotFound naming it.
 *
 * @example From bytes
 * ```ts
 * import { type CheckpointMeta, encodeCheckpoint, loadCheckpoint } from "./checkpoint.ts";
 * const meta: CheckpointMeta = { model: { preset: "seed", channels: [8, 8, 8], timeDim: 8 }, imageSize: 32,
 *   schedule: { kind: "linear", T: 10 }, step: 0, seed: 0, dataHash: null };
 * const bytes = encodeCheckpoint({ meta, tensors: new Map([["params/a", { shape: [1], data: Float32Array.of(7) }]]) });
 * console.assert((await loadCheckpoint(bytes)).tensors.get("params/a")!.data[0] === 7);
 * ```
 */
export async function loadCheckpoint(
  source: CheckpointSource,
  options: LoadCheckpointOptions = {},
): Promise<Checkpoint> {
  const { bytes, name } = await readCheckpointSource(source, options);
  return decodeCheckpoint(bytes, name);
}

/**
 * A sampling-only copy of a training checkpoint: the EMA weights (or the raw ones when there is no
 * EMA), the model state and the data mean, no optimizer moments; metadata kept, with `extra` merged in.
 *
 * @example
 * ```ts
 * import { type Checkpoint, samplingCheckpoint } from "./checkpoint.ts";
 * const full: Checkpoint = { meta: { model: { preset: "seed", channels: [8, 8, 8], timeDim: 8 }, imageSize: 32,
 *   schedule: { kind: "linear", T: 10 }, step: 5, seed: 0, dataHash: null }, tensors: new Map([
 *   ["params/a", { shape: [1], data: Float32Array.of(1) }], ["ema/a", { shape: [1], data: Float32Array.of(2) }],
 *   ["adam_m/a", { shape: [1], data: Float32Array.of(3) }], ["data/mean", { shape: [1], data: Float32Array.of(0) }]]) };
 * console.assert([...samplingCheckpoint(full).tensors.keys()].join() === "ema/a,data/mean");
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
