/**
 * The `unet` preset: the DDPM / improved-DDPM U-Net scaled to 32×32 emojis. Residual blocks with
 * GroupNorm + SiLU and the timestep embedding added in every block, strided-conv down-sampling,
 * nearest + conv up-sampling, optional self-attention at 8×8, zero-initialised output conv.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { ForwardContext, ParamBuilder } from "./context.ts";
import type { LabelVocabulary } from "./labels.ts";
import {
  attention,
  conv,
  declareAttention,
  declareConv,
  declareDense,
  declareNorm,
  dense,
  groupNorm,
  silu,
  timestepEmbedding,
  upsampleNearest2x,
} from "./layers.ts";

/** Configuration of the `unet` preset. */
export interface UNetConfig {
  /** Preset tag. */
  preset: "unet";
  /** Base channel count C. */
  channels: number;
  /** Channel multiplier per resolution level (32×32, 16×16, 8×8, …). */
  channelMult: number[];
  /** Residual blocks per level on the way down (N + 1 on the way up). */
  blocks: number;
  /** Self-attention at the {@linkcode UNetConfig.attentionResolutions} (and in the middle). */
  attention: boolean;
  /**
   * Feature-map sides that get self-attention when `attention` is on (default `[8]`: 8×8 only). A
   * 64×64 model may ask for `[16, 8]`.
   */
  attentionResolutions?: number[];
  /** GroupNorm groups. */
  groups: number;
  /** The label vocabulary of a conditioned model (see `labels.ts`); absent: unconditional. */
  labels?: LabelVocabulary;
  /**
   * What the network predicts (default `"eps"`): `"eps"` the noise ε of the discrete schedule, `"edm"`
   * the network F of Karras et al.'s (2022) preconditioned denoiser D(x; σ) (see `edm.ts`).
   */
  parameterization?: Parameterization;
  /** Whether the network takes an augmentation's parameters (see `augment_conditioning.ts`); default no. */
  augmentConditioning?: boolean;
}

/**
 * What a `unet` predicts: the noise of the discrete schedule (`eps`, every shipped model) or the
 * network inside Karras et al.'s (2022) preconditioned denoiser (`edm`).
 */
export type Parameterization = "eps" | "edm";

/** The parameterisations of the `unet` preset. */
export const PARAMETERIZATIONS: readonly Parameterization[] = ["eps", "edm"];

/** The default `unet` preset: C = 32, multipliers (1, 2, 2), one block per level, attention at 8×8. */
export const DEFAULT_UNET_CONFIG: UNetConfig = {
  preset: "unet",
  channels: 32,
  channelMult: [1, 2, 2],
  blocks: 1,
  attention: true,
  groups: 8,
};

function declareResBlock(b: ParamBuilder, name: string, cin: number, cout: number, tdim: number): void {
  declareNorm(b, `${name}.norm1`, cin);
  declareConv(b, `${name}.conv1`, 3, cin, cout);
  declareDense(b, `${name}.temb`, tdim, cout);
  declareNorm(b, `${name}.norm2`, cout);
  declareConv(b, `${name}.conv2`, 3, cout, cout, true);
  if (cin !== cout) declareConv(b, `${name}.skip`, 1, cin, cout);
}

function resBlock(
  ctx: ForwardContext,
  name: string,
  x: tf.Tensor4D,
  temb: tf.Tensor2D,
  groups: number,
): tf.Tensor4D {
  const h1 = conv(ctx, `${name}.conv1`, groupNorm(ctx, `${name}.norm1`, x, groups, true));
  // the timestep embedding is added to the conv's output inside the norm (x + shift)
  const shift = dense(ctx, `${name}.temb`, temb);
  // dropout before the block's last conv, where DDPM puts it (active only while training)
  const h = conv(ctx, `${name}.conv2`, ctx.dropout(groupNorm(ctx, `${name}.norm2`, h1, groups, true, shift)));
  const skip = ctx.params.has(`${name}.skip.w`) ? conv(ctx, `${name}.skip`, x) : x;
  return tf.add(skip, h);
}

interface Plan {
  /** For each level: its channel count and whether attention runs there. */
  levels: { ch: number; attn: boolean }[];
}

