/**
 * A noise-prediction model ε_θ(x_t, t): a preset's parameters plus its forward function.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { Rng } from "../core/rng.ts";
import { ForwardContext, ParamBuilder, type ParamMap } from "./context.ts";
import { type LabelVocabulary, validateVocabulary } from "./labels.ts";
import {
  applySeedUNet,
  declareSeedUNet,
  DEFAULT_SEED_CONFIG,
  type SeedConfig,
  seedTimeDim,
} from "./seed_unet.ts";
import {
  applyUNet,
  declareUNet,
  DEFAULT_UNET_CONFIG,
  type Parameterization,
  PARAMETERIZATIONS,
  type UNetConfig,
  unetTimeDim,
} from "./unet.ts";
import { AUGMENT_DIM, augmentEmbedding, declareAugmentConditioning } from "./augment_conditioning.ts";

export type { Parameterization, SeedConfig, UNetConfig };
export { DEFAULT_SEED_CONFIG, DEFAULT_UNET_CONFIG, PARAMETERIZATIONS };

/** Any model preset's configuration. */
export type ModelConfig = UNetConfig | SeedConfig;

/** The preset names. */
export const MODEL_PRESETS: readonly ModelConfig["preset"][] = ["unet", "seed"];

/** The image side the models are built for. */
export const IMAGE_SIZE = 32;

/** Returns a preset's default configuration, with overrides applied and validated. */
export function modelConfig(
  preset: ModelConfig["preset"] = "unet",
  overrides: Partial<UNetConfig> = {},
): ModelConfig {
  if (preset === "seed") return structuredClone(DEFAULT_SEED_CONFIG);
  if (preset !== "unet") {
    throw new RangeError(`unknown model preset "${preset}": choose one of ${MODEL_PRESETS.join(", ")}`);
  }
  const c: UNetConfig = { ...structuredClone(DEFAULT_UNET_CONFIG), ...overrides, preset: "unet" };
  validateModelConfig(c);
  return c;
}

/** The largest `unet` base width, residual blocks per level and channel multiplier a config may ask for. */
export const MAX_UNET_CHANNELS = 1024, MAX_UNET_BLOCKS = 8, MAX_UNET_MULT = 16;

/** Throws a RangeError naming the first invalid field of a model configuration. */
export function validateModelConfig(c: ModelConfig): void {
  if (c.labels !== undefined) validateVocabulary(c.labels);
  if (c.augmentConditioning !== undefined && typeof c.augmentConditioning !== "boolean") {
    throw new RangeError(
      `augmentConditioning must be true or false, got ${JSON.stringify(c.augmentConditioning)}`,
    );
  }
  if (c.preset === "seed") {
    if ((c as unknown as UNetConfig).parameterization !== undefined) {
      throw new RangeError(
        "parameterization is an option of the unet preset: the seed preset predicts the noise ε",
      );
    }
    if (
      !Array.isArray(c.channels) || c.channels.length !== 3 ||
      !c.channels.every((n) => Number.isInteger(n) && n > 0)
    ) {
      throw new RangeError(
        `seed channels must be three positive integers, got ${JSON.stringify(c.channels)}`,
      );
    }
    if (!Number.isInteger(c.timeDim) || c.timeDim < 2 || c.timeDim % 2) {
      throw new RangeError(`seed timeDim must be an even integer >= 2, got ${c.timeDim}`);
    }
    return;
  }
  if (c.preset !== "unet") throw new RangeError(`unknown model preset "${(c as ModelConfig).preset}"`);
  if (!Number.isInteger(c.channels) || c.channels < 1 || c.channels > MAX_UNET_CHANNELS) {
    throw new RangeError(`channels must be an integer in [1, ${MAX_UNET_CHANNELS}], got ${c.channels}`);
  }
  if (!Number.isInteger(c.blocks) || c.blocks < 1 || c.blocks > MAX_UNET_BLOCKS) {
    throw new RangeError(`blocks must be an integer in [1, ${MAX_UNET_BLOCKS}], got ${c.blocks}`);
  }
  if (!Array.isArray(c.channelMult) || c.channelMult.length < 1 || c.channelMult.length > 4) {
    throw new RangeError(`channelMult must list 1 to 4 multipliers, got ${JSON.stringify(c.channelMult)}`);
  }
  for (const m of c.channelMult) {
    if (!Number.isInteger(m) || m < 1 || m > MAX_UNET_MULT) {
      throw new RangeError(`channel multipliers must be integers in [1, ${MAX_UNET_MULT}], got ${m}`);
    }
    if ((c.channels * m) % c.groups !== 0) {
      throw new RangeError(`channels ${c.channels}×${m} must be divisible by groups ${c.groups}`);
    }
  }
  if (
    c.attentionResolutions !== undefined &&
    (!Array.isArray(c.attentionResolutions) ||
      !c.attentionResolutions.every((r) => Number.isInteger(r) && r >= 1))
  ) {
    throw new RangeError(
      `attentionResolutions must list feature-map sides (positive integers), got ${
        JSON.stringify(c.attentionResolutions)
      }`,
    );
  }
  if (c.channels % 2) {
    throw new RangeError(`channels must be even (timestep embedding width), got ${c.channels}`);
  }
  if (c.parameterization !== undefined && !PARAMETERIZATIONS.includes(c.parameterization)) {
    throw new RangeError(
      `parameterization must be one of ${PARAMETERIZATIONS.join(", ")}, got ${
        JSON.stringify(c.parameterization)
      }`,
    );
  }
}

