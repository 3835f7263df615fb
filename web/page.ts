/// <reference lib="dom" />
/**
 * The page served by `deno task serve`: pick a shipped model, a seed, a sampler and steps, press
 * Generate, and watch a grid of emojis sharpen as the reverse process runs in the browser. Failures
 * (a checkpoint that does not load, a backend that does not start) are shown on the page.
 *
 * A conditioned model (one trained with `--condition`) adds a menu per label field, preset to its default
 * label ("any" for the others), and a guidance weight.
 *
 * Query parameters preset the controls (`model`, `seed`, `sampler`, `steps`, `n`, `backend`, a label
 * field such as `vendor=google`, `guidance`),
 * `checkpoint=<url>` adds a checkpoint of one's own, `threads=<k>` fixes the wasm threads, and
 * `generate` starts at once. `globalThis.emojiPage` holds the last result, for tests.
 *
 * @module
 */
import { floatToRgb8 } from "../src/image/pixels.ts";
import {
  type BrowserBackendInfo,
  type BrowserBackendRequest,
  type BrowserModel,
  DEFAULT_SAMPLER,
  DEFAULT_STEPS,
  loadBrowserModel,
  sampleBrowser,
  SAMPLERS,
  startBrowserBackend,
} from "./core.ts";

/** What the page exposes for tests and the curious. */
interface PageState {
  state: "starting" | "ready" | "loading" | "sampling" | "done" | "error";
  error?: string;
  backend?: BrowserBackendInfo;
  secondsPerImage?: number;
  seconds?: number;
  /** The last grid's images as bytes, n×32×32×3 (NHWC). */
  bytes?: number[];
}

const page: PageState = { state: "starting" };
(globalThis as unknown as { emojiPage: PageState }).emojiPage = page;

const el = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const form = el<HTMLFormElement>("controls");
const modelSelect = el<HTMLSelectElement>("model");
const seedInput = el<HTMLInputElement>("seed");
const samplerSelect = el<HTMLSelectElement>("sampler");
const stepsInput = el<HTMLInputElement>("steps");
const countSelect = el<HTMLSelectElement>("count");
const backendSelect = el<HTMLSelectElement>("backend");
const labelsBox = el<HTMLFieldSetElement>("labels");
const labelMenus = el<HTMLDivElement>("label-menus");
const guidanceInput = el<HTMLInputElement>("guidance");
const generateButton = el<HTMLButtonElement>("generate");
const downloadButton = el<HTMLButtonElement>("download");
const errorBox = el<HTMLDivElement>("error");
const loading = el<HTMLDivElement>("loading");
const loadLabel = el<HTMLLabelElement>("load-label");
const loadProgress = el<HTMLProgressElement>("load-progress");
const canvas = el<HTMLCanvasElement>("grid");
const status = el<HTMLParagraphElement>("status");
const backendLine = el<HTMLParagraphElement>("backend-line");

const params = new URLSearchParams(location.search);
const GUTTER = 1;

function setState(state: PageState["state"]): void {
  page.state = state;
  document.body.dataset.state = state;
}

function showError(message: string): void {
  page.error = message;
  errorBox.textContent = message;
  errorBox.hidden = false;
  status.textContent = "Stopped: see the message above.";
  setState("error");
}

function firstLine(err: unknown): string {
  return String((err as Error)?.message ?? err).split("\n")[0];
}

/** Draws `count` images (floats in [−1, 1]) starting at grid cell `first`. */
function drawImages(images: Float32Array, first: number, count: number, size: number, n: number): void {
  const side = Math.ceil(Math.sqrt(n));
  const ctx = canvas.getContext("2d")!;
  const bytes = floatToRgb8(images);
  for (let i = 0; i < count; i++) {
    const cell = first + i;
    const img = ctx.createImageData(size, size);
    for (let p = 0; p < size * size; p++) {
      img.data.set(bytes.subarray((i * size * size + p) * 3, (i * size * size + p) * 3 + 3), p * 4);
      img.data[p * 4 + 3] = 255;
    }
    ctx.putImageData(
      img,
      GUTTER + (cell % side) * (size + GUTTER),
      GUTTER + Math.floor(cell / side) * (size + GUTTER),
    );
  }
}

function resetCanvas(n: number, size: number): void {
  const side = Math.ceil(Math.sqrt(n));
  canvas.width = canvas.height = side * (size + GUTTER) + GUTTER;
  const ctx = canvas.getContext("2d")!;
  ctx.fillStyle = "#000";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  canvas.setAttribute("aria-label", `A grid of ${n} generated emojis`);
}

