/**
 * Adam with bias correction, linear warm-up and cooldown and global-norm gradient clipping, fused
 * with the EMA of the weights: the moments and the average live in flat buffers (the parameters
 * back to back), and one step is one kernel on wasm (a handful of whole-buffer ops elsewhere),
 * guarded by the loss so that a non-finite loss changes nothing.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { ParamMap } from "../model/context.ts";
import { FUSED_ADAM_KERNEL, type FusedAdamAttrs, registerFusedAdamWasm } from "../backend/wasm/fused_adam.ts";
import type { Ema } from "./ema.ts";
import { FlatLayout } from "./flat.ts";

/** Adam hyper-parameters. */
export interface AdamOptions {
  /** Peak learning rate. */
  lr: number;
  /** Steps of linear warm-up from 0 to `lr` (0 = none). */
  warmup: number;
  /**
   * Steps of linear decay towards 0 at the end of training (0 = none, the default). Needs
   * `totalSteps`. A constant rate followed by a short decay can be resumed from any constant-rate
   * checkpoint, which a cosine schedule fixed at the start cannot.
   */
  cooldown?: number;
  /** The update number training ends at; the cooldown is its last `cooldown` updates. */
  totalSteps?: number;
  /** Clip the global gradient norm to this value (0 = off). */
  gradClip: number;
  /** β1 (default 0.9). */
  beta1?: number;
  /** β2 (default 0.999). */
  beta2?: number;
  /** ε (default 1e-8). */
  epsilon?: number;
}

/** What else one update does besides Adam. */
export interface ApplyOptions {
  /**
   * The step's loss: when it (or the gradient norm) is not finite, nothing is updated and the
   * status says so. Without it only the gradient norm guards the update.
   */
  loss?: tf.Tensor;
  /** An EMA of the same parameters to fold the new weights into, in the same kernel. */
  ema?: Ema;
}

/**
 * Adam's state: first and second moments (flat) and the step count.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import "@tensorflow/tfjs-backend-cpu";
 * import { Adam } from "./adam.ts";
 * await tf.setBackend("cpu");
 * const p = tf.variable(tf.tensor1d([1, -1]));
 * const adam = new Adam(new Map([["p", p]]), { lr: 0.1, warmup: 0, gradClip: 0 });
 * const g = tf.tensor1d([2, -3]);
 * const status = adam.apply({ p: g }); // [gradient norm, applied, loss]
 * const [norm, applied] = await status.data();
 * assert.ok(Math.abs(norm - Math.sqrt(13)) < 1e-6);
 * assert.equal(applied, 1);
 * const w = await p.data(); // the first step moves each weight by lr against its gradient's sign
 * assert.ok(Math.abs(w[0] - 0.9) < 1e-6);
 * assert.ok(Math.abs(w[1] + 0.9) < 1e-6);
 * tf.dispose([p, g, status]);
 * adam.dispose();
 * ```
 */
export class Adam {
  /** Where each parameter sits in the flat moments. */
  readonly layout: FlatLayout;
  /** Updates applied so far. */
  step = 0;
  #m: tf.Tensor1D;
  #v: tf.Tensor1D;
  #views: { m?: ParamMap; v?: ParamMap } = {};

  constructor(readonly params: ParamMap, readonly options: AdamOptions) {
    this.layout = new FlatLayout(params);
    this.#m = tf.zeros([this.layout.total]);
    this.#v = tf.zeros([this.layout.total]);
  }

  /** The flat first moments (owned by the optimizer; replaced by every update). */
  get flatM(): tf.Tensor1D {
    return this.#m;
  }

  /** The flat second moments (owned by the optimizer; replaced by every update). */
  get flatV(): tf.Tensor1D {
    return this.#v;
  }

  /** First moments by parameter name: copies owned by the optimizer, valid until the next update. */
  get m(): ParamMap {
    return this.#views.m ??= this.layout.toParamMap(this.#m);
  }

  /** Second moments by parameter name: copies owned by the optimizer, valid until the next update. */
  get v(): ParamMap {
    return this.#views.v ??= this.layout.toParamMap(this.#v);
  }

  /** Replaces both moments with flat arrays in {@linkcode layout} order. */
  setMoments(m: Float32Array, v: Float32Array): void {
    if (m.length !== this.layout.total || v.length !== this.layout.total) {
      throw new RangeError(`Adam moments need ${this.layout.total} values, got ${m.length} and ${v.length}`);
    }
    this.#replace(tf.tensor1d(m), tf.tensor1d(v));
  }

