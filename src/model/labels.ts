/**
 * Label conditioning: the vocabulary of a conditioned model (label field → its values), the label
 * indices of a dataset's images, and a user's labels resolved against a vocabulary.
 *
 * An index is a value's position in its field's list; −1 is the field's null entry ("any value"),
 * which contributes nothing to the time embedding. A fixed zero null entry loses nothing against a
 * learned one: the time MLP's last bias absorbs a learned null vector n_f (b' = b + Σ n_f, e'_v =
 * e_v − n_f gives the same sums for every mix of given and null fields), and it makes "every field
 * null" exactly the unconditioned network of the same weights.
 *
 * @module
 */
import { UsageError } from "../errors.ts";
import { type GuidanceInterval, isGuidanceInterval } from "../sample/guidance_interval.ts";

/** The label fields a prepared image's manifest entry carries. */
export const LABEL_FIELDS = ["vendor", "category", "subcategory", "name"] as const;

/** One label field. */
export type LabelField = (typeof LABEL_FIELDS)[number];

/** A conditioned model's vocabulary: each field it conditions on and that field's values, in order. */
export type LabelVocabulary = Record<string, string[]>;

/**
 * Labels asked for: a value per field; fields left out take the model's default label (see
 * {@linkcode SamplingDefaults}) or else their null entry, and {@linkcode ANY_VALUE} asks for the null
 * entry explicitly.
 */
export type Labels = Record<string, string>;

/**
 * The label value that asks for a field's null entry ("any value"), also where the model has a default
 * label for the field: `--label vendor=*` draws from every vendor the model was trained on.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ANY_VALUE, resolveLabels } from "./labels.ts";
 * assert.equal(resolveLabels({ vendor: ["apple"] }, { vendor: ANY_VALUE }).join(), "-1");
 * ```
 */
export const ANY_VALUE = "*";

/**
 * A model's own sampling defaults, stored in its checkpoint (`deno task export --default-label …
 * --default-guidance …`): the labels used for fields a caller does not give, and the guidance weight
 * used when none is given. Chosen by measurement for a shipped model (its model card says how).
 */
export interface SamplingDefaults {
  /** Default label per field (e.g. `{ vendor: "apple" }`); each a value of the model's vocabulary. */
  labels?: Labels;
  /** Default classifier-free guidance weight. */
  guidance?: number;
  /**
   * Default timesteps where guidance applies, as fractions of T (`[lo, hi]`; absent: every step).
   */
  guidanceInterval?: GuidanceInterval;
}

/**
 * The labels to sample with: the caller's, with the model's default label for every field the caller
 * left out. {@linkcode ANY_VALUE} given for a field keeps it null.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { withDefaultLabels } from "./labels.ts";
 * const l = withDefaultLabels({ subcategory: "face-smiling" }, { labels: { vendor: "apple" } });
 * assert.equal(l.vendor, "apple");
 * assert.equal(l.subcategory, "face-smiling");
 * assert.equal(withDefaultLabels({ vendor: "*" }, { labels: { vendor: "apple" } }).vendor, "*");
 * ```
 */
export function withDefaultLabels(given: Labels, defaults: SamplingDefaults | undefined): Labels {
  return { ...defaults?.labels, ...given };
}

/**
 * Sampling options with a conditioned model's defaults filled in: its default label for every field an
 * options' label set leaves out (one set, or one per image) and its guidance when none is given.
 * Returns `options` unchanged for an unconditional model or one without defaults.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { withSamplingDefaults } from "./labels.ts";
 * const asked: { n: number; labels?: Record<string, string>; guidance?: number } = { n: 4 };
 * const o = withSamplingDefaults(asked, { vendor: ["apple", "google"] }, { labels: { vendor: "apple" }, guidance: 2 });
 * assert.equal(JSON.stringify(o), '{"n":4,"labels":{"vendor":"apple"},"guidance":2}');
 * ```
 */
export function withSamplingDefaults<
  O extends { labels?: Labels | Labels[]; guidance?: number; guidanceInterval?: GuidanceInterval },
>(
  options: O,
  vocab: LabelVocabulary | undefined,
  defaults: SamplingDefaults | undefined,
): O {
  if (!vocab || !defaults) return options;
  const labels = Array.isArray(options.labels)
    ? options.labels.map((l) => withDefaultLabels(l, defaults))
    : withDefaultLabels(options.labels ?? {}, defaults);
  const guidance = options.guidance ?? defaults.guidance;
  const guidanceInterval = options.guidanceInterval ?? defaults.guidanceInterval;
  return {
    ...options,
    labels,
    ...(guidance !== undefined ? { guidance } : {}),
    ...(guidanceInterval !== undefined ? { guidanceInterval } : {}),
  };
}

