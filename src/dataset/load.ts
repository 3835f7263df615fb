/**
 * Loading a prepared dataset (manifest + verified atlas) and drawing seeded, shuffled, randomly
 * flipped batches from it.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { join } from "node:path";
import { decodeImage } from "../image/codec.ts";
import { flipHorizontal, rgb8ToFloat } from "../image/pixels.ts";
export { flipHorizontal };
import type { Rng } from "../core/rng.ts";
import {
  DatasetError,
  type DatasetManifest,
  MANIFEST_FILE,
  sha256Hex,
  validateManifest,
} from "./manifest.ts";

/** Options of {@linkcode DatasetSampler}. */
export interface BatchSamplerOptions {
  /** Random horizontal flips, p = 0.5 per example (the notebook's RandomHorizontalFlip). Default true. */
  flip?: boolean;
}

/** The resumable state of a {@linkcode DatasetSampler} (its Rng's state is saved separately). */
export interface SamplerState {
  /** The current epoch's permutation of image indices. */
  order: number[];
  /** How many of `order` were used. */
  cursor: number;
  /** Completed epochs. */
  epoch: number;
}

/**
 * An endless stream of batches: each epoch is a fresh permutation of the dataset (drawn from the
 * Rng), batches are consecutive slices of the stream (a batch may straddle two epochs, so every
 * batch is full), and each example is flipped horizontally with p = 0.5 (one `rng.uniform()` per
 * example, drawn in batch order). All randomness comes from the Rng, so equal seeds give equal
 * batches on every backend.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DatasetSampler } from "./load.ts";
 * import { Rng } from "../core/rng.ts";
 * const images = Float32Array.from({ length: 3 * 2 * 2 * 3 }, (_, i) => (i % 7) / 7);
 * const sampler = new DatasetSampler(images, 3, 2, new Rng(1), 2);
 * const batch = sampler.nextBatchArray();
 * assert.equal(batch.length, 2 * 2 * 2 * 3);
 * ```
 */
export class DatasetSampler {
  readonly #images: Float32Array;
  readonly #rng: Rng;
  readonly #flip: boolean;
  #state: SamplerState = { order: [], cursor: 0, epoch: -1 };
  /** Images in the dataset. */
  readonly count: number;
  /** Image side in pixels. */
  readonly size: number;
  /** Examples per batch. */
  readonly batchSize: number;

  /**
   * Wraps images for sampling; nothing is drawn from `rng` until the first batch.
   *
   * @param images NHWC float pixels of `count` images, `size·size·3` each
   * @param count number of images
   * @param size image side
   * @param rng the seeded generator (shared state: the sampler draws from it)
   * @param batchSize examples per batch, ≥ 1 (may exceed `count`: then epochs repeat within a batch)
   */
  constructor(
    images: Float32Array,
    count: number,
    size: number,
    rng: Rng,
    batchSize: number,
    options: BatchSamplerOptions = {},
  ) {
    if (!Number.isInteger(batchSize) || batchSize < 1) {
      throw new RangeError(`batch size must be an integer >= 1, got ${batchSize}`);
    }
    if (!Number.isInteger(count) || count < 1 || images.length !== count * size * size * 3) {
      throw new RangeError(`images hold ${images.length} values, expected ${count}x${size}x${size}x3`);
    }
    this.#images = images;
    this.count = count;
    this.size = size;
    this.#rng = rng;
    this.batchSize = batchSize;
    this.#flip = options.flip ?? true;
  }

  /** Completed epochs (0 during the first). */
  get epoch(): number {
    return Math.max(0, this.#state.epoch);
  }

  #nextIndex(): number {
    const s = this.#state;
    if (s.epoch < 0 || s.cursor >= s.order.length) {
      s.order = this.#rng.shuffle(Array.from({ length: this.count }, (_, i) => i));
      s.cursor = 0;
      s.epoch++;
    }
    return s.order[s.cursor++];
  }

