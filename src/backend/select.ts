/**
 * Backend selection: one call that initialises tfjs on `webgpu`, `native`, `wasm` or `cpu` and says
 * why. `native` is the wasm backend with its convolutions and matrix products computed by the system
 * BLAS through Deno FFI (`src/backend/native/`).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
// tfjs-core alone registers no gradients (its ESM registrar does not resolve in Deno); the
// @tensorflow/tfjs bundle registers them all into the shared global registry.
import "@tensorflow/tfjs";
import { join, resolve } from "node:path";
import { wasmPackageDir } from "./wasm_package.ts";
import {
  type Blas,
  BlasUnavailableError,
  ffiAllowed,
  openBlas,
  registerNativeKernels,
  unregisterNativeKernels,
} from "./native/mod.ts";

/** A backend the user may ask for; `auto` means "the fastest one that really runs here". */
export type BackendRequest = "auto" | "webgpu" | "native" | "wasm" | "cpu";

/** The backends that can actually run. */
export type BackendName = "webgpu" | "native" | "wasm" | "cpu";

/** What {@linkcode initBackend} chose and why. */
export interface BackendInfo {
  /** The tfjs backend now active. */
  name: BackendName;
  /** Why it was chosen, for the one-line report, e.g. `NVIDIA H200` or `no GPU adapter`. */
  reason: string;
  /** The GPU adapter's description when `name` is `webgpu`. */
  adapter?: string;
  /** Whether the WebGPU adapter is a software one (Mesa llvmpipe). */
  fallbackAdapter?: boolean;
  /** The BLAS library when `name` is `native`. */
  blas?: {
    /** What the library says of itself, e.g. `OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH … Cooperlake`. */
    description: string;
    /** The core type it dispatches to, e.g. `Cooperlake`, where it says. */
    core: string;
    /** Its threads (0: it does not say). */
    threads: number;
    /** The file name or path it was opened by. */
    path: string;
  };
  /** wasm (XNNPACK) threads, for `wasm` and `native`. */
  wasmThreads?: number;
}

/** Options of {@linkcode initBackend}. */
export interface InitBackendOptions {
  /** Where the one-line report goes; `null` silences it. Default: `console.error`. */
  log?: ((line: string) => void) | null;
  /**
   * XNNPACK threads for wasm (default 1). `"auto"` uses every logical CPU (up to 8) when they are
   * idle at start-up and one thread otherwise; a number above 1 asks for that many regardless of
   * load. Threads come from tfjs's threaded build, started by `src/backend/wasm_threads.ts` with a watchdog
   * that falls back to one thread (saying why) when a worker never starts: ~1.5× faster on idle
   * cores, but 1.5–3× slower when another process keeps a core busy. Decided once per process.
   */
  wasmThreads?: number | "auto";
  /** Folder the threaded build may write its two scripts to (default: the OS temp folder). */
  tempDir?: string;
  /**
   * BLAS threads for `native` (default: as many as the wasm threads). The BLAS and the wasm kernels
   * run one after the other, never at once, so both may use every core.
   */
  blasThreads?: number;
}

/** The valid backend requests, for flag validation and error messages. */
export const BACKEND_REQUESTS: readonly BackendRequest[] = ["auto", "webgpu", "native", "wasm", "cpu"];

interface AdapterProbe {
  adapter: GPUAdapter | null;
  description: string;
  fallback: boolean;
}

let adapterProbe: Promise<AdapterProbe> | null = null;

/**
 * Asks the platform for a WebGPU adapter, once per runtime (later calls get the same answer). tfjs
 * alone cannot tell: with no adapter, `tf.setBackend("webgpu")` returns false while `getBackend()` may
 * still say webgpu.
 */
export function probeGpuAdapter(): Promise<AdapterProbe> {
  adapterProbe ??= requestAdapter();
  return adapterProbe;
}

async function requestAdapter(): Promise<AdapterProbe> {
  const gpu = (globalThis.navigator as Navigator | undefined)?.gpu;
  if (!gpu) return { adapter: null, description: "navigator.gpu is missing", fallback: false };
  let adapter: GPUAdapter | null = null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: "high-performance" });
  } catch {
    adapter = null;
  }
  if (!adapter) return { adapter: null, description: "no GPU adapter", fallback: false };
  // deno-lint-ignore no-explicit-any
  const info = adapter.info as any;
  const description = String(info?.description || info?.device || info?.vendor || "unknown adapter");
  // deno-lint-ignore no-explicit-any
  const fallback = Boolean(info?.isFallbackAdapter ?? (adapter as any).isFallbackAdapter ?? false) ||
    /llvmpipe|lavapipe|swiftshader/i.test(description);
  return { adapter, description, fallback };
}

