/**
 * The library's browser entry: the platform-neutral core (checkpoint reading and parsing, the
 * model, schedules, samplers) plus a backend start-up for a page (WebGPU, else tfjs's wasm with
 * binaries fetched from the page's own server). It imports nothing from Deno, `node:` or
 * imagescript; `tests/browser_graph_test.ts` checks that on the module graph.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-webgpu";
import { getThreadsCount, setThreadsCount, setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import { decodeCheckpoint } from "../src/checkpoint/format.ts";
import { type LoadProgress, readCheckpointSource } from "../src/checkpoint/source.ts";
import { type LoadedModel, modelFromCheckpoint } from "../src/model/from_checkpoint.ts";
import { withSamplingDefaults } from "../src/model/labels.ts";
import { sampleImages, type SampleOptions, type SampleResult, SAMPLERS } from "../src/sample/sample.ts";
import { registerWasmTrainingKernels } from "../src/backend/wasm/mod.ts";
import { DEFAULT_SAMPLER, DEFAULT_STEPS } from "../src/sample/defaults.ts";

export { DEFAULT_SAMPLER, DEFAULT_STEPS, SAMPLERS };
export type { LoadProgress, SampleOptions, SampleResult };

/** What the page asked for: `auto` is WebGPU on a hardware adapter, else wasm. */
export type BrowserBackendRequest = "auto" | "webgpu" | "wasm";

/** The backend a page got, and why. */
export interface BrowserBackendInfo {
  /** The tfjs backend in use. */
  name: "webgpu" | "wasm";
  /** One line for the page: the adapter, or why wasm and with how many threads. */
  reason: string;
  /** The WebGPU adapter's name, when `name` is `webgpu`. */
  adapter?: string;
}

/** Options of {@linkcode startBrowserBackend}. */
export interface BrowserBackendOptions {
  /** URL of the folder holding tfjs's `.wasm` binaries (served by `deno task serve` at `/wasm/`). */
  wasmPath: string;
  /** wasm threads; default: tfjs's choice when the page is cross-origin isolated, else 1. */
  threads?: number;
}

async function probeAdapter(): Promise<{ adapter: GPUAdapter | null; name: string; software: boolean }> {
  const gpu = (globalThis.navigator as Navigator | undefined)?.gpu;
  if (!gpu) {
    return { adapter: null, name: "this browser has no WebGPU (navigator.gpu is missing)", software: false };
  }
  let adapter: GPUAdapter | null = null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: "high-performance" });
  } catch {
    adapter = null;
  }
  if (!adapter) return { adapter: null, name: "the browser offers no WebGPU adapter", software: false };
  // deno-lint-ignore no-explicit-any
  const info = (adapter as any).info ?? {};
  const name = [info.vendor, info.architecture, info.device, info.description]
    .filter((s: unknown) => typeof s === "string" && s).join(" ") || "unknown adapter";
  // deno-lint-ignore no-explicit-any
  const software = Boolean(info.isFallbackAdapter ?? (adapter as any).isFallbackAdapter) ||
    /swiftshader|llvmpipe|lavapipe/i.test(name);
  return { adapter, name, software };
}

/**
 * Starts tfjs in a page: `webgpu` when asked for (any adapter) or, for `auto`, on a hardware
 * adapter; wasm otherwise, saying why. A backend that was asked for and cannot start throws an
 * Error whose message says why, for the page to show.
 *
 * @example
 * ```ts ignore
 * const info = await startBrowserBackend("auto", { wasmPath: "/wasm/" });
 * console.log(info.name, info.reason);
 * ```
 */
export async function startBrowserBackend(
  request: BrowserBackendRequest,
  options: BrowserBackendOptions,
): Promise<BrowserBackendInfo> {
  let why = "";
  if (request !== "wasm") {
    const probe = await probeAdapter();
    if (request === "webgpu" && !probe.adapter) throw new Error(`WebGPU cannot start: ${probe.name}`);
    if (probe.adapter && (request === "webgpu" || !probe.software)) {
      let ok = false;
      try {
        ok = await tf.setBackend("webgpu");
      } catch {
        ok = false;
      }
      if (ok && tf.getBackend() === "webgpu") {
        tf.enableProdMode();
        return {
          name: "webgpu",
          adapter: probe.name,
          reason: probe.software ? `${probe.name} (a software adapter)` : probe.name,
        };
      }
      if (request === "webgpu") throw new Error(`WebGPU failed to start on adapter "${probe.name}"`);
      why = `WebGPU failed to start on "${probe.name}"`;
    } else {
      why = probe.adapter ? `only a software GPU adapter (${probe.name})` : probe.name;
    }
  } else {
    why = "requested";
  }
  setWasmPaths(options.wasmPath);
  const isolated = Boolean((globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated);
  if (options.threads !== undefined) setThreadsCount(options.threads);
  else if (!isolated) setThreadsCount(1);
  registerWasmTrainingKernels();
  let ok = false;
  try {
    ok = await tf.setBackend("wasm");
  } catch (err) {
    throw new Error(`the wasm backend failed to start: ${(err as Error).message.split("\n")[0]}`, {
      cause: err,
    });
  }
  if (!ok) {
    throw new Error(
      `the wasm backend failed to start: its binary could not be loaded from ${options.wasmPath}`,
    );
  }
  tf.enableProdMode();
  const threads = getThreadsCount();
  const threadNote = threads > 1
    ? `${threads} threads`
    : isolated || options.threads !== undefined
    ? "1 thread"
    : "1 thread: the page is not cross-origin isolated";
  return { name: "wasm", reason: `${why}; ${threadNote}` };
}

/** A checkpoint loaded in the page, ready to sample. */
export interface BrowserModel {
  /** The model, its schedule and data mean. */
  loaded: LoadedModel;
  /** Its size on the wire, in bytes. */
  bytes: number;
}

/**
 * Downloads (with progress) and verifies a checkpoint, then builds its model with the EMA weights:
 * the same steps as `EmojiDiffusion.load` in Deno.
 *
 * @example
 * ```ts ignore
 * const m = await loadBrowserModel(new URL("/models/apple-faces.safetensors", location.href));
 * ```
 */
export async function loadBrowserModel(
  url: URL,
  onProgress?: (p: LoadProgress) => void,
): Promise<BrowserModel> {
  const { bytes, name } = await readCheckpointSource(url, { onProgress });
  const ckpt = decodeCheckpoint(bytes, name);
  return { loaded: modelFromCheckpoint(ckpt, true), bytes: bytes.length };
}

/**
 * Samples like `EmojiDiffusion.sample`: the start is drawn around the checkpoint's data mean
 * when it has one, so a seed gives the same images as in Deno.
 *
 * @example
 * ```ts ignore
 * const { images } = await sampleBrowser(model, { n: 4, steps: 10, seed: 1 });
 * ```
 */
export function sampleBrowser(model: BrowserModel, options: SampleOptions): Promise<SampleResult> {
  const { loaded } = model;
  const withMean = loaded.dataMean ? { dataMean: loaded.dataMean, ...options } : options;
  // a conditioned model draws what deno task sample draws: its default labels and guidance
  return sampleImages(
    loaded.model,
    loaded.schedule,
    withSamplingDefaults(withMean, loaded.model.labels, loaded.sampling),
  );
}