/**
 * Checks a checkpoint's sampling defaults against its vocabulary.
 *
 * @throws {RangeError} naming the field or value that does not fit.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { validateSamplingDefaults } from "./labels.ts";
 * validateSamplingDefaults({ labels: { vendor: "apple" }, guidance: 2 }, { vendor: ["apple"] });
 * let caught: unknown;
 * try { validateSamplingDefaults({ labels: { vendor: "nokia" } }, { vendor: ["apple"] }); } catch (e) { caught = e; }
 * assert.ok(caught instanceof RangeError);
 * ```
 */
export function validateSamplingDefaults(
  defaults: SamplingDefaults,
  vocab: LabelVocabulary | undefined,
): void {
  if (typeof defaults !== "object" || defaults === null || Array.isArray(defaults)) {
    throw new RangeError(`sampling defaults must be an object, got ${JSON.stringify(defaults)}`);
  }
  if (defaults.guidance !== undefined && !Number.isFinite(defaults.guidance)) {
    throw new RangeError(`the default guidance must be a finite number, got ${defaults.guidance}`);
  }
  const iv = defaults.guidanceInterval;
  if (iv !== undefined && !isGuidanceInterval(iv)) {
    throw new RangeError(
      `the default guidance interval must be [lo, hi] with 0 <= lo <= hi <= 1, got ${JSON.stringify(iv)}`,
    );
  }
  for (const [field, value] of Object.entries(defaults.labels ?? {})) {
    if (!vocab || !Object.hasOwn(vocab, field)) {
      throw new RangeError(
        `the default label ${field}=${value} names a field the model does not condition on`,
      );
    }
    if (value !== ANY_VALUE && !vocab[field].includes(value)) {
      throw new RangeError(`the default label ${field}=${value} is not one of ${vocab[field].join(", ")}`);
    }
  }
}

/**
 * A label field or value the model does not know, or labels given to an unconditional model: a usage
 * error whose message lists the valid fields or values.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { LabelError, resolveLabels } from "./labels.ts";
 * let caught: unknown;
 * try { resolveLabels({ vendor: ["apple"] }, { vendor: "nokia" }); } catch (e) { caught = e; }
 * assert.ok(caught instanceof LabelError);
 * assert.ok(String(caught).includes("apple"));
 * ```
 */
export class LabelError extends UsageError {
  /** Always `"LabelError"`. */
  override name = "LabelError";
}

/** The label fields of one manifest image (folder sources have null category and subcategory). */
export interface LabelledImage {
  /** Vendor name. */
  vendor: string;
  /** Unicode category or null. */
  category: string | null;
  /** Unicode subcategory or null. */
  subcategory: string | null;
  /** Human name. */
  name: string;
}

/**
 * Parses a list of label fields to condition on (`vendor,subcategory`): known fields, no repeats, at
 * least one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseConditionFields } from "./labels.ts";
 * assert.equal(parseConditionFields("vendor, subcategory").join(), "vendor,subcategory");
 * ```
 */
export function parseConditionFields(text: string): LabelField[] {
  const fields = text.split(",").map((s) => s.trim()).filter((s) => s !== "");
  if (fields.length === 0) {
    throw new LabelError(`condition needs one or more of ${LABEL_FIELDS.join(", ")}`);
  }
  for (const f of fields) {
    if (!(LABEL_FIELDS as readonly string[]).includes(f)) {
      throw new LabelError(`condition: unknown label field "${f}"; choose from ${LABEL_FIELDS.join(", ")}`);
    }
  }
  if (new Set(fields).size !== fields.length) {
    throw new LabelError(`condition lists a field twice: ${text}`);
  }
  return fields as LabelField[];
}

/**
 * The vocabulary of `fields` over a dataset's images: each field's distinct non-null values, sorted.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { buildVocabulary } from "./labels.ts";
 * const img = (vendor: string, subcategory: string) => ({ vendor, subcategory, category: "c", name: "n" });
 * const v = buildVocabulary([img("google", "face-smiling"), img("apple", "face-smiling")], ["vendor"]);
 * assert.equal(v.vendor.join(), "apple,google");
 * ```
 */