function plan(c: UNetConfig, imageSize: number): Plan {
  return {
    levels: c.channelMult.map((m, i) => ({
      ch: c.channels * m,
      attn: c.attention && (c.attentionResolutions ?? [8]).includes(imageSize >> i),
    })),
  };
}

/** Declares every parameter of the `unet` preset. */
export function declareUNet(b: ParamBuilder, c: UNetConfig, imageSize: number): void {
  const C = c.channels, tdim = 4 * C;
  declareDense(b, "time.fc1", C, tdim);
  declareDense(b, "time.fc2", tdim, tdim);
  declareConv(b, "in", 3, 3, C);
  const { levels } = plan(c, imageSize);
  const skips: number[] = [C];
  let ch = C;
  levels.forEach((lv, i) => {
    for (let j = 0; j < c.blocks; j++) {
      declareResBlock(b, `down${i}.res${j}`, ch, lv.ch, tdim);
      ch = lv.ch;
      if (lv.attn) declareAttention(b, `down${i}.attn${j}`, ch);
      skips.push(ch);
    }
    if (i < levels.length - 1) {
      declareConv(b, `down${i}.downsample`, 3, ch, ch);
      skips.push(ch);
    }
  });
  declareResBlock(b, "mid.res0", ch, ch, tdim);
  if (c.attention) declareAttention(b, "mid.attn", ch);
  declareResBlock(b, "mid.res1", ch, ch, tdim);
  for (let i = levels.length - 1; i >= 0; i--) {
    const lv = levels[i];
    for (let j = 0; j <= c.blocks; j++) {
      declareResBlock(b, `up${i}.res${j}`, ch + skips.pop()!, lv.ch, tdim);
      ch = lv.ch;
      if (lv.attn) declareAttention(b, `up${i}.attn${j}`, ch);
    }
    if (i > 0) declareConv(b, `up${i}.upsample`, 3, ch, ch);
  }
  declareNorm(b, "out.norm", ch);
  declareConv(b, "out", 3, ch, 3, true);
}

/** Width of the `unet` preset's time embedding (where label embeddings are added). */
export function unetTimeDim(c: UNetConfig): number {
  return 4 * c.channels;
}

/**
 * ε_θ(x_t, t) of the `unet` preset; `cond` ([B, 4C], the summed label embeddings) is added to the
 * time MLP's output before its last SiLU.
 */
export function applyUNet(
  ctx: ForwardContext,
  c: UNetConfig,
  x: tf.Tensor4D,
  t: ArrayLike<number>,
  cond?: tf.Tensor2D,
): tf.Tensor4D {
  const C = c.channels, bsz = x.shape[0];
  const emb0 = tf.tensor2d(timestepEmbedding(t, C), [bsz, C]);
  const tout = dense(ctx, "time.fc2", silu(dense(ctx, "time.fc1", emb0)) as tf.Tensor2D);
  const temb = silu(cond ? tf.add(tout, cond) : tout) as tf.Tensor2D;
  const { levels } = plan(c, x.shape[1]);
  let h = conv(ctx, "in", x);
  const hs: tf.Tensor4D[] = [h];
  levels.forEach((lv, i) => {
    for (let j = 0; j < c.blocks; j++) {
      h = resBlock(ctx, `down${i}.res${j}`, h, temb, c.groups);
      if (lv.attn) h = attention(ctx, `down${i}.attn${j}`, h, c.groups);
      hs.push(h);
    }
    if (i < levels.length - 1) {
      h = conv(ctx, `down${i}.downsample`, h, 2);
      hs.push(h);
    }
  });
  h = resBlock(ctx, "mid.res0", h, temb, c.groups);
  if (c.attention) h = attention(ctx, "mid.attn", h, c.groups);
  h = resBlock(ctx, "mid.res1", h, temb, c.groups);
  for (let i = levels.length - 1; i >= 0; i--) {
    for (let j = 0; j <= c.blocks; j++) {
      h = resBlock(ctx, `up${i}.res${j}`, tf.concat([h, hs.pop()!], 3), temb, c.groups);
      if (levels[i].attn) h = attention(ctx, `up${i}.attn${j}`, h, c.groups);
    }
    if (i > 0) h = conv(ctx, `up${i}.upsample`, upsampleNearest2x(h, ctx.training));
  }
  return conv(ctx, "out", groupNorm(ctx, "out.norm", h, c.groups, true));
}
