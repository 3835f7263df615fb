/**
 * The forward-pass context: where a model finds its parameters, whether it trains, and the
 * FLOP counter that lets a model report its cost per image without a separate formula.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
// tfjs-core alone registers no gradients (its ESM registrar does not resolve in Deno); the
// @tensorflow/tfjs bundle registers them all into the shared global registry.
import "@tensorflow/tfjs";
import type { Rng } from "../core/rng.ts";

/** Named, enumerable model parameters (for checkpoints and EMA). */
export type ParamMap = Map<string, tf.Variable>;

/**
 * Sets every variable of `map` from one flat array holding their values back to back in map order
 * (what the data-parallel workers receive).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import { initBackend } from "../backend/select.ts";
 * import { assignFlat, type ParamMap } from "./context.ts";
 * await initBackend("cpu", { log: null });
 * const map: ParamMap = new Map([["a", tf.variable(tf.zeros([2]))], ["b", tf.variable(tf.zeros([1]))]]);
 * assignFlat(map, Float32Array.of(1, 2, 3));
 * assert.deepEqual([...await map.get("b")!.data()], [3]);
 * ```
 */
export function assignFlat(map: ParamMap, flat: Float32Array): void {
  let offset = 0;
  for (const v of map.values()) {
    const w = tf.tensor(flat.subarray(offset, offset + v.size), v.shape);
    v.assign(w);
    w.dispose();
    offset += v.size;
  }
}

/** A pending assignment made by a forward pass in training mode (BatchNorm running statistics). */
export interface StateUpdate {
  /** The state variable to overwrite. */
  variable: tf.Variable;
  /** Its new value, kept alive until assigned. */
  value: tf.Tensor;
}

/** Dropout of a training forward pass: the rate and the stream its masks are drawn from. */
export interface DropoutSpec {
  /** Probability of zeroing an activation, in [0, 1). */
  rate: number;
  /** The generator of the masks (drawn on the CPU, so every backend drops the same units). */
  rng: Rng;
}

/**
 * Draws an inverted-dropout mask of `n` values: each is 0 with probability `rate`, else
 * 1 / (1 − rate), so the expected activation is unchanged and inference needs no rescaling.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { dropoutMask } from "./context.ts";
 * import { Rng } from "../core/rng.ts";
 * const m = dropoutMask(1000, 0.5, new Rng(0));
 * assert.ok(m.every((v) => v === 0 || v === 2));
 * ```
 */
export function dropoutMask(n: number, rate: number, rng: Rng): Float32Array {
  if (!(rate >= 0 && rate < 1)) throw new RangeError(`dropout rate must be in [0, 1), got ${rate}`);
  const keep = 1 / (1 - rate), mask = new Float32Array(n);
  for (let i = 0; i < n; i++) mask[i] = rng.uniform() < rate ? 0 : keep;
  return mask;
}

/** What a forward pass reads and writes besides its input. */
export class ForwardContext {
  /** Multiply-adds ×2 of every conv and matmul run through this context, per batch. */
  flops = 0;
  /** Running-statistics updates to apply after the training step. */
  readonly updates: StateUpdate[] = [];

  /**
   * @param params trainable parameters by name
   * @param state non-trainable state by name (BatchNorm running mean/variance)
   * @param training whether BatchNorm uses batch statistics and records running-stat updates
   * @param dropoutSpec dropout in training mode (none when absent, and never in inference)
   */
  constructor(
    readonly params: ParamMap,
    readonly state: ParamMap,
    readonly training: boolean,
    readonly dropoutSpec?: DropoutSpec,
  ) {}

  /**
   * Inverted dropout of `x` in training mode with a non-zero rate; `x` itself otherwise. The
   * mask is a constant, so the gradient flows through the kept units only, scaled alike.
   */
  dropout<T extends tf.Tensor>(x: T): T {
    const spec = this.dropoutSpec;
    if (!this.training || !spec || spec.rate === 0) return x;
    return tf.mul(x, tf.tensor(dropoutMask(x.size, spec.rate, spec.rng), x.shape)) as T;
  }

  /** The parameter called `name`, or an Error naming it. */
  p(name: string): tf.Variable {
    const v = this.params.get(name);
    if (!v) throw new Error(`model parameter "${name}" is missing`);
    return v;
  }

  /** The state variable called `name`, or an Error naming it. */
  s(name: string): tf.Variable {
    const v = this.state.get(name);
    if (!v) throw new Error(`model state "${name}" is missing`);
    return v;
  }

  /** Applies and releases the recorded state updates. */
  applyUpdates(): void {
    for (const u of this.updates) {
      u.variable.assign(u.value);
      u.value.dispose();
    }
    this.updates.length = 0;
  }
}

/** Builds parameters with a seeded generator, so that every backend starts from the same weights. */
export class ParamBuilder {
  /** Trainable parameters in creation order. */
  readonly params: ParamMap = new Map();
  /** Non-trainable state in creation order. */
  readonly state: ParamMap = new Map();

  constructor(private readonly rng: Rng) {}

  #add(map: ParamMap, name: string, shape: number[], values: Float32Array, trainable: boolean): void {
    if (this.params.has(name) || this.state.has(name)) throw new Error(`duplicate parameter name "${name}"`);
    map.set(
      name,
      // in a tidy: tf.variable keeps its own copy, and the initial tensor must not outlive it
      tf.tidy(() =>
        tf.variable(tf.tensor(values, shape), trainable, name + "_" + Math.random().toString(36).slice(2))
      ),
    );
  }

  /** A parameter of normal draws with the given standard deviation. */
  normal(name: string, shape: number[], std: number): void {
    const n = shape.reduce((a, b) => a * b, 1);
    const v = this.rng.normalArray(n);
    for (let i = 0; i < n; i++) v[i] *= std;
    this.#add(this.params, name, shape, v, true);
  }

  /** A parameter filled with a constant (zeros for biases, ones for norm gains). */
  constant(name: string, shape: number[], value: number): void {
    const n = shape.reduce((a, b) => a * b, 1);
    this.#add(this.params, name, shape, new Float32Array(n).fill(value), true);
  }

  /** A non-trainable state tensor filled with a constant. */
  stateConstant(name: string, shape: number[], value: number): void {
    const n = shape.reduce((a, b) => a * b, 1);
    this.#add(this.state, name, shape, new Float32Array(n).fill(value), false);
  }
}