/**
 * What a model's network predicts: `"edm"` for a `unet` with EDM preconditioning, else `"eps"` (the
 * noise of the discrete schedule, every `seed` model and every checkpoint from before the option).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { modelConfig, parameterizationOf } from "./model.ts";
 * assert.equal(parameterizationOf(modelConfig("unet")), "eps");
 * assert.equal(parameterizationOf(modelConfig("unet", { parameterization: "edm" })), "edm");
 * assert.equal(parameterizationOf(modelConfig("seed")), "eps");
 * ```
 */
export function parameterizationOf(c: ModelConfig): Parameterization {
  return c.preset === "unet" ? c.parameterization ?? "eps" : "eps";
}

/**
 * A model's weights and its forward function. Parameters are named and enumerable, so checkpoints
 * and the EMA copy address them by name.
 */
export class DiffusionModel {
  /** Trainable parameters by name, in a fixed order. */
  readonly params: ParamMap;
  /** Non-trainable state (BatchNorm running statistics) by name. */
  readonly state: ParamMap;

  /** Builds a model with weights drawn from `seed` (identical on every backend). */
  constructor(readonly config: ModelConfig, seed: number = 0, readonly imageSize: number = IMAGE_SIZE) {
    validateModelConfig(config);
    if (imageSize % (1 << (config.preset === "unet" ? config.channelMult.length - 1 : 2)) !== 0) {
      throw new RangeError(`image size ${imageSize} does not divide by the model's down-sampling`);
    }
    const b = new ParamBuilder(new Rng(seed));
    if (config.preset === "unet") declareUNet(b, config, imageSize);
    else declareSeedUNet(b, config);
    // declared last, so that an unconditional model's weights are drawn exactly as before
    for (const [field, values] of Object.entries(config.labels ?? {})) {
      b.normal(`label.${field}`, [values.length, this.timeDim], 1);
    }
    // after the labels, and zero-initialised (no draw): every other weight is as without it
    if (config.augmentConditioning) declareAugmentConditioning(b, this.timeDim);
    this.params = b.params;
    this.state = b.state;
  }

  /** The label vocabulary (field → values) of a conditioned model; undefined for an unconditional one. */
  get labels(): LabelVocabulary | undefined {
    return this.config.labels;
  }

  /** Width of the time embedding, where the label embeddings are added. */
  get timeDim(): number {
    return this.config.preset === "unet" ? unetTimeDim(this.config) : seedTimeDim(this.config);
  }

  /** Number of trainable scalars. */
  get parameterCount(): number {
    let n = 0;
    for (const v of this.params.values()) n += v.size;
    return n;
  }

