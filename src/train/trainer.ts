/**
 * The training loop: L_simple = ‖ε − ε_θ(√ᾱ_t·x0 + √(1−ᾱ_t)·ε, t)‖² with Adam, gradient clipping,
 * warm-up and an EMA of the weights; resumable exactly from a checkpoint. An `edm` model trains its
 * preconditioned denoiser instead: λ(σ)·‖D(x0 + σ·ε; σ) − x0‖² with ln σ ~ N(−1.2, 1.2²) (see
 * `model/edm.ts`). With `augment` > 0 the batch goes through non-leaking augmentation (see `augment.ts`).
 *
 * @module
 */
import { minSnrWeight } from "./loss_weight.ts";
import * as tf from "@tensorflow/tfjs-core";
import { ForwardContext } from "../model/context.ts";
import { DiffusionModel, parameterizationOf } from "../model/model.ts";
import { EDM_P_MEAN, EDM_P_STD, edmLossWeight } from "../model/edm.ts";
import { augmentBatch } from "./augment.ts";
import { batchGradients, batchLoss, sliceBatch, type TrainBatch } from "./batch_loss.ts";
import { DataParallelError, splitSizes } from "../backend/parallel_plan.ts";
import { combineGradients, dataParallelRefusal, GradientWorkers, type WorkerInit } from "./data_parallel.ts";
import { Rng } from "../core/rng.ts";
import { type DiffusionSchedule, makeSchedule } from "../core/schedule.ts";
import {
  type Checkpoint,
  type CheckpointMeta,
  DATA_MEAN_TENSOR,
  type StoredTensor,
} from "../checkpoint/format.ts";
import { assignTensors } from "../model/from_checkpoint.ts";
import type { DatasetSampler, EmojiDataset, SamplerState } from "../dataset/mod.ts";
import { meanImage } from "../sample/prior.ts";
import { Adam } from "./adam.ts";
import { Ema } from "./ema.ts";
import { emaTensorPrefix } from "../checkpoint/ema_choice.ts";
import { flatFromCheckpoint, flatToCheckpoint } from "./flat.ts";
import { AUGMENT_DIM } from "../model/augment_conditioning.ts";
import { buildVocabulary, imageLabelIndices, LabelError, parseConditionFields } from "../model/labels.ts";

import { DEFAULT_COND_DROP, type TrainConfig, validateTrainConfig } from "./config_schema.ts";
export { DEFAULT_COND_DROP, type TrainConfig, validateTrainConfig };

/**
 * The configuration with the label vocabulary of `config.condition` built from the dataset's manifest
 * and put into the model config; unchanged when the run is unconditional or the model already has one
 * (a resumed or fine-tuned run keeps its checkpoint's vocabulary).
 *
 * @throws {LabelError} for a field the dataset has no values of, or a dataset without a manifest.
 */
export function withVocabulary(config: TrainConfig, dataset: EmojiDataset): TrainConfig {
  if (!config.condition?.length || config.model.labels) return config;
  if (!dataset.manifest) throw new LabelError("condition needs a prepared dataset with a manifest");
  const fields = parseConditionFields(config.condition.join(","));
  return { ...config, model: { ...config.model, labels: buildVocabulary(dataset.manifest.images, fields) } };
}

/**
 * The configuration with `augmentConditioning` set in the model config when the run augments
 * (`augment` > 0); unchanged otherwise, and when the model already has it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULT_TRAIN_CONFIG } from "./run.ts";
 * import { withAugmentConditioning } from "./trainer.ts";
 * const plain = { ...DEFAULT_TRAIN_CONFIG, augment: 0 };
 * assert.equal(withAugmentConditioning(plain), plain);
 * const c = withAugmentConditioning({ ...DEFAULT_TRAIN_CONFIG, augment: 0.15 });
 * assert.equal(c.model.augmentConditioning, true);
 * ```
 */
export function withAugmentConditioning(config: TrainConfig): TrainConfig {
  if (!((config.augment ?? 0) > 0) || config.model.augmentConditioning) return config;
  return { ...config, model: { ...config.model, augmentConditioning: true } };
}

/** What one step reports. */
export interface StepReport {
  /** Optimizer steps done. */
  step: number;
  /** This batch's loss. */
  loss: number;
  /** Global gradient norm before clipping. */
  gradNorm: number;
  /** Learning rate used. */
  lr: number;
}

