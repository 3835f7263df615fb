/**
 * The edit modes of `deno task sample`: variations (`--from --strength`), inpainting (`--mask`) and
 * morphs (`--morph A,B`). Parses and checks their flags and inputs, then calls `src/sample/edit.ts`.
 *
 * @module
 */
import { type Labels, resolveLabels } from "../model/labels.ts";
import { denoiserForLabels, type GuidanceLimit } from "../sample/guidance.ts";
import type { BackendRequest } from "../backend/select.ts";
import { DEFAULT_GUIDANCE } from "../sample/defaults.ts";
import type { NoiseWorkers } from "../sample/parallel_noise.ts";
import { startSamplingBackend, withSamplingWorkers } from "./sampling_flags.ts";
import { intFlag, threadsFlag, UsageError } from "./flags.ts";
import type { Checkpoint } from "../checkpoint/format.ts";
import { parseColor, type Rgb } from "../image/colour.ts";
import { modelFromCheckpoint } from "../model/from_checkpoint.ts";
import { editImages, type MorphEnd, morphImages } from "../sample/edit.ts";
import { imageToModelInput, listInputFiles, maskFromRgba, readImageFile } from "../sample/edit_input.ts";
import { writeEditGrid, writeMorphFiles } from "../sample/edit_output.ts";
import { formatSamplingProgress } from "../sample/progress.ts";
import type { SamplerName } from "../sample/sample.ts";

/** The usage lines of the edit flags. */
export const EDIT_USAGE = `edits (start from an emoji instead of from noise):
  --from FILE|DIR     variations of an image (PNG/JPEG; a folder: each image in it; repeat or comma-separate
                      for several); the grid edits.png shows each input, then its --n variations (default 4)
  --strength S        how far into the noise the input goes, 0 < S <= 1 (default 0.6; 1 with --mask)
  --mask FILE         inpainting: redraw where the mask is white (needs --from; same size as the inputs or
                      the model); the known part is kept exactly
  --resample K        inpainting tries per step (RePaint's resampling jumps; default 3)
  --background COLOR  colour transparent input pixels become, as in "deno task prepare" (default black)
  --morph A,B         morph between two ends, each a seed (integer) or an image file, via spherical
                      interpolation of the starting noise (image ends: DDIM inversion); writes morph.png, morph.gif
  --frames F          frames of a morph, ends included (default 8)`;

/** The flags of the edit modes, as parsed by `node:util` parseArgs. */
export const EDIT_OPTIONS = {
  from: { type: "string", multiple: true },
  strength: { type: "string" },
  mask: { type: "string" },
  resample: { type: "string" },
  background: { type: "string" },
  morph: { type: "string" },
  frames: { type: "string" },
} as const;

/** The edit flags' raw values. */
export interface EditFlags {
  from?: string[];
  strength?: string;
  mask?: string;
  resample?: string;
  background?: string;
  morph?: string;
  frames?: string;
  n?: string;
}

/** Whether any edit flag is set (then `deno task sample` runs an edit instead of plain sampling). */
export function isEdit(v: EditFlags): boolean {
  return [v.from, v.strength, v.mask, v.resample, v.morph, v.frames].some((x) => x !== undefined);
}

/** What plain sampling's flags resolved to, shared with the edits. */
export interface SharedSampling {
  ckpt: Checkpoint;
  raw: boolean;
  sampler: SamplerName;
  steps: number;
  eta: number;
  clip: boolean;
  seed: number;
  batch?: number;
  scale: number;
  out: string;
  backend: BackendRequest;
  threads?: string;
  /** Data-parallel parts (see `planParallel`). */
  workers: number | "auto";
  dataMean?: Float32Array;
  /** Labels of a conditioned model (already checked against its vocabulary), or undefined. */
  labels?: Labels;
  /** Classifier-free guidance weight (default `DEFAULT_GUIDANCE`). */
  guidance?: number;
  /** The timesteps guided, as fractions of T (default: every step). */
  guidanceInterval?: readonly [number, number];
}

/**
 * The ε of an edit: the model with the edit's labels, guidance and guidance interval; with `workers`,
 * the same computed in parts.
 */