/**
 * The folder holding the wasm binaries of the installed npm package (never a CDN), found from the
 * package itself, so it works when this library is imported from a URL (JSR) as well as from disk.
 */
function wasmBinaryDir(version: string): string {
  return join(wasmPackageDir(version), "dist") + "/";
}

interface WasmStart {
  /** How many threads it got and why, e.g. `2 threads`. */
  note: string;
  /** The thread count. */
  threads: number;
}

let wasmReady: Promise<WasmStart> | null = null;

/** Starts wasm once per process, with plain wasm kernels; returns how many threads it got and why. */
async function startWasm(threads: number | "auto", tempDir?: string): Promise<WasmStart> {
  if (!wasmReady) {
    wasmReady = (async () => {
      const wasm = await import("@tensorflow/tfjs-backend-wasm");
      wasm.setWasmPaths(wasmBinaryDir(wasm.version_wasm));
      let note = "1 thread";
      let count = 1;
      if (threads === "auto" || threads > 1) {
        const { enableWasmThreads } = await import("./wasm_threads.ts");
        // absolute: the glue is loaded with require(), which resolves relative paths as modules
        if (tempDir) tempDir = resolve(tempDir);
        if (tempDir) await Deno.mkdir(tempDir, { recursive: true });
        const r = threads === "auto"
          ? await enableWasmThreads({ log: null, tempDir })
          : await enableWasmThreads({ threads, ignoreLoad: true, log: null, tempDir });
        note = r.threads > 1 ? `${r.threads} threads` : `1 thread: ${r.reason}`;
        count = r.threads;
      }
      const { registerWasmTrainingKernels } = await import("./wasm/mod.ts");
      registerWasmTrainingKernels();
      return { note, threads: count };
    })();
  }
  const started = await wasmReady;
  if (!(await tf.setBackend("wasm"))) {
    throw new Error("backend wasm failed to start: the tfjs-backend-wasm binary could not be loaded");
  }
  unregisterNativeKernels();
  return started;
}

let blas: Blas | null = null;

/** Opens the system BLAS once per process (throws BlasUnavailableError saying what to install). */
function systemBlas(): Blas {
  blas ??= openBlas();
  return blas;
}

/**
 * Whether the `native` backend can start here: FFI is granted and a system BLAS loads (it stays open
 * for {@linkcode initBackend}).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { nativeAvailable } from "./select.ts";
 * assert.equal(typeof nativeAvailable(), "boolean");
 * ```
 */
export function nativeAvailable(): boolean {
  if (!ffiAllowed()) return false;
  try {
    systemBlas();
    return true;
  } catch (e) {
    if (e instanceof BlasUnavailableError) return false;
    throw e;
  }
}

/** Starts wasm, then swaps its GEMM kernels for the BLAS's; returns the report fields. */
async function startNative(
  blasLib: Blas,
  options: InitBackendOptions,
): Promise<Omit<BackendInfo, "name" | "reason">> {
  const wasm = await startWasm(options.wasmThreads ?? 1, options.tempDir);
  const threads = blasLib.setThreads(options.blasThreads ?? wasm.threads);
  registerNativeKernels(blasLib);
  return {
    blas: { description: blasLib.description, core: blasLib.core, threads, path: blasLib.path },
    wasmThreads: wasm.threads,
  };
}

/** `OpenBLAS 0.3.21 (Cooperlake), 2 BLAS threads + 2 wasm threads`. */
function nativeNote(info: Omit<BackendInfo, "name" | "reason">): string {
  const b = info.blas!;
  const name = b.description.split(" ").slice(0, 2).join(" ");
  const core = b.core ? ` (${b.core})` : "";
  const threads = b.threads > 0 ? `${b.threads} BLAS thread${b.threads === 1 ? "" : "s"}` : "BLAS threads";
  const wasm = info.wasmThreads ?? 1;
  return `${name}${core}, ${threads} + ${wasm} wasm thread${wasm === 1 ? "" : "s"}`;
}

async function startWebgpu(probe: AdapterProbe): Promise<void> {
  await import("@tensorflow/tfjs-backend-webgpu");
  let ok = false;
  try {
    ok = await tf.setBackend("webgpu");
  } catch {
    ok = false;
  }
  if (!ok || tf.getBackend() !== "webgpu") {
    throw new Error(`backend webgpu failed to start on adapter "${probe.description}"`);
  }
}

