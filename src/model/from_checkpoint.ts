/**
 * Rebuilding a model from a checkpoint for sampling or evaluation.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { type Checkpoint, CheckpointError, DATA_MEAN_TENSOR } from "../checkpoint/format.ts";
import { type DiffusionSchedule, makeSchedule } from "../core/schedule.ts";
import { DiffusionModel, validateModelConfig } from "./model.ts";
import { type SamplingDefaults, validateSamplingDefaults } from "./labels.ts";
import type { ParamMap } from "./context.ts";

/** A model ready to sample, with the schedule it was trained with. */
export interface LoadedModel {
  /** The network; its `params` hold the chosen weights (EMA when available and asked for). */
  model: DiffusionModel;
  /** The β schedule of the checkpoint. */
  schedule: DiffusionSchedule;
  /** Whether the EMA weights were loaded. */
  usedEma: boolean;
  /** Optimizer steps behind the weights. */
  step: number;
  /** The training set's mean image (`data/mean`), where sampling starts from; absent in old checkpoints. */
  dataMean?: Float32Array;
  /** The model's own sampling defaults (labels, guidance), when its checkpoint records them. */
  sampling?: SamplingDefaults;
}

/**
 * Builds the model a checkpoint describes and loads its weights: the EMA weights when present and
 * `useEma` (default), else the raw ones. Every tensor is checked against the config first; a
 * mismatch is a {@linkcode CheckpointError} and nothing is loaded.
 *
 * @throws {CheckpointError} when the config is invalid or a tensor is missing, extra or of another shape.
 */
export function modelFromCheckpoint(ckpt: Checkpoint, useEma = true): LoadedModel {
  const { meta } = ckpt;
  try {
    validateModelConfig(meta.model);
  } catch (err) {
    throw new CheckpointError(`checkpoint has an invalid model config: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const hasEma = [...ckpt.tensors.keys()].some((k) => k.startsWith("ema/"));
  const hasRaw = [...ckpt.tensors.keys()].some((k) => k.startsWith("params/"));
  if (!hasEma && !hasRaw) {
    throw new CheckpointError("checkpoint holds no weights (no params/ or ema/ tensors)");
  }
  if (meta.sampling !== undefined) {
    try {
      validateSamplingDefaults(meta.sampling, meta.model.labels);
    } catch (err) {
      throw new CheckpointError(`checkpoint has invalid sampling defaults: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }
  const prefix = (useEma && hasEma) || !hasRaw ? "ema" : "params";
  const size = meta.imageSize ?? 32;
  const mean = ckpt.tensors.get(DATA_MEAN_TENSOR);
  if (mean && mean.shape.join() !== [size, size, 3].join()) {
    throw new CheckpointError(
      `checkpoint tensor "${DATA_MEAN_TENSOR}" has shape [${mean.shape}], the model needs [${size},${size},3]`,
    );
  }
  const model = new DiffusionModel(meta.model, 0, size);
  try {
    assignTensors(ckpt, [[prefix, model.params], ["state", model.state]]);
  } catch (err) {
    model.dispose();
    throw err;
  }
  return {
    model,
    schedule: makeSchedule(meta.schedule.kind, meta.schedule.T),
    usedEma: prefix === "ema",
    step: meta.step,
    ...(mean ? { dataMean: mean.data } : {}),
    ...(meta.sampling ? { sampling: structuredClone(meta.sampling) } : {}),
  };
}

/**
 * Checks that a checkpoint has every tensor of the groups (prefix → variables) with the right shape,
 * and no extra tensor under those prefixes; throws a {@linkcode CheckpointError} naming the first
 * mismatch. Nothing is assigned unless everything fits (never a partial load).
 */
export function assignTensors(ckpt: Checkpoint, groups: [string, ParamMap][]): void {
  for (const [prefix, map] of groups) {
    for (const [name, v] of map) {
      const t = ckpt.tensors.get(`${prefix}/${name}`);
      if (!t) {
        throw new CheckpointError(`checkpoint lacks tensor "${prefix}/${name}" that the model config needs`);
      }
      if (t.shape.join() !== v.shape.join()) {
        throw new CheckpointError(
          `checkpoint tensor "${prefix}/${name}" has shape [${t.shape}], the model needs [${v.shape}]`,
        );
      }
    }
  }
  const expected = new Set(groups.flatMap(([p, m]) => [...m.keys()].map((n) => `${p}/${n}`)));
  for (const name of ckpt.tensors.keys()) {
    if (groups.some(([p]) => name.startsWith(p + "/")) && !expected.has(name)) {
      throw new CheckpointError(`checkpoint tensor "${name}" is not part of this model config`);
    }
  }
  for (const [prefix, map] of groups) {
    for (const [name, v] of map) {
      const t = ckpt.tensors.get(`${prefix}/${name}`)!;
      tf.tidy(() => v.assign(tf.tensor(t.data, t.shape)));
    }
  }
}