function editDenoiser(
  loaded: ReturnType<typeof modelFromCheckpoint>,
  s: SharedSampling,
  workers?: NoiseWorkers,
) {
  const limit = guidanceLimit(s, loaded.schedule.T);
  // checks the labels and guidance against the model whether or not workers compute it
  const own = denoiserForLabels(loaded.model, s.labels, s.guidance, limit, loaded.schedule);
  if (!workers) return own;
  const asked = s.labels && Object.keys(s.labels).length
    ? resolveLabels(loaded.model.labels, s.labels)
    : undefined;
  return workers.denoiser(asked, s.guidance ?? DEFAULT_GUIDANCE, limit);
}

/** Plans the data-parallel parts and starts the backend, then loads the model. */
async function loadForEdit(s: SharedSampling) {
  const parallel = await startSamplingBackend({
    backend: s.backend,
    threads: threadsFlag(s.threads),
    workers: s.workers,
  });
  return { parallel, loaded: modelFromCheckpoint(s.ckpt, !s.raw) };
}

/** The guidance interval of an edit with the schedule's T, or undefined for every step. */
function guidanceLimit(s: SharedSampling, T: number): GuidanceLimit | undefined {
  return s.guidanceInterval ? { interval: s.guidanceInterval, T } : undefined;
}

function strengthFlag(value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const s = Number(value);
  if (value.trim() === "" || !(s > 0 && s <= 1)) {
    throw new UsageError(`--strength must be a number in (0, 1], got "${value}"`);
  }
  return s;
}

function progressPrinter(n: number): (done: number, total: number) => void {
  const isTty = Deno.stderr.isTerminal();
  let lastPct = -1;
  const t0 = performance.now();
  return (done, total) => {
    const pct = Math.floor(100 * done / total);
    if (pct === lastPct || !(isTty || pct % 25 === 0)) return;
    lastPct = pct;
    const line = formatSamplingProgress(done, total, n, (performance.now() - t0) / 1000);
    if (isTty) {
      Deno.stderr.writeSync(new TextEncoder().encode(`\r${line}\x1b[K${done === total ? "\n" : ""}`));
    } else console.error(line);
  };
}

/** One decoded input at the model's size, and its original dimensions. */
interface Input {
  path: string;
  width: number;
  height: number;
  x: Float32Array;
}

async function readInput(path: string, flag: string, size: number, bg: Rgb): Promise<Input> {
  const img = await readImageFile(path, flag);
  return {
    path,
    width: img.width,
    height: img.height,
    x: imageToModelInput(img.rgba, img.width, img.height, size, bg),
  };
}

