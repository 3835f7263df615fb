/**
 * A flat layout of named tensors: one 1-D buffer holds every parameter's values back to back, in
 * the parameter map's order, so that an optimizer can update all of them with a handful of kernels
 * instead of a dozen per tensor.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { ParamMap } from "../model/context.ts";
import { CheckpointError, type StoredTensor } from "../checkpoint/format.ts";

/** Where one named tensor lives in a flat buffer. */
export interface FlatEntry {
  /** Parameter name. */
  name: string;
  /** Its shape. */
  shape: number[];
  /** First element in the flat buffer. */
  offset: number;
  /** Element count. */
  size: number;
}

/**
 * The offsets of a parameter map's tensors in one flat buffer.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import "@tensorflow/tfjs-backend-cpu";
 * import { FlatLayout } from "./flat.ts";
 * await tf.setBackend("cpu");
 * const a: tf.Variable = tf.variable(tf.tensor2d([[1, 2], [3, 4]]));
 * const b: tf.Variable = tf.variable(tf.tensor1d([5]));
 * const layout = new FlatLayout(new Map([["a", a], ["b", b]]));
 * const flat = layout.flatten([a, b]);
 * assert.equal(layout.total, 5);
 * assert.equal(flat.shape[0], 5);
 * const [a2] = layout.unflatten(flat);
 * assert.equal(a2.shape.join(), "2,2");
 * tf.dispose([a, b, flat, a2]);
 * ```
 */
export class FlatLayout {
  /** One entry per tensor, in map order. */
  readonly entries: FlatEntry[] = [];
  /** Total element count. */
  readonly total: number;

  constructor(map: ParamMap) {
    let offset = 0;
    for (const [name, v] of map) {
      this.entries.push({ name, shape: v.shape.slice(), offset, size: v.size });
      offset += v.size;
    }
    this.total = offset;
  }

  /** Concatenates tensors of this layout's shapes (in its order) into one 1-D tensor. */
  flatten(tensors: tf.Tensor[]): tf.Tensor1D {
    if (tensors.length !== this.entries.length) {
      throw new RangeError(`flat layout has ${this.entries.length} tensors, got ${tensors.length}`);
    }
    if (tensors.length === 0) return tf.zeros([0]);
    return tf.tidy(() => tf.concat(tensors.map((t) => tf.reshape(t, [-1])), 0) as tf.Tensor1D);
  }

  /** Splits a flat tensor back into tensors of this layout's shapes. */
  unflatten(flat: tf.Tensor): tf.Tensor[] {
    if (this.entries.length === 0) return [];
    return tf.tidy(() => {
      const parts = tf.split(flat, this.entries.map((e) => e.size), 0);
      return parts.map((p, i) => tf.reshape(p, this.entries[i].shape));
    });
  }

  /** Packs arrays by name (each of its entry's size) into one Float32Array. */
  pack(get: (name: string) => Float32Array): Float32Array {
    const out = new Float32Array(this.total);
    for (const e of this.entries) out.set(get(e.name), e.offset);
    return out;
  }

  /** The view of entry `i` in a flat array (shares its memory). */
  view(flat: Float32Array, i: number): Float32Array {
    const e = this.entries[i];
    return flat.subarray(e.offset, e.offset + e.size);
  }

  /** Variables of this layout's shapes holding a flat tensor's values, as a parameter map. */
  toParamMap(flat: tf.Tensor): ParamMap {
    const parts = this.unflatten(flat);
    const map: ParamMap = new Map();
    this.entries.forEach((e, i) => {
      map.set(e.name, tf.variable(parts[i], false));
      parts[i].dispose();
    });
    return map;
  }
}

/**
 * Throws a {@linkcode CheckpointError} unless `tensors` holds `prefix/name` with the right shape for
 * every entry of `layout` and nothing else under `prefix/`; returns the flat values when it does.
 */
export function flatFromCheckpoint(
  tensors: Map<string, StoredTensor>,
  prefix: string,
  layout: FlatLayout,
): Float32Array {
  for (const e of layout.entries) {
    const t = tensors.get(`${prefix}/${e.name}`);
    if (!t) {
      throw new CheckpointError(`checkpoint lacks tensor "${prefix}/${e.name}" that the model config needs`);
    }
    if (t.shape.join() !== e.shape.join()) {
      throw new CheckpointError(
        `checkpoint tensor "${prefix}/${e.name}" has shape [${t.shape}], the model needs [${e.shape}]`,
      );
    }
  }
  const names = new Set(layout.entries.map((e) => e.name));
  for (const name of tensors.keys()) {
    if (name.startsWith(prefix + "/") && !names.has(name.slice(prefix.length + 1))) {
      throw new CheckpointError(`checkpoint tensor "${name}" is not part of this model config`);
    }
  }
  return layout.pack((name) => tensors.get(`${prefix}/${name}`)!.data);
}

/** Stores a flat array's entries as `prefix/name` tensors (copies). */
export function flatToCheckpoint(
  flat: Float32Array,
  prefix: string,
  layout: FlatLayout,
  out: Map<string, StoredTensor>,
): void {
  layout.entries.forEach((e, i) =>
    out.set(`${prefix}/${e.name}`, { shape: e.shape.slice(), data: layout.view(flat, i).slice() })
  );
}
