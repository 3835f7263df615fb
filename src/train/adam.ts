/**
 * Adam with bias correction, linear warm-up and global-norm gradient clipping, written on named
 * parameters so its moments can be checkpointed and restored exactly.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { ParamMap } from "../model/context.ts";

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

/**
 * Adds scalars pairwise. Not `tf.addN`: on webgpu an AddN with more inputs than the adapter's
 * storage buffers per shader stage (8 on llvmpipe) fails validation and silently drops the whole
 * queued batch of work, so every later update in the step came out as zeros.
 */
function sumAll(terms: tf.Tensor[]): tf.Tensor {
  let level = terms;
  while (level.length > 1) {
    const next: tf.Tensor[] = [];
    for (let i = 0; i < level.length; i += 2) {
      next.push(i + 1 < level.length ? tf.add(level[i], level[i + 1]) : level[i]);
    }
    level = next;
  }
  return level[0] ?? tf.scalar(0);
}

/** Adam's state: first and second moments by parameter name, and the step count. */
export class Adam {
  /** First moments m by parameter name. */
  readonly m: ParamMap = new Map();
  /** Second moments v by parameter name. */
  readonly v: ParamMap = new Map();
  /** Updates applied so far. */
  step = 0;

  constructor(readonly params: ParamMap, readonly options: AdamOptions) {
    for (const [name, p] of params) {
      this.m.set(name, tf.tidy(() => tf.variable(tf.zerosLike(p), false)));
      this.v.set(name, tf.tidy(() => tf.variable(tf.zerosLike(p), false)));
    }
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
   * Applies one update from `grads` (by parameter name) and disposes nothing of the caller's.
   * Returns the global gradient norm as a scalar tensor (caller disposes), computed on device so
   * the step needs no readback.
   */
  apply(grads: Record<string, tf.Tensor>): tf.Scalar {
    this.step += 1;
    const b1 = this.options.beta1 ?? 0.9,
      b2 = this.options.beta2 ?? 0.999,
      eps = this.options.epsilon ?? 1e-8;
    const lr = this.learningRate(this.step);
    const c1 = 1 - b1 ** this.step, c2 = 1 - b2 ** this.step;
    return tf.tidy(() => {
      const names = [...this.params.keys()];
      const norm = tf.sqrt(sumAll(names.map((n) => tf.sum(tf.square(grads[n]))))) as tf.Scalar;
      const clip = this.options.gradClip;
      // scale = clip / max(norm, clip): 1 below the threshold, shrinks the gradient above it.
      const scale = clip > 0 ? tf.div(clip, tf.maximum(norm, clip)) : null;
      for (const n of names) {
        const g = scale ? tf.mul(grads[n], scale) : grads[n];
        const m = this.m.get(n)!, v = this.v.get(n)!, p = this.params.get(n)!;
        const mNew = tf.add(tf.mul(m, b1), tf.mul(g, 1 - b1));
        const vNew = tf.add(tf.mul(v, b2), tf.mul(tf.square(g), 1 - b2));
        m.assign(mNew);
        v.assign(vNew);
        const update = tf.div(tf.mul(mNew, lr / c1), tf.add(tf.sqrt(tf.div(vNew, c2)), eps));
        p.assign(tf.sub(p, update));
      }
      return tf.keep(norm);
    });
  }

  /** Releases the moment variables. */
  dispose(): void {
    for (const t of [...this.m.values(), ...this.v.values()]) t.dispose();
  }
}