/** Runs the edit `v` asks for; every flag and file is checked before the model is built. */
export async function runEdit(v: EditFlags, s: SharedSampling): Promise<void> {
  const size = s.ckpt.meta.imageSize ?? 32;
  let bg: Rgb;
  try {
    bg = parseColor(v.background ?? "black");
  } catch (err) {
    throw new UsageError(`--background: ${(err as Error).message}`, { cause: err });
  }
  if (v.morph !== undefined) return await runMorph(v, s, size, bg);
  if (v.frames !== undefined) throw new UsageError(`--frames applies to --morph only`);
  if (!v.from) {
    throw new UsageError(
      v.mask !== undefined
        ? `--mask needs --from FILE: the image to inpaint`
        : `--strength needs --from FILE`,
    );
  }
  const strength = strengthFlag(v.strength, v.mask !== undefined ? 1 : 0.6);
  const n = intFlag("n", v.n, 4, 1, 1000);
  const resample = intFlag("resample", v.resample, 3, 1, 100);
  if (v.resample !== undefined && v.mask === undefined) {
    throw new UsageError(`--resample applies to --mask only`);
  }
  const paths: string[] = [];
  for (const item of v.from!.flatMap((f) => f.split(",")).filter((f) => f !== "")) {
    paths.push(...await listInputFiles(item, "--from"));
  }
  if (paths.length === 0) throw new UsageError(`--from names no file`);
  const inputs = await Promise.all(paths.map((p) => readInput(p, "--from", size, bg)));
  let mask: Uint8Array | undefined;
  if (v.mask !== undefined) {
    const img = await readImageFile(v.mask, "--mask");
    const fits = (w: number, h: number) => img.width === w && img.height === h;
    if (!fits(size, size) && !inputs.every((i) => fits(i.width, i.height))) {
      throw new UsageError(
        `--mask ${v.mask} is ${img.width}×${img.height}: it must be the model's ${size}×${size} or the size of the --from images (${
          [...new Set(inputs.map((i) => `${i.width}×${i.height}`))].join(", ")
        })`,
      );
    }
    mask = maskFromRgba(img.rgba, img.width, img.height, size);
    if (!mask.some((m) => m === 1)) {
      throw new UsageError(`--mask ${v.mask} has no white pixel: nothing to redraw`);
    }
  }
  const x0 = new Float32Array(inputs.length * size * size * 3);
  inputs.forEach((input, i) => x0.set(input.x, i * size * size * 3));
  const total = inputs.length * n;
  const { parallel, loaded } = await loadForEdit(s);
  console.error(
    `model: ${loaded.model.config.preset}, step ${loaded.step}; ${
      mask ? "inpainting" : "variations"
    } of ${inputs.length} input(s) × ${n}, strength ${strength}, ${s.sampler}${
      s.sampler === "ddim" ? ` eta=${s.eta}` : ""
    }${mask ? `, resample ${resample}` : ""}`,
  );
  const result = await withSamplingWorkers(
    parallel,
    loaded,
    { images: total, batch: s.batch },
    (workers) =>
      editImages(editDenoiser(loaded, s, workers), loaded.schedule, x0, {
        strength,
        n,
        mask,
        resample,
        sampler: s.sampler,
        steps: s.steps,
        eta: s.eta,
        clip: s.clip,
        seed: s.seed,
        batch: s.batch,
        onProgress: progressPrinter(total),
      }),
  );
  loaded.model.dispose();
  const path = await writeEditGrid(result, x0, s.out, s.scale, mask);
  console.log(
    `${total} images (${result.evaluations} network evaluations each) in ${
      result.seconds.toFixed(1)
    } s; wrote ${path}`,
  );
}

async function runMorph(v: EditFlags, s: SharedSampling, size: number, bg: Rgb): Promise<void> {
  for (const flag of ["from", "mask", "strength", "resample"] as const) {
    if (v[flag] !== undefined) throw new UsageError(`--${flag} does not combine with --morph`);
  }
  const ends = v.morph!.split(",");
  if (ends.length !== 2 || ends.some((e) => e.trim() === "")) {
    throw new UsageError(`--morph takes two ends A,B (seeds or image files), got "${v.morph}"`);
  }
  if (s.sampler === "ddpm") {
    throw new UsageError(
      `--morph needs a deterministic sampler: --sampler ddim (eta 0) or dpm++2m, not ddpm`,
    );
  }
  if (s.sampler === "ddim" && s.eta !== 0) {
    throw new UsageError(`--morph needs a deterministic sampler: --eta 0, got ${s.eta}`);
  }
  const frames = intFlag("frames", v.frames, 8, 2, 256);
  const parsed: MorphEnd[] = await Promise.all(ends.map(async (e) => {
    const t = e.trim();
    if (/^\d+$/.test(t)) return Number(t);
    return (await readInput(t, "--morph", size, bg)).x;
  }));
  const { parallel, loaded } = await loadForEdit(s);
  console.error(
    `model: ${loaded.model.config.preset}, step ${loaded.step}; morph ${
      ends.join(" → ")
    } in ${frames} frames, ${s.sampler}-${s.steps}`,
  );
  const result = await withSamplingWorkers(
    parallel,
    loaded,
    { images: frames, batch: s.batch },
    (workers) =>
      morphImages(editDenoiser(loaded, s, workers), loaded.schedule, parsed[0], parsed[1], {
        frames,
        sampler: s.sampler,
        steps: s.steps,
        clip: s.clip,
        dataMean: s.dataMean,
        batch: s.batch,
        onProgress: progressPrinter(frames),
      }),
  );
  loaded.model.dispose();
  const written = await writeMorphFiles(result, s.out, s.scale);
  console.log(`${frames} frames in ${result.seconds.toFixed(1)} s; wrote ${written.join(", ")}`);
}