/**
 * Ends tfjs's WebGPU backend in this runtime: disposes its buffers, destroys its GPU device and
 * forgets the adapter, so that no GPU work is alive when the runtime ends. The backend cannot be used
 * again in this runtime. Returns whether there was one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { releaseWebgpu } from "./select.ts";
 * assert.equal(releaseWebgpu(), false); // never started here
 * ```
 */
export function releaseWebgpu(): boolean {
  const backend = tf.findBackend("webgpu") as { device?: GPUDevice } | null;
  if (!backend) return false;
  tf.removeBackend("webgpu");
  backend.device?.destroy();
  adapterProbe = null;
  return true;
}

/**
 * Initialises tfjs for the requested backend and reports one line saying what it chose and why.
 *
 * `auto` picks WebGPU only for a hardware adapter, else `wasm`. A software adapter (Mesa llvmpipe)
 * is used only when `webgpu` is asked for explicitly. A requested backend that cannot start is an
 * error, never a silent fallback.
 *
 * @example Start the CPU backend quietly
 * ```ts
 * import assert from "node:assert/strict";
 * import { initBackend } from "./select.ts";
 * const info = await initBackend("cpu", { log: null });
 * assert.equal(info.name, "cpu");
 * ```
 */
export async function initBackend(
  request: BackendRequest = "auto",
  options: InitBackendOptions = {},
): Promise<BackendInfo> {
  if (!BACKEND_REQUESTS.includes(request)) {
    throw new RangeError(`unknown backend "${request}": choose one of ${BACKEND_REQUESTS.join(", ")}`);
  }
  const log = options.log === undefined ? (line: string) => console.error(line) : options.log;
  let info: BackendInfo;
  if (request === "cpu") {
    if (!(await tf.setBackend("cpu"))) throw new Error("backend cpu failed to start");
    info = { name: "cpu", reason: "requested" };
  } else if (request === "wasm") {
    const wasm = await startWasm(options.wasmThreads ?? 1, options.tempDir);
    info = { name: "wasm", reason: `requested, ${wasm.note}`, wasmThreads: wasm.threads };
  } else if (request === "native") {
    const fields = await startNative(systemBlas(), options);
    info = { name: "native", reason: `requested, ${nativeNote(fields)}`, ...fields };
  } else {
    const probe = await probeGpuAdapter();
    if (request === "webgpu") {
      if (!probe.adapter) {
        throw new Error(`backend webgpu cannot start: ${probe.description}; use the wasm or cpu backend`);
      }
      await startWebgpu(probe);
      info = {
        name: "webgpu",
        reason: probe.fallback ? `${probe.description}, software adapter` : probe.description,
        adapter: probe.description,
        fallbackAdapter: probe.fallback,
      };
    } else if (probe.adapter && !probe.fallback) {
      await startWebgpu(probe);
      info = {
        name: "webgpu",
        reason: probe.description,
        adapter: probe.description,
        fallbackAdapter: false,
      };
    } else {
      const noGpu = probe.adapter ? `only a software GPU adapter: ${probe.description}` : probe.description;
      let noBlas: string;
      let blasLib: Blas | null = null;
      if (!ffiAllowed()) {
        noBlas = "no --allow-ffi for the system BLAS";
      } else {
        try {
          blasLib = systemBlas();
          noBlas = "";
        } catch (e) {
          if (!(e instanceof BlasUnavailableError)) throw e;
          noBlas = "no system BLAS (apt-get install libopenblas0-pthread)";
        }
      }
      if (blasLib) {
        const fields = await startNative(blasLib, options);
        info = { name: "native", reason: `${noGpu}; ${nativeNote(fields)}`, ...fields };
      } else {
        const wasm = await startWasm(options.wasmThreads ?? 1, options.tempDir);
        info = { name: "wasm", reason: `${noGpu}; ${noBlas}; ${wasm.note}`, wasmThreads: wasm.threads };
      }
    }
  }
  // Production mode: no per-op debug checks, and no "install tfjs-node" banner on cpu.
  tf.enableProdMode();
  log?.(`backend: ${info.name} (${info.reason})`);
  return info;
}

/**
 * Parses a `--backend` flag value into a {@linkcode BackendRequest}, or throws a RangeError naming it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseBackendRequest } from "./select.ts";
 * assert.equal(parseBackendRequest("wasm"), "wasm");
 * ```
 */
export function parseBackendRequest(value: string): BackendRequest {
  if ((BACKEND_REQUESTS as readonly string[]).includes(value)) return value as BackendRequest;
  throw new RangeError(`unknown backend "${value}": choose one of ${BACKEND_REQUESTS.join(", ")}`);
}
