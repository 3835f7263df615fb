/**
 * The `seed` preset: the notebook's U-Net (conv3×3 + BatchNorm + ReLU at 64/128/256 channels,
 * max-pool down, 2×2 transposed-conv up, skip concatenations, 1×1 output over the features and
 * the input) with its time embedding actually used: a sinusoidal embedding through an MLP, added
 * after every block's BatchNorm.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { ForwardContext, ParamBuilder } from "./context.ts";
import {
  batchNorm,
  conv,
  convTranspose,
  declareBatchNorm,
  declareConv,
  declareConvTranspose,
  declareDense,
  dense,
  silu,
  timestepEmbedding,
} from "./layers.ts";
import { inferenceFusion } from "./fusion.ts";
import type { LabelVocabulary } from "./labels.ts";

/** Configuration of the `seed` preset. */
export interface SeedConfig {
  /** Preset tag. */
  preset: "seed";
  /** Channels of the three resolution levels (the notebook: 64, 128, 256). */
  channels: [number, number, number];
  /** Width of the sinusoidal embedding and of the time MLP's hidden layer. */
  timeDim: number;
  /** The label vocabulary of a conditioned model (see `labels.ts`); absent: unconditional. */
  labels?: LabelVocabulary;
  /** Whether the network takes an augmentation's parameters (see `augment_conditioning.ts`); default no. */
  augmentConditioning?: boolean;
}

/** The notebook's sizes. */
export const DEFAULT_SEED_CONFIG: SeedConfig = { preset: "seed", channels: [64, 128, 256], timeDim: 64 };

const BLOCKS = ["enc1", "enc2", "bottleneck", "dec1", "dec2"] as const;

function blockChannels(c: SeedConfig): Record<(typeof BLOCKS)[number], [number, number]> {
  const [c1, c2, c3] = c.channels;
  return { enc1: [3, c1], enc2: [c1, c2], bottleneck: [c2, c3], dec1: [2 * c2, c2], dec2: [2 * c1, c1] };
}

/** Declares every parameter of the `seed` preset. */
export function declareSeedUNet(b: ParamBuilder, c: SeedConfig): void {
  const [c1, c2, c3] = c.channels, td = c.timeDim, hidden = 4 * td;
  declareDense(b, "time.fc1", td, hidden);
  for (const [name, [cin, cout]] of Object.entries(blockChannels(c))) {
    declareConv(b, `${name}.conv`, 3, cin, cout, false, false);
    declareBatchNorm(b, `${name}.bn`, cout);
    declareDense(b, `${name}.temb`, hidden, cout);
  }
  declareConvTranspose(b, "up1", c3, c2);
  declareConvTranspose(b, "up2", c2, c1);
  declareConv(b, "out", 1, c1 + 3, 3);
}

/**
 * Inference: BatchNorm with running statistics is an affine map per channel, folded into the conv
 * (w·s, bias β − mean·s with s = γ/√(var + ε)): one fused conv instead of a conv and four passes.
 */
function convBatchNormFolded(ctx: ForwardContext, name: string, x: tf.Tensor4D): tf.Tensor4D {
  const w = ctx.p(`${name}.conv.w`) as unknown as tf.Tensor4D;
  const [k, , cin, cout] = w.shape;
  const s = tf.mul(ctx.p(`${name}.bn.g`), tf.rsqrt(tf.add(ctx.s(`${name}.bn.running_var`), 1e-5)));
  const bias = tf.sub(ctx.p(`${name}.bn.b`), tf.mul(ctx.s(`${name}.bn.running_mean`), s));
  const y = tf.fused.conv2d({ x, filter: tf.mul(w, s) as tf.Tensor4D, strides: 1, pad: "same", bias });
  ctx.flops += 2 * x.shape[0] * y.shape[1] * y.shape[2] * k * k * cin * cout;
  return y;
}

function block(ctx: ForwardContext, name: string, x: tf.Tensor4D, temb: tf.Tensor2D): tf.Tensor4D {
  const h = !ctx.training && inferenceFusion() && !ctx.params.has(`${name}.conv.b`)
    ? convBatchNormFolded(ctx, name, x)
    : batchNorm(ctx, `${name}.bn`, conv(ctx, `${name}.conv`, x));
  const t = tf.reshape(dense(ctx, `${name}.temb`, temb), [x.shape[0], 1, 1, h.shape[3]]);
  return tf.relu(tf.add(h, t)) as tf.Tensor4D;
}

/** Width of the `seed` preset's time embedding (where label embeddings are added). */
export function seedTimeDim(c: SeedConfig): number {
  return 4 * c.timeDim;
}

/**
 * ε_θ(x_t, t) of the `seed` preset; `cond` ([B, 4·timeDim], the summed label embeddings) is added to
 * the time MLP's output before its SiLU.
 */
export function applySeedUNet(
  ctx: ForwardContext,
  c: SeedConfig,
  x: tf.Tensor4D,
  t: ArrayLike<number>,
  cond?: tf.Tensor2D,
): tf.Tensor4D {
  const bsz = x.shape[0];
  const emb0 = tf.tensor2d(timestepEmbedding(t, c.timeDim), [bsz, c.timeDim]);
  const tout = dense(ctx, "time.fc1", emb0);
  const temb = silu(cond ? tf.add(tout, cond) : tout) as tf.Tensor2D;
  const pool = (h: tf.Tensor4D) => tf.maxPool(h, 2, 2, "valid");
  const x1 = block(ctx, "enc1", x, temb);
  const x2 = block(ctx, "enc2", pool(x1), temb);
  const mid = block(ctx, "bottleneck", pool(x2), temb);
  const y1 = block(ctx, "dec1", tf.concat([convTranspose(ctx, "up1", mid), x2], 3), temb);
  const y2 = block(ctx, "dec2", tf.concat([convTranspose(ctx, "up2", y1), x1], 3), temb);
  return conv(ctx, "out", tf.concat([y2, x], 3));
}