/**
 * A loss that is not a finite number: a runtime failure. The update was not applied; `trainRun`'s
 * message names the last good checkpoint.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { NonFiniteLossError } from "./trainer.ts";
 * assert.equal(new NonFiniteLossError("loss is NaN at step 3").name, "NonFiniteLossError");
 * ```
 */
export class NonFiniteLossError extends Error {
  /** Always `"NonFiniteLossError"`. */
  override name = "NonFiniteLossError";
}

function readTensors(
  prefix: string,
  map: Map<string, tf.Variable>,
  out: Map<string, StoredTensor>,
  data: Float32Array[],
) {
  let i = 0;
  for (const [name, v] of map) out.set(`${prefix}/${name}`, { shape: v.shape.slice(), data: data[i++] });
}

/** A step's loss and gradients by parameter name, and the forward context whose updates follow them. */
interface StepGradients {
  value: tf.Scalar;
  grads: Record<string, tf.Tensor>;
  ctx: ForwardContext;
}

/** Model, optimizer, EMA and random streams of one run. */
export class Trainer {
  /** The model being trained. */
  readonly model: DiffusionModel;
  /** The schedule. */
  readonly schedule: DiffusionSchedule;
  /** The optimizer. */
  readonly adam: Adam;
  /** The weight average used for sampling. */
  readonly ema: Ema;
  /** The averages of `config.emaExtra`, in its order. */
  readonly emaExtra: Ema[];
  /** Stream of t and ε. */
  readonly noiseRng: Rng;
  /** Stream of batches and flips. */
  readonly dataRng: Rng;
  /** Stream of dropout masks. */
  readonly dropoutRng: Rng;
  /** Stream of label drops (classifier-free guidance training). */
  readonly condDropRng: Rng;
  /** Stream of the non-leaking augmentation's draws (used only when `augment` > 0). */
  readonly augmentRng: Rng;
  /** The run's configuration, with the label vocabulary in `model.labels` when it conditions. */
  readonly config: TrainConfig;
  /** Each dataset image's label indices ([field][image]), or null for an unconditional model. */
  readonly labelIndices: Int32Array[] | null;
  /** The batch sampler. */
  readonly sampler: DatasetSampler;
  /**
   * The mean training image (flips included; of the plain images when the run augments, since
   * sampling asks for no augmentation): where sampling from this model starts.
   */
  readonly dataMean: Float32Array;
  #workers: GradientWorkers | null = null;

  constructor(config: TrainConfig, readonly dataset: EmojiDataset) {
    validateTrainConfig(config);
    config = withAugmentConditioning(withVocabulary(config, dataset));
    this.config = config;
    this.schedule = makeSchedule(config.schedule, config.T);
    this.model = new DiffusionModel(config.model, config.seed, dataset.size);
    this.adam = new Adam(this.model.params, {
      lr: config.lr,
      warmup: config.warmup,
      cooldown: config.cooldown ?? 0,
      totalSteps: config.steps,
      gradClip: config.gradClip,
    });
    this.ema = new Ema(this.model.params, config.ema);
    this.emaExtra = (config.emaExtra ?? []).map((d) => new Ema(this.model.params, d));
    this.noiseRng = new Rng(config.seed + 1);
    this.dataRng = new Rng(config.seed + 2);
    this.dropoutRng = new Rng(config.seed + 3);
    this.condDropRng = new Rng(config.seed + 4);
    this.augmentRng = new Rng(config.seed + 5);
    const vocab = this.model.labels;
    this.labelIndices = vocab
      ? (dataset.manifest
        ? imageLabelIndices(dataset.manifest.images, vocab)
        : Object.values(vocab).map(() => new Int32Array(dataset.count).fill(-1)))
      : null;
    // non-leaking augmentation replaces the plain flips, which would teach mirrored images as data
    const augments = (config.augment ?? 0) > 0;
    this.sampler = dataset.sampler(this.dataRng, config.batch, augments ? { flip: false } : {});
    this.dataMean = meanImage(dataset.images, dataset.count, dataset.size, dataset.size, !augments);
  }

  /** Optimizer steps done. */
  get step(): number {
    return this.adam.step;
  }