  /**
   * Runs ε_θ(x, t, labels) in a context (training mode records BatchNorm updates in `ctx.updates`).
   * `labels` holds, for each field of the vocabulary in order, one value index per example (−1: the
   * null entry); undefined means every field null, the unconditioned network. `augment` holds a model
   * with `augmentConditioning` its augmentation parameters (`AUGMENT_DIM` per example, see
   * `augment_conditioning.ts`); undefined means none (zeros), which adds nothing. For an `edm` model
   * `t` is the noise input c_noise(σ) and the result is its F (see `edm.ts`). Not wrapped in tidy:
   * callers own the intermediate tensors (training needs them for gradients).
   */
  forward(
    ctx: ForwardContext,
    x: tf.Tensor4D,
    t: ArrayLike<number>,
    labels?: readonly ArrayLike<number>[],
    augment?: ArrayLike<number>,
  ): tf.Tensor4D {
    this.checkInput(x, t);
    let cond = labels ? this.labelEmbedding(ctx, labels, x.shape[0]) : undefined;
    if (augment !== undefined && !this.config.augmentConditioning) {
      throw new RangeError("augmentation parameters given to a model without augmentConditioning");
    }
    // training keeps the layer in the graph (zeros in: its gradient is zero), like an all-null label
    if (this.config.augmentConditioning && (augment !== undefined || ctx.training)) {
      const b = x.shape[0];
      const e = augmentEmbedding(ctx, augment ?? new Float32Array(b * AUGMENT_DIM), b);
      cond = cond ? tf.add(cond, e) as tf.Tensor2D : e;
    }
    return this.config.preset === "unet"
      ? applyUNet(ctx, this.config, x, t, cond)
      : applySeedUNet(ctx, this.config, x, t, cond);
  }

  /**
   * The summed label embeddings [B, timeDim] (a one-hot row per example times each field's table; the
   * null index −1 is an all-zero row), or undefined when every label is null.
   */
  protected labelEmbedding(
    ctx: ForwardContext,
    labels: readonly ArrayLike<number>[],
    batch: number,
  ): tf.Tensor2D | undefined {
    const vocab = this.config.labels;
    if (!vocab) throw new RangeError("labels given to an unconditional model");
    const fields = Object.entries(vocab);
    if (labels.length !== fields.length) {
      throw new RangeError(`need label indices for ${fields.length} fields, got ${labels.length}`);
    }
    let sum: tf.Tensor2D | undefined;
    fields.forEach(([field, values], f) => {
      const idx = labels[f], V = values.length;
      if (idx.length !== batch) {
        throw new RangeError(`need one ${field} label per example: ${idx.length} for ${batch}`);
      }
      const oneHot = new Float32Array(batch * V);
      let any = false;
      for (let i = 0; i < batch; i++) {
        const k = idx[i];
        if (!(Number.isInteger(k) && k >= -1 && k < V)) {
          throw new RangeError(`${field} label index must be an integer in [-1, ${V - 1}], got ${k}`);
        }
        if (k >= 0) {
          oneHot[i * V + k] = 1;
          any = true;
        }
      }
      // training keeps an all-null field in the graph, so that its table gets its (zero) gradient
      if (!any && !ctx.training) return;
      const e = tf.matMul(
        tf.tensor2d(oneHot, [batch, V]),
        ctx.p(`label.${field}`) as tf.Tensor2D,
      ) as tf.Tensor2D;
      ctx.flops += 2 * batch * V * this.timeDim;
      sum = sum ? tf.add(sum, e) as tf.Tensor2D : e;
    });
    return sum;
  }

  /** Throws a RangeError unless `x` is [B, size, size, 3] with one timestep per example. */
  protected checkInput(x: tf.Tensor4D, t: ArrayLike<number>): void {
    if (x.rank !== 4 || x.shape[1] !== this.imageSize || x.shape[2] !== this.imageSize || x.shape[3] !== 3) {
      throw new RangeError(`model input must be [B,${this.imageSize},${this.imageSize},3], got [${x.shape}]`);
    }
    if (t.length !== x.shape[0]) {
      throw new RangeError(`need one timestep per example: ${t.length} for batch ${x.shape[0]}`);
    }
  }

  /**
   * Predicts the noise in inference mode (running BatchNorm statistics), with optional label indices
   * as {@linkcode DiffusionModel.forward} takes them and no augmentation; the result is the caller's.
   * For an `edm` model this is its network F at noise input `t`: the samplers get ε of either kind
   * from `predictNoise` (`sample/guidance.ts`).
   */
  predict(
    x: tf.Tensor4D,
    t: ArrayLike<number>,
    params: ParamMap = this.params,
    labels?: readonly ArrayLike<number>[],
  ): tf.Tensor4D {
    return tf.tidy(() => this.forward(new ForwardContext(params, this.state, false), x, t, labels));
  }

  /** Forward FLOPs (2 × multiply-adds of convs and matmuls) per 32×32 image. */
  flopsPerImage(): number {
    return tf.tidy(() => {
      const ctx = new ForwardContext(this.params, this.state, false);
      this.forward(ctx, tf.zeros([1, this.imageSize, this.imageSize, 3]), [0]);
      return ctx.flops;
    });
  }

  /** Releases every variable. */
  dispose(): void {
    for (const v of this.params.values()) v.dispose();
    for (const v of this.state.values()) v.dispose();
  }
}