  #replace(m: tf.Tensor1D, v: tf.Tensor1D): void {
    if (m !== this.#m) this.#m.dispose();
    if (v !== this.#v) this.#v.dispose();
    this.#m = m;
    this.#v = v;
    for (const map of [this.#views.m, this.#views.v]) for (const t of map?.values() ?? []) t.dispose();
    this.#views = {};
  }

  /**
   * The learning rate of update number `step` (1-based): linear warm-up to `lr`, constant, then
   * (with a cooldown) linear decay that reaches `lr / cooldown` on the last update.
   */
  learningRate(step: number): number {
    const { lr, warmup, cooldown = 0, totalSteps = Infinity } = this.options;
    const up = warmup > 0 ? Math.min(1, step / warmup) : 1;
    const down = cooldown > 0 ? Math.min(1, Math.max(0, (totalSteps - step + 1) / cooldown)) : 1;
    return lr * Math.min(up, down);
  }

  /**
   * Applies update number `step + 1` from `grads` (by parameter name), clipped to the global norm,
   * and folds the new weights into `options.ema`; disposes nothing of the caller's. Returns
   * `[gradient norm before clipping, 1 if applied else 0, loss]` as a tensor the caller disposes,
   * computed without a readback. When the loss or the norm is not finite nothing changes, but
   * {@linkcode step} still counts the update: call {@linkcode rejectLast} after reading the status.
   */
  apply(grads: Record<string, tf.Tensor>, options: ApplyOptions = {}): tf.Tensor1D {
    this.step += 1;
    const names = this.layout.entries.map((e) => e.name);
    for (const n of names) if (!grads[n]) throw new Error(`Adam: no gradient for parameter "${n}"`);
    const b1 = this.options.beta1 ?? 0.9,
      b2 = this.options.beta2 ?? 0.999,
      eps = this.options.epsilon ?? 1e-8;
    const lr = this.learningRate(this.step);
    const c1 = 1 - b1 ** this.step, c2 = 1 - b2 ** this.step;
    const { ema } = options;
    const emaDecay = ema ? ema.decayAt(this.step) : 1;
    const clip = this.options.gradClip;
    const params = names.map((n) => this.params.get(n)!);
    const loss = options.loss ?? tf.scalar(0);
    try {
      if (tf.getBackend() === "wasm") {
        registerFusedAdamWasm();
        const inputs: tf.NamedTensorMap = { m: this.#m, v: this.#v, loss };
        names.forEach((n, i) => {
          inputs[`p${i}`] = params[i];
          inputs[`g${i}`] = grads[n];
        });
        if (ema) inputs.ema = ema.flat;
        const attrs: FusedAdamAttrs = {
          n: names.length,
          beta1: b1,
          beta2: b2,
          epsilon: eps,
          lrOverC1: lr / c1,
          c2,
          clip,
          emaDecay,
        };
        const out = tf.engine().runKernel(
          FUSED_ADAM_KERNEL,
          inputs,
          attrs as unknown as tf.NamedAttrMap,
        ) as tf.Tensor[];
        params.forEach((p, i) => p.assign(out[i]));
        tf.dispose(out.slice(0, names.length));
        const k = names.length;
        this.#replace(out[k] as tf.Tensor1D, out[k + 1] as tf.Tensor1D);
        if (ema) ema.setFlat(out[k + 2] as tf.Tensor1D);
        return out[out.length - 1] as tf.Tensor1D;
      }
      const r = tf.tidy(() => {
        const g0 = this.layout.flatten(names.map((n) => grads[n]));
        const p0 = this.layout.flatten(params);
        const norm = tf.sqrt(tf.sum(tf.square(g0)));
        // scale = clip / max(norm, clip): 1 below the threshold, shrinks the gradient above it.
        const g = clip > 0 ? tf.mul(g0, tf.div(clip, tf.maximum(norm, clip))) : g0;
        const m = tf.add(tf.mul(this.#m, b1), tf.mul(g, 1 - b1));
        const v = tf.add(tf.mul(this.#v, b2), tf.mul(tf.square(g), 1 - b2));
        const p = tf.sub(p0, tf.div(tf.mul(m, lr / c1), tf.add(tf.sqrt(tf.div(v, c2)), eps)));
        const ok = tf.logicalAnd(tf.isFinite(tf.reshape(loss, [])), tf.isFinite(norm));
        const pick = (a: tf.Tensor, b: tf.Tensor) => tf.where(ok, a, b) as tf.Tensor1D;
        const e = ema
          ? pick(tf.add(tf.mul(ema.flat, emaDecay), tf.mul(p, 1 - emaDecay)), ema.flat)
          : undefined;
        const status = tf.stack([norm, tf.cast(ok, "float32"), tf.reshape(loss, [])]) as tf.Tensor1D;
        return {
          ps: this.layout.unflatten(pick(p, p0)),
          m: pick(m, this.#m),
          v: pick(v, this.#v),
          e,
          status,
        };
      });
      params.forEach((p, i) => p.assign(r.ps[i]));
      tf.dispose(r.ps);
      this.#replace(r.m, r.v);
      if (ema && r.e) ema.setFlat(r.e);
      return r.status;
    } finally {
      if (!options.loss) loss.dispose();
    }
  }

  /** Takes back the step count of an update whose status said it was not applied. */
  rejectLast(): void {
    this.step -= 1;
  }

  /** Releases the moments. */
  dispose(): void {
    this.#replace(this.#m, this.#v);
    this.#m.dispose();
    this.#v.dispose();
  }
}