  /**
   * One optimizer step with one readback: forward and backward, then the fused update (Adam, clipping,
   * EMA) guarded on the device by the loss, then the loss, gradient norm and guard read back together.
   * A NaN/Inf loss (or gradient norm) throws {@linkcode NonFiniteLossError} and leaves the weights,
   * moments, EMA, state and step as they were.
   *
   * @throws {NonFiniteLossError} when the loss or the gradient norm is NaN or infinite.
   */
  async trainStep(): Promise<StepReport> {
    const b = this.drawBatch();
    const { value, grads, ctx } = this.#workers ? await this.#splitGradients(b) : this.#wholeGradients(b);
    let status: tf.Tensor;
    try {
      status = this.adam.apply(grads, { loss: value, ema: this.ema });
    } finally {
      tf.dispose(grads);
      value.dispose();
    }
    const [gradNorm, applied, loss] = await status.data();
    status.dispose();
    if (!applied) {
      this.adam.rejectLast();
      for (const u of ctx.updates) u.value.dispose();
      ctx.updates.length = 0;
      const what = Number.isFinite(loss) ? `the gradient norm became ${gradNorm}` : `loss became ${loss}`;
      throw new NonFiniteLossError(`${what} at step ${this.step + 1}; the update was not applied`);
    }
    ctx.applyUpdates();
    if (this.emaExtra.length) {
      // the weights flattened once for every extra average
      const flat = this.ema.layout.flatten([...this.model.params.values()]);
      for (const e of this.emaExtra) e.update(this.step, flat);
      flat.dispose();
    }
    return { step: this.step, loss, gradNorm, lr: this.adam.learningRate(this.step) };
  }

  /**
   * The draws of the next batch: images (data stream), labels (cond-drop stream), augmentation, then
   * t or σ and ε (noise stream), in that order; each stream advances as a step advances it.
   */
  drawBatch(): TrainBatch {
    const { batch } = this.config;
    const size = this.dataset.size;
    // an unconditional run needs no image indices (nextBatchArray is the same draws without them)
    const { data: x0, indices } = this.labelIndices
      ? this.sampler.nextBatchWithInfo()
      : { data: this.sampler.nextBatchArray(), indices: [] };
    const labels = this.batchLabels(indices);
    const p = this.config.augment ?? 0;
    const augment = p > 0
      ? augmentBatch(x0, size, this.augmentRng, p).parameters
      : this.model.config.augmentConditioning
      ? new Float32Array(batch * AUGMENT_DIM)
      : undefined;
    const edm = parameterizationOf(this.model.config) === "edm";
    // ε-models draw a timestep per example, edm models a σ (ln σ ~ N(P_mean, P_std²)); then ε
    const t = edm ? null : Int32Array.from({ length: batch }, () => this.noiseRng.int(this.schedule.T));
    const sigma = edm
      ? Float64Array.from({ length: batch }, () => Math.exp(EDM_P_MEAN + EDM_P_STD * this.noiseRng.normal()))
      : null;
    const eps = this.noiseRng.normalArray(x0.length);
    const gamma = this.config.minSnrGamma;
    const weights = sigma
      ? Float32Array.from(sigma, (s) => edmLossWeight(s))
      : gamma === undefined
      ? null
      : Float32Array.from(t!, (ti) => minSnrWeight(this.schedule, ti, gamma));
    return { n: batch, size, x0, eps, t, sigma, weights, labels, augment };
  }