let backendPromise: Promise<BrowserBackendInfo> | null = null;
let backendAsked: BrowserBackendRequest | null = null;
let model: { key: string; value: BrowserModel } | null = null;

async function backend(request: BrowserBackendRequest): Promise<BrowserBackendInfo> {
  if (backendPromise && backendAsked === request) return await backendPromise;
  backendAsked = request;
  const threads = params.has("threads") ? Number(params.get("threads")) : undefined;
  backendPromise = startBrowserBackend(request, { wasmPath: new URL("/wasm/", location.href).href, threads });
  try {
    return await backendPromise;
  } catch (err) {
    backendPromise = null;
    throw err;
  }
}

async function loadModel(url: URL, backendName: string): Promise<BrowserModel> {
  const key = `${backendName} ${url.href}`;
  if (model?.key === key) return model.value;
  model?.value.loaded.model.dispose();
  model = null;
  loading.hidden = false;
  loadProgress.removeAttribute("value");
  loadLabel.textContent = "Loading checkpoint…";
  try {
    const value = await loadBrowserModel(url, ({ loaded, total }) => {
      const mb = (b: number) => (b / 1e6).toFixed(1);
      if (total) {
        loadProgress.max = total;
        loadProgress.value = loaded;
        loadLabel.textContent = `Loading checkpoint: ${mb(loaded)} of ${mb(total)} MB`;
      } else {
        loadLabel.textContent = `Loading checkpoint: ${mb(loaded)} MB`;
      }
    });
    model = { key, value };
    return value;
  } finally {
    loading.hidden = true;
  }
}

const nextPaint = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

async function generate(): Promise<void> {
  errorBox.hidden = true;
  page.error = undefined;
  generateButton.disabled = true;
  downloadButton.disabled = true;
  try {
    const n = Number(countSelect.value);
    const seed = Number(seedInput.value);
    const steps = Number(stepsInput.value);
    const sampler = samplerSelect.value as (typeof SAMPLERS)[number];
    if (!Number.isInteger(seed) || seed < 0) {
      return showError(`Seed must be a whole number ≥ 0, got "${seedInput.value}".`);
    }
    if (!Number.isInteger(steps) || steps < 1) {
      return showError(`Steps must be a whole number ≥ 1, got "${stepsInput.value}".`);
    }
    const guidance = Number(guidanceInput.value);
    if (!labelsBox.hidden && (guidanceInput.value.trim() === "" || !Number.isFinite(guidance))) {
      return showError(`Guidance must be a number, got "${guidanceInput.value}".`);
    }
    setState("loading");
    status.textContent = "Starting the backend…";
    let info: BrowserBackendInfo;
    try {
      info = await backend(backendSelect.value as BrowserBackendRequest);
    } catch (err) {
      backendLine.textContent = "Backend: none";
      return showError(`The ${backendSelect.value} backend could not start: ${firstLine(err)}`);
    }
    page.backend = info;
    backendLine.textContent = info.name === "webgpu"
      ? `Backend: WebGPU on ${info.reason}`
      : `Backend: wasm (${info.reason})`;
    status.textContent = "Loading the checkpoint…";
    let m: BrowserModel;
    const url = new URL(modelSelect.value, location.href);
    try {
      m = await loadModel(url, info.name);
    } catch (err) {
      return showError(`The checkpoint could not be loaded: ${firstLine(err)}`);
    }
    const size = m.loaded.model.imageSize;
    resetCanvas(n, size);
    setState("sampling");
    status.textContent = "Sampling…";
    await nextPaint();
    let done = 0, total = 0;
    const result = await sampleBrowser(m, {
      n,
      sampler,
      steps,
      eta: 0,
      seed,
      ...(labelsBox.hidden ? {} : { labels: chosenLabels(), guidance }),
      frameEvery: 1,
      onProgress: (d, t) => {
        done = d;
        total = t;
      },
      onFrame: async (frame, first, count) => {
        drawImages(frame, first, count, size, n);
        status.textContent = `Sampling: step ${done} of ${total || "…"}`;
        await nextPaint();
      },
    });
    drawImages(result.images, 0, n, size, n);
    page.bytes = Array.from(floatToRgb8(result.images));
    page.seconds = result.seconds;
    page.secondsPerImage = result.seconds / n;
    status.textContent = `${n} images in ${result.seconds.toFixed(1)} s: ${
      page.secondsPerImage.toFixed(2)
    } s per image (${sampler === "ddpm" ? "ddpm" : `${sampler}-${steps}`}${
      sampler === "ddim" ? ", η = 0" : ""
    }, seed ${seed})`;
    downloadButton.disabled = false;
    setState("done");
  } catch (err) {
    showError(`Sampling failed: ${firstLine(err)}`);
  } finally {
    generateButton.disabled = false;
  }
}