export function buildVocabulary(
  images: readonly LabelledImage[],
  fields: readonly LabelField[],
): LabelVocabulary {
  const vocab: LabelVocabulary = {};
  for (const f of fields) {
    const values = [...new Set(images.map((im) => im[f]).filter((v): v is string => v !== null))].sort();
    if (values.length === 0) {
      throw new LabelError(`condition ${f}: the dataset's images have no ${f} labels (a folder source?)`);
    }
    vocab[f] = values;
  }
  return vocab;
}

/**
 * Each image's index per field of the vocabulary ([field][image]; −1 where an image's value is not in
 * the vocabulary or is null).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { imageLabelIndices } from "./labels.ts";
 * const idx = imageLabelIndices([{ vendor: "b", category: null, subcategory: null, name: "x" }], { vendor: ["a", "b"] });
 * assert.equal(idx[0][0], 1);
 * ```
 */
export function imageLabelIndices(images: readonly LabelledImage[], vocab: LabelVocabulary): Int32Array[] {
  return Object.entries(vocab).map(([f, values]) => {
    const pos = new Map(values.map((v, i) => [v, i]));
    return Int32Array.from(images, (im) => pos.get(im[f as LabelField] ?? "") ?? -1);
  });
}

/** Throws a RangeError unless `vocab` is a non-empty map of fields to distinct, non-empty string lists. */
export function validateVocabulary(vocab: unknown): void {
  if (!vocab || typeof vocab !== "object" || Array.isArray(vocab) || Object.keys(vocab).length === 0) {
    throw new RangeError(`labels must map label fields to their values, got ${JSON.stringify(vocab)}`);
  }
  for (const [f, values] of Object.entries(vocab)) {
    if (
      !Array.isArray(values) || values.length === 0 || !values.every((v) => typeof v === "string") ||
      new Set(values).size !== values.length
    ) {
      throw new RangeError(`labels.${f} must list distinct string values, got ${JSON.stringify(values)}`);
    }
    if (values.includes(ANY_VALUE)) {
      throw new RangeError(`labels.${f} may not hold the value "${ANY_VALUE}": it asks for the null entry`);
    }
  }
}

/**
 * Resolves labels against a vocabulary: one index per field of the vocabulary, in its order (−1 for a
 * field not given or given as {@linkcode ANY_VALUE}).
 *
 * @throws {LabelError} for labels given to an unconditional model (`vocab` undefined), an unknown field
 * or an unknown value; the message lists the valid ones.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resolveLabels } from "./labels.ts";
 * const idx = resolveLabels({ vendor: ["apple", "google"], subcategory: ["face-smiling"] }, { vendor: "google" });
 * assert.equal(idx.join(), "1,-1");
 * ```
 */
export function resolveLabels(vocab: LabelVocabulary | undefined, labels: Labels): number[] {
  const given = Object.keys(labels);
  if (!vocab) {
    if (given.length === 0) return [];
    throw new LabelError(
      `labels (${given.map((f) => `${f}=${labels[f]}`).join(", ")}) given to an unconditional model: ` +
        `it was trained without label fields; drop the labels or use a conditioned checkpoint`,
    );
  }
  for (const f of given) {
    if (!Object.hasOwn(vocab, f)) {
      throw new LabelError(`unknown label field "${f}": this model knows ${Object.keys(vocab).join(", ")}`);
    }
    if (labels[f] !== ANY_VALUE && !vocab[f].includes(labels[f])) {
      throw new LabelError(
        `unknown ${f} "${labels[f]}": choose one of ${vocab[f].join(", ")} (or ${ANY_VALUE} for any)`,
      );
    }
  }
  return Object.entries(vocab).map(([f, values]) =>
    Object.hasOwn(labels, f) ? values.indexOf(labels[f]) : -1
  );
}

/**
 * Label indices for a batch as the model's forward takes them ([field][example]) from one index list
 * per example (as {@linkcode resolveLabels} returns).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { labelBatch } from "./labels.ts";
 * assert.equal(labelBatch([[0, -1], [1, 2]], 2)[1].join(), "-1,2");
 * ```
 */
export function labelBatch(perExample: readonly (readonly number[])[], fields: number): Int32Array[] {
  return Array.from({ length: fields }, (_, f) => Int32Array.from(perExample, (e) => e[f]));
}