  /**
   * Splits each batch from now on between this thread and `count` workers, each with its own tfjs on
   * `backend` ({@linkcode GradientWorkers}); 0 goes back to one thread. The run's results then agree
   * with a run without workers to within float rounding.
   *
   * @throws {DataParallelError} for a model with BatchNorm or a run with dropout (their draws and
   * statistics belong to the whole batch), or a worker that does not start.
   */
  async startWorkers(
    count: number,
    backend: WorkerInit["backend"],
    options: { threads?: number; tempDir?: string } = {},
  ): Promise<void> {
    this.#workers?.close();
    this.#workers = null;
    if (count <= 0) return;
    const refusal = dataParallelRefusal(this.model.config, this.config.dropout ?? 0);
    if (refusal) throw new DataParallelError(refusal, true);
    this.#workers = await GradientWorkers.start(count, {
      backend,
      threads: options.threads ?? 1,
      ...(options.tempDir !== undefined ? { tempDir: options.tempDir } : {}),
      model: this.model.config,
      seed: this.config.seed,
      imageSize: this.dataset.size,
      schedule: { kind: this.config.schedule, T: this.config.T },
    });
  }

  /** Workers besides this thread (0: none). */
  get workers(): number {
    return this.#workers?.size ?? 0;
  }

  /** The batch's loss and gradients (by parameter name) on this thread, in the context that drew them. */
  #wholeGradients(b: TrainBatch): StepGradients {
    let ctx!: ForwardContext;
    const { value, grads } = tf.variableGrads(() => {
      ctx = new ForwardContext(this.model.params, this.model.state, true, {
        rate: this.config.dropout ?? 0,
        rng: this.dropoutRng,
      });
      return batchLoss(this.model, this.schedule, ctx, b);
    }, [...this.model.params.values()]);
    // grads are keyed by variable name; map them back to parameter names
    const byName: Record<string, tf.Tensor> = {};
    for (const [name, v] of this.model.params) byName[name] = grads[v.name];
    return { value, grads: byName, ctx };
  }

  /**
   * The batch's loss and gradients from its parts: the first here, the others on the workers at the
   * same time, combined by {@linkcode combineGradients}. Nothing to update afterwards: the workers run
   * only models without BatchNorm.
   */
  async #splitGradients(b: TrainBatch): Promise<StepGradients> {
    const sizes = splitSizes(b.n, this.#workers!.size + 1);
    const parts: TrainBatch[] = [];
    let from = 0;
    for (const n of sizes) parts.push(sliceBatch(b, from, from += n));
    const layout = this.adam.layout;
    const flat = layout.flatten([...this.model.params.values()]);
    const weights = await flat.data() as Float32Array;
    flat.dispose();
    const remote = this.#workers!.gradients(weights, parts.slice(1));
    remote.catch(() => {}); // awaited below; a failure here must not go unhandled meanwhile
    const ctx = new ForwardContext(this.model.params, this.model.state, true);
    const local = await batchGradients(this.model, this.schedule, ctx, parts[0]);
    const g = combineGradients([local, ...await remote], sizes);
    const grads: Record<string, tf.Tensor> = {};
    layout.entries.forEach((e, i) => grads[e.name] = tf.tensor(layout.view(g.grads, i), e.shape));
    return { value: tf.scalar(g.loss), grads, ctx };
  }

  /**
   * The label indices of a batch of dataset images ([field][example]), each dropped to −1 (null) with
   * probability `condDrop`: one draw of the cond-drop stream per example and field, example-major.
   * Undefined for an unconditional model (nothing is drawn).
   */
  batchLabels(indices: readonly number[]): Int32Array[] | undefined {
    if (!this.labelIndices) return undefined;
    const p = this.config.condDrop ?? DEFAULT_COND_DROP;
    const out = this.labelIndices.map(() => new Int32Array(indices.length));
    indices.forEach((img, i) => {
      this.labelIndices!.forEach((field, f) => {
        out[f][i] = this.condDropRng.uniform() < p ? -1 : field[img];
      });
    });
    return out;
  }

  /** Reads every tensor back into a checkpoint object (weights, EMA, Adam moments, state, streams). */
  async toCheckpoint(dataHash: string | null, extra: Partial<CheckpointMeta> = {}): Promise<Checkpoint> {
    const tensors = new Map<string, StoredTensor>();
    const params = this.model.params;
    const data = await Promise.all([...params.values()].map((v) => v.data() as Promise<Float32Array>));
    readTensors("params", params, tensors, data);
    const [ema, m, v] = await Promise.all(
      [this.ema.flat, this.adam.flatM, this.adam.flatV].map((t) => t.data() as Promise<Float32Array>),
    );
    flatToCheckpoint(ema, "ema", this.ema.layout, tensors);
    const extras = await Promise.all(this.emaExtra.map((e) => e.flat.data() as Promise<Float32Array>));
    this.emaExtra.forEach((e, i) => flatToCheckpoint(extras[i], emaTensorPrefix(e.decay), e.layout, tensors));
    flatToCheckpoint(m, "adam_m", this.adam.layout, tensors);
    flatToCheckpoint(v, "adam_v", this.adam.layout, tensors);
    const state = this.model.state;
    readTensors(
      "state",
      state,
      tensors,
      await Promise.all([...state.values()].map((t) => t.data() as Promise<Float32Array>)),
    );
    tensors.set(DATA_MEAN_TENSOR, {
      shape: [this.dataset.size, this.dataset.size, 3],
      data: this.dataMean.slice(),
    });
    const meta: CheckpointMeta = {
      model: this.config.model,
      imageSize: this.dataset.size,
      schedule: { kind: this.config.schedule, T: this.config.T },
      step: this.step,
      seed: this.config.seed,
      dataHash,
      train: { ...this.config },
      rng: {
        noise: this.noiseRng.getState(),
        data: this.dataRng.getState(),
        dataEpoch: this.sampler.getState(),
        dropout: this.dropoutRng.getState(),
        condDrop: this.condDropRng.getState(),
        ...((this.config.augment ?? 0) > 0 ? { augment: this.augmentRng.getState() } : {}),
      },
      ...extra,
    };
    return { meta, tensors };
  }

  /**
   * Restores weights, EMA, Adam moments and step, BatchNorm state and the random streams from a
   * checkpoint, after checking every tensor; nothing is assigned unless everything fits. An average
   * of `config.emaExtra` that the checkpoint lacks (a decay added on resume) starts from the
   * checkpoint's main EMA; its decay is listed in the returned `seededEma`.
   *
   * @throws {CheckpointError} when a tensor is missing, extra or of another shape.
   */
  restore(ckpt: Checkpoint): { seededEma: number[] } {
    // in the order a reader expects the first problem: the weights, then the optimizer's tensors
    flatFromCheckpoint(ckpt.tensors, "params", this.adam.layout);
    const ema = flatFromCheckpoint(ckpt.tensors, "ema", this.ema.layout);
    const seededEma: number[] = [];
    const extras = this.emaExtra.map((e) => {
      const prefix = emaTensorPrefix(e.decay);
      if ([...ckpt.tensors.keys()].some((k) => k.startsWith(prefix + "/"))) {
        return flatFromCheckpoint(ckpt.tensors, prefix, e.layout);
      }
      seededEma.push(e.decay);
      return ema;
    });
    const m = flatFromCheckpoint(ckpt.tensors, "adam_m", this.adam.layout);
    const v = flatFromCheckpoint(ckpt.tensors, "adam_v", this.adam.layout);
    assignTensors(ckpt, [["params", this.model.params], ["state", this.model.state]]);
    this.ema.load(ema);
    this.emaExtra.forEach((e, i) => e.load(extras[i]));
    this.adam.setMoments(m, v);
    this.adam.step = ckpt.meta.step;
    if (ckpt.meta.rng) {
      this.noiseRng.setState(ckpt.meta.rng.noise);
      this.dataRng.setState(ckpt.meta.rng.data);
      if (ckpt.meta.rng.dataEpoch) this.sampler.setState(ckpt.meta.rng.dataEpoch as SamplerState);
      // checkpoints from before dropout existed have no mask stream: it starts from its seed
      if (ckpt.meta.rng.dropout) this.dropoutRng.setState(ckpt.meta.rng.dropout);
      if (ckpt.meta.rng.condDrop) this.condDropRng.setState(ckpt.meta.rng.condDrop);
      if (ckpt.meta.rng.augment) this.augmentRng.setState(ckpt.meta.rng.augment);
    }
    return { seededEma };
  }

  /**
   * Starts from another run's weights (fine-tuning): takes the checkpoint's weights, EMA and model
   * state, and keeps this run's fresh optimizer, step 0 and data streams.
   */
  initFrom(ckpt: Checkpoint): void {
    const tensors = new Map(ckpt.tensors);
    const has = (prefix: string) => [...ckpt.tensors.keys()].some((k) => k.startsWith(prefix));
    const copy = (from: string, to: string) => {
      for (const [k, t] of ckpt.tensors) if (k.startsWith(from)) tensors.set(to + k.slice(from.length), t);
    };
    // a sampling checkpoint holds only the EMA weights: then the weights start from them too
    if (!has("params/")) copy("ema/", "params/");
    if (!has("ema/")) copy("params/", "ema/");
    const ema = flatFromCheckpoint(tensors, "ema", this.ema.layout);
    assignTensors({ ...ckpt, tensors }, [["params", this.model.params], ["state", this.model.state]]);
    this.ema.load(ema);
    for (const e of this.emaExtra) e.load(ema);
  }

  /** Releases every tensor of the run. */
  dispose(): void {
    this.#workers?.close();
    this.#workers = null;
    this.model.dispose();
    this.adam.dispose();
    this.ema.dispose();
    for (const e of this.emaExtra) e.dispose();
  }
}
