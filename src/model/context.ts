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
import type { Rng } from "../rng.ts";

/** Named, enumerable model parameters (for checkpoints and EMA). */
export type ParamMap = Map<string, tf.Variable>;

/** A pending assignment made by a forward pass in training mode (BatchNorm running statistics). */
export interface StateUpdate {
  /** The state variable to overwrite. */
  variable: tf.Variable;
  /** Its new value, kept alive until assigned. */
  value: tf.Tensor;
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
   */
  constructor(readonly params: ParamMap, readonly state: ParamMap, readonly training: boolean) {}

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