  /**
   * The next batch as plain NHWC floats in [−1, 1], `batchSize·size·size·3` values.
   * Also returns which dataset images it holds and which were flipped.
   */
  nextBatchWithInfo(): { data: Float32Array; indices: number[]; flipped: boolean[] } {
    const per = this.size * this.size * 3;
    const data = new Float32Array(this.batchSize * per);
    const indices: number[] = [], flipped: boolean[] = [];
    for (let b = 0; b < this.batchSize; b++) {
      const i = this.#nextIndex();
      const src = this.#images.subarray(i * per, (i + 1) * per);
      const dst = data.subarray(b * per, (b + 1) * per);
      const f = this.#flip && this.#rng.uniform() < 0.5;
      if (f) flipHorizontal(src, dst, this.size, this.size, 3);
      else dst.set(src);
      indices.push(i);
      flipped.push(f);
    }
    return { data, indices, flipped };
  }

  /** The next batch as plain NHWC floats in [−1, 1] (no tensor, no tf op). */
  nextBatchArray(): Float32Array {
    return this.nextBatchWithInfo().data;
  }

  /** The next batch as a tf.Tensor4D [batchSize, size, size, 3] in [−1, 1]; the caller disposes it. */
  nextBatch(): tf.Tensor4D {
    return tf.tensor4d(this.nextBatchArray(), [this.batchSize, this.size, this.size, 3]);
  }

  /** A copy of the sampler's position, for checkpoints (save the Rng's state too). */
  getState(): SamplerState {
    return { order: this.#state.order.slice(), cursor: this.#state.cursor, epoch: this.#state.epoch };
  }

  /** Restores a position from {@linkcode DatasetSampler.getState}. */
  setState(state: SamplerState): void {
    if (
      !Array.isArray(state?.order) ||
      !state.order.every((i) => Number.isInteger(i) && i >= 0 && i < this.count)
    ) {
      throw new RangeError("sampler state does not fit this dataset");
    }
    this.#state = { order: state.order.slice(), cursor: state.cursor, epoch: state.epoch };
  }
}

/**
 * A loaded, verified dataset: all images as NHWC floats in [−1, 1], in atlas (manifest) order.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { EmojiDataset } from "./load.ts";
 * import { Rng } from "../core/rng.ts";
 * const ds = new EmojiDataset(new Float32Array(2 * 4 * 4 * 3), 2, 4);
 * const batch = ds.sampler(new Rng(0), 2).nextBatchArray();
 * assert.equal(ds.image(1).length, 48);
 * assert.equal(batch.length, 96);
 * ```
 */
export class EmojiDataset {
  /** Number of images. */
  readonly count: number;
  /** Image side in pixels. */
  readonly size: number;
  /** NHWC float pixels in [−1, 1], `count·size·size·3` values. Treat as read-only. */
  readonly images: Float32Array;
  /** The manifest (null for a dataset built in memory). */
  readonly manifest: DatasetManifest | null;
  /** The folder it was loaded from, if any. */
  readonly dir: string | null;

  /** Wraps NHWC float pixels; {@linkcode loadEmojiDataset} is the usual way to get one. */
  constructor(
    images: Float32Array,
    count: number,
    size: number,
    manifest: DatasetManifest | null = null,
    dir: string | null = null,
  ) {
    if (images.length !== count * size * size * 3) {
      throw new RangeError(`images hold ${images.length} values, expected ${count}x${size}x${size}x3`);
    }
    this.images = images;
    this.count = count;
    this.size = size;
    this.manifest = manifest;
    this.dir = dir;
  }

  /** Image `i` as a view (HWC floats) into {@linkcode EmojiDataset.images}. */
  image(i: number): Float32Array {
    if (!Number.isInteger(i) || i < 0 || i >= this.count) {
      throw new RangeError(`image index must be an integer in [0, ${this.count - 1}], got ${i}`);
    }
    const per = this.size * this.size * 3;
    return this.images.subarray(i * per, (i + 1) * per);
  }

  /** A batch sampler drawing from `rng` (see {@linkcode DatasetSampler}). */
  sampler(rng: Rng, batchSize: number, options: BatchSamplerOptions = {}): DatasetSampler {
    return new DatasetSampler(this.images, this.count, this.size, rng, batchSize, options);
  }

  /**
   * Yields `limit` batches (default: endless) as tf.Tensor4D [batchSize, size, size, 3]; the caller
   * disposes each.
   */
  *batches(
    rng: Rng,
    batchSize: number,
    limit = Infinity,
    options: BatchSamplerOptions = {},
  ): Generator<tf.Tensor4D> {
    const s = this.sampler(rng, batchSize, options);
    for (let i = 0; i < limit; i++) yield s.nextBatch();
  }