function download(): void {
  const scale = 4;
  const big = document.createElement("canvas");
  big.width = canvas.width * scale;
  big.height = canvas.height * scale;
  const ctx = big.getContext("2d")!;
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(canvas, 0, 0, big.width, big.height);
  big.toBlob((blob) => {
    if (!blob) return showError("The PNG could not be made.");
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = `emojis-${
      modelSelect.selectedOptions[0]?.dataset.name ?? "custom"
    }-seed${seedInput.value}.png`;
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 1000);
  }, "image/png");
}

/** A shipped model as `/models.json` lists it. */
interface ModelEntry {
  name: string;
  url: string;
  bytes: number;
  labels?: Record<string, string[]>;
  sampling?: { labels?: Record<string, string>; guidance?: number };
}

const entries = new Map<string, ModelEntry>();

/** The label menus' choices: a value per field, "*" for any. */
function chosenLabels(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const select of labelMenus.querySelectorAll("select")) out[select.name] = select.value;
  return out;
}

/** One menu per label field of the chosen model (none for an unconditional one), preset from its defaults. */
function showLabelMenus(first = false): void {
  const entry = entries.get(modelSelect.value);
  labelMenus.replaceChildren();
  labelsBox.hidden = !entry?.labels;
  if (!entry?.labels) return;
  for (const [field, values] of Object.entries(entry.labels)) {
    const select = document.createElement("select");
    select.id = `label-${field}`;
    select.name = field;
    const wanted = (first ? params.get(field) : null) ?? entry.sampling?.labels?.[field] ?? "*";
    select.add(new Option("any", "*", false, wanted === "*"));
    for (const v of values) select.add(new Option(v, v, false, v === wanted));
    const label = document.createElement("label");
    label.htmlFor = select.id;
    label.textContent = field[0].toUpperCase() + field.slice(1);
    labelMenus.append(label, select);
  }
  guidanceInput.value = (first ? params.get("guidance") : null) ?? String(entry.sampling?.guidance ?? 1);
}

async function start(): Promise<void> {
  for (const s of SAMPLERS) samplerSelect.add(new Option(s, s, s === DEFAULT_SAMPLER, s === DEFAULT_SAMPLER));
  stepsInput.value = String(DEFAULT_STEPS);
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    void generate();
  });
  downloadButton.addEventListener("click", download);
  for (const [key, input] of [["seed", seedInput], ["steps", stepsInput]] as const) {
    if (params.has(key)) input.value = params.get(key)!;
  }
  for (
    const [key, select] of [["sampler", samplerSelect], ["n", countSelect], [
      "backend",
      backendSelect,
    ]] as const
  ) {
    const v = params.get(key);
    if (v && [...select.options].some((o) => o.value === v)) select.value = v;
  }
  let models: ModelEntry[] = [];
  try {
    const res = await fetch("/models.json");
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    models = await res.json();
  } catch (err) {
    return showError(`The list of models could not be loaded: ${firstLine(err)}`);
  }
  for (const m of models) {
    const option = new Option(
      `${m.name} (${(m.bytes / 1e6).toFixed(1)} MB)`,
      m.url,
      false,
      m.name === params.get("model"),
    );
    option.dataset.name = m.name;
    modelSelect.add(option);
    entries.set(m.url, m);
  }
  const custom = params.get("checkpoint");
  if (custom) modelSelect.add(new Option(`custom: ${custom}`, custom, true, true));
  if (modelSelect.options.length === 0) {
    return showError(
      "No model to sample: data/models/ holds no shipped checkpoint. Train one with: deno task train",
    );
  }
  showLabelMenus(true);
  modelSelect.addEventListener("change", () => showLabelMenus());
  setState("ready");
  status.textContent = "Ready: press Generate.";
  if (params.has("generate")) await generate();
}

start().catch((err) => showError(`The page failed to start: ${firstLine(err)}`));