  /** The whole set, unflipped, in manifest order, as a tf.Tensor4D [count, size, size, 3]; the caller disposes it. */
  allImages(): tf.Tensor4D {
    return tf.tensor4d(this.images, [this.count, this.size, this.size, 3]);
  }
}

async function listDatasets(parent: string): Promise<string[]> {
  const out: string[] = [];
  try {
    for await (const e of Deno.readDir(parent)) {
      if (e.isDirectory && !e.name.includes(".tmp-") && !e.name.includes(".old-")) {
        try {
          await Deno.stat(join(parent, e.name, MANIFEST_FILE));
          out.push(join(parent, e.name));
        } catch { /* not a dataset */ }
      }
    }
  } catch { /* no parent */ }
  return out.sort();
}

/**
 * Reads `<dir>/manifest.json`, checks its format version, reads the atlas and checks its SHA-256
 * and size against the manifest, and cuts it into images. Every problem is a one-line
 * {@linkcode DatasetError} naming the path (and, for a missing dataset, the datasets that exist).
 * Needs `--allow-read --allow-ffi --allow-env` (PNG decoding).
 *
 * @throws {DatasetError} for a missing dataset (a usage error), or with `corrupt` set for a manifest or
 * atlas that fails its checks (a runtime failure).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadEmojiDataset } from "./load.ts";
 * import { prepareDataset } from "./prepare.ts";
 * import { encodePng } from "../image/codec.ts";
 * const src = await Deno.makeTempDir(), out = `${await Deno.makeTempDir()}/set`;
 * await Deno.writeFile(`${src}/a.png`, await encodePng(Uint8Array.of(255, 255, 255, 255), 1, 1));
 * await prepareDataset({ from: src, size: 2, out, log: null });
 * const ds = await loadEmojiDataset(out);
 * assert.equal(ds.count, 1);
 * assert.ok(ds.images.every((v) => v === 1));
 * ```
 */
export async function loadEmojiDataset(dir: string): Promise<EmojiDataset> {
  const manifestPath = join(dir, MANIFEST_FILE);
  let text: string;
  try {
    text = await Deno.readTextFile(manifestPath);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
    const parent = join(dir, "..");
    const have = await listDatasets(parent);
    throw new DatasetError(
      `no dataset at ${dir} (${MANIFEST_FILE} missing): run deno task prepare --out ${dir}` +
        (have.length ? `, or choose one of ${have.join(", ")}` : ""),
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new DatasetError(`${manifestPath} is not valid JSON (${(err as Error).message.split("\n")[0]})`, {
      corrupt: true,
      cause: err,
    });
  }
  const manifest = validateManifest(parsed, manifestPath);
  const atlasPath = join(dir, manifest.atlas.file);
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(atlasPath);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new DatasetError(
        `atlas ${atlasPath} is missing: prepare the dataset again (deno task prepare --out ${dir})`,
        { corrupt: true, cause: err },
      );
    }
    throw err;
  }
  const hash = await sha256Hex(bytes);
  if (hash !== manifest.atlas.sha256) {
    throw new DatasetError(
      `atlas ${atlasPath} does not match its manifest: sha256 ${hash.slice(0, 16)}… expected ` +
        `${manifest.atlas.sha256.slice(0, 16)}…; prepare the dataset again (deno task prepare --out ${dir})`,
      { corrupt: true },
    );
  }
  const img = await decodeImage(bytes);
  const { columns, width, height } = manifest.atlas;
  if (img.width !== width || img.height !== height) {
    throw new DatasetError(
      `atlas ${atlasPath} is ${img.width}x${img.height}, manifest says ${width}x${height}`,
      { corrupt: true },
    );
  }
  const size = manifest.size, count = manifest.count;
  const bytesRgb = new Uint8Array(count * size * size * 3);
  for (let k = 0; k < count; k++) {
    const ox = (k % columns) * size, oy = Math.floor(k / columns) * size;
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const s = ((oy + y) * width + ox + x) * 4, o = ((k * size + y) * size + x) * 3;
        bytesRgb[o] = img.rgba[s];
        bytesRgb[o + 1] = img.rgba[s + 1];
        bytesRgb[o + 2] = img.rgba[s + 2];
      }
    }
  }
  return new EmojiDataset(rgb8ToFloat(bytesRgb), count, size, manifest, dir);
}
