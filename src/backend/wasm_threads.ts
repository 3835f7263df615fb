/**
 * Multi-threaded tfjs-backend-wasm 4.22.0 under Deno.
 *
 * The package never uses its threaded build outside browsers (it reports no thread support when it
 * sees `process`), and forcing it fails in Deno: the pthread worker is a `blob:` URL, which
 * `node:worker_threads` refuses (`ERR_WORKER_PATH`), the worker script assigns to read-only globals
 * of Deno's worker scope, and the thread count is capped at (logical CPUs / 2), i.e. 1 on 2 CPUs.
 *
 * {@linkcode enableWasmThreads} therefore starts the threaded build itself, from the package's own
 * files: it writes the Emscripten glue (pthread pool and CPU count patched) and the worker script
 * (global assignment patched) to a temporary folder, loads the glue with `require`, waits for the
 * pool workers with a watchdog that re-spawns any worker that has not reported in, creates a
 * `BackendWasm` on the module and registers it as the `wasm` backend. Any failure leaves the stock
 * single-threaded backend in place and says why.
 *
 * Speed depends entirely on the second core being free. Measured on the 2-CPU machine, idle:
 * forward ~1.4-1.8x and training ~1.5x faster (U-Net batch 8: 1.2-1.8 s -> 0.8-1.0 s per step).
 * With ANY other CPU-bound process running (even at nice 10), the two threads end up taking turns
 * on one core and everything is 1.5-3x SLOWER; hence the idle-CPU check at start-up (`ignoreLoad`).
 * The thread count cannot change after start-up, so a busy neighbour starting later still hurts:
 * enable it only where the machine is dedicated to this process.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import * as wasmPackage from "@tensorflow/tfjs-backend-wasm";
import { createRequire } from "node:module";
import { join } from "node:path";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { Worker } from "node:worker_threads";
import { wasmPackageDir } from "./wasm_package.ts";
import { idleCpus } from "./idle_cpus.ts";

/** Options of {@linkcode enableWasmThreads}. */
export interface WasmThreadsOptions {
  /** XNNPACK threads, the calling thread included. Default: the logical CPU count, at most 8. */
  threads?: number;
  /** How long to wait for the pool workers before re-spawning the silent ones. Default 4000 ms. */
  startupTimeoutMs?: number;
  /** Re-spawn rounds before giving up and staying on one thread. Default 2. */
  maxRespawns?: number;
  /**
   * Start even when other processes keep the CPUs busy. Default false: XNNPACK's thread pool then
   * serialises on the busy cores and runs 1.5-3x SLOWER than one thread (measured), so by default
   * the start-up samples the CPU times for 300 ms and stays single-threaded unless about `threads` CPUs
   * are idle.
   */
  ignoreLoad?: boolean;
  /** Where the one-line report goes; `null` silences it. Default: `console.error`. */
  log?: ((line: string) => void) | null;
  /** Folder for the patched glue and worker scripts (needs write permission). Default: the OS temp folder. */
  tempDir?: string;
}

/** What {@linkcode enableWasmThreads} achieved. */
export interface WasmThreadsResult {
  /** Threads the wasm backend will use: 1 when the threaded build is not in use. */
  threads: number;
  /** Why, for the report, e.g. `threaded build, 2 threads` or the failure. */
  reason: string;
  /** Milliseconds the threaded start-up took (0 when not attempted). */
  startupMs: number;
  /** Pool workers that were re-spawned because they had not reported in. */
  respawned: number;
}

const PINNED = "4.22.0";
const GLUE = "wasm-out/tfjs-backend-wasm-threaded-simd.js";
const WORKER = "wasm-out/tfjs-backend-wasm-threaded-simd.worker.js";
const BINARY = "dist/tfjs-backend-wasm-threaded-simd.wasm";
const POOL_PATTERN = "var pthreadPoolSize=8;";
const CORES_PATTERN =
  'function _emscripten_num_logical_cores(){if(ENVIRONMENT_IS_NODE)return require("os").cpus().length;' +
  'return navigator["hardwareConcurrency"]}';
const GLOBALS_PATTERN = "Object.assign(global,{";

let started: Promise<WasmThreadsResult> | null = null;

/**
 * Switches the `wasm` backend to the multi-threaded build with `threads` XNNPACK threads. Call it after
 * `@tensorflow/tfjs-backend-wasm` is imported and BEFORE the wasm backend is first started
 * (`tf.setBackend("wasm")`, i.e. `initBackend("wasm")`); later calls return the first result. Never
 * throws for an environment problem: it falls back to the stock single-threaded backend and says why
 * in `reason`. Needs read and write permission (a temporary folder) and sys (CPU count).
 *
 * @example In `startWasm()` of backend.ts, right after `wasm.setWasmPaths(...)`:
 * ```ts ignore
 * await (await import("./wasm_threads.ts")).enableWasmThreads({ log: null });
 * ```
 */
export function enableWasmThreads(options: WasmThreadsOptions = {}): Promise<WasmThreadsResult> {
  if (!started) started = start(options);
  return started;
}

async function start(options: WasmThreadsOptions): Promise<WasmThreadsResult> {
  const log = options.log === undefined ? (line: string) => console.error(line) : options.log;
  const result = await tryStart(options);
  log?.(`wasm threads: ${result.threads} (${result.reason})`);
  return result;
}

function single(reason: string, startupMs = 0, respawned = 0): WasmThreadsResult {
  return { threads: 1, reason, startupMs, respawned };
}

// Emscripten module internals used here (Emscripten's PThread object of the threaded glue).
interface PThreadWorker {
  loaded?: boolean;
  onmessage: (e: { data: unknown }) => void;
  terminate(): void;
  unref(): void;
}
interface EmscriptenThreads {
  unusedWorkers: PThreadWorker[];
  runningWorkers: PThreadWorker[];
  loadWasmModuleToWorker(worker: PThreadWorker, onFinishedLoading: () => void): void;
  terminateAllThreads(): void;
}
// deno-lint-ignore no-explicit-any
type EmscriptenModule = Record<string, any> & { PThread?: EmscriptenThreads };

async function tryStart(options: WasmThreadsOptions): Promise<WasmThreadsResult> {
  if (tf.version_core !== PINNED || wasmPackage.version_wasm !== PINNED) {
    return single(`needs tfjs ${PINNED}, found core ${tf.version_core} and wasm ${wasmPackage.version_wasm}`);
  }
  // Not tf.findBackend: it would start the registered (single-threaded) backend.
  const registry = (tf.engine() as unknown as { registry: Record<string, unknown> }).registry;
  if (registry.wasm) return single("the wasm backend had already started single-threaded");
  let logicalCpus = 1;
  try {
    logicalCpus = cpus().length || 1;
  } catch {
    logicalCpus = navigator.hardwareConcurrency || 1;
  }
  const threads = Math.floor(options.threads ?? Math.min(8, logicalCpus));
  if (!(threads >= 2)) return single(threads === 1 ? "one thread requested" : `threads = ${options.threads}`);
  if (threads > 8) return single(`at most 8 threads (the build's limit), ${threads} requested`);
  try {
    new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
  } catch {
    return single("no shared WebAssembly memory here");
  }
  if (!options.ignoreLoad) {
    const idle = await idleCpus(300);
    // The calling thread needs a core too, and it is idle while this samples: want ~`threads` idle.
    if (idle !== null && idle < threads - 0.4) {
      return single(
        `only ${idle.toFixed(1)} of ${logicalCpus} CPUs idle, ${threads} threads would wait on busy cores`,
      );
    }
  }

  let gluePath: string;
  let glue: (config: EmscriptenModule) => Promise<EmscriptenModule>;
  let workerPath: string;
  let wasmBinary: string;
  try {
    // The package's own folder, not this module's: this module may have been imported from a URL.
    const packageDir = wasmPackageDir(wasmPackage.version_wasm);
    const require = createRequire(join(packageDir, "package.json"));
    let glueSource = readFileSync(join(packageDir, GLUE), "utf8");
    // The build pre-spawns 8 workers; XNNPACK uses threads - 1 of them (the caller is thread 0).
    glueSource = replaceOnce(glueSource, POOL_PATTERN, `var pthreadPoolSize=${threads - 1};`);
    // The wasm code takes (logical CPUs / 2) as its thread cap: report 2 * threads.
    glueSource = replaceOnce(
      glueSource,
      CORES_PATTERN,
      `function _emscripten_num_logical_cores(){return ${2 * threads}}`,
    );
    // Inside the template literal of the package's worker module, "\n" escapes became newlines.
    let workerSource: string = require(join(packageDir, WORKER)).wasmWorkerContents.replace(/\n/g, "\\n");
    // Deno's worker scope has read-only globals (location, self); define what can be defined.
    workerSource =
      "function __tfjsAssignGlobals(g,o){for(const k of Object.keys(o)){try{Object.defineProperty(g,k," +
      "{value:o[k],writable:true,configurable:true})}catch(e){try{g[k]=o[k]}catch(e2){}}}}\n" +
      replaceOnce(workerSource, GLOBALS_PATTERN, "__tfjsAssignGlobals(global,{");
    const dir = mkdtempSync(join(options.tempDir ?? tmpdir(), "tfjs-wasm-threads-"));
    gluePath = join(dir, "glue.cjs");
    workerPath = join(dir, "worker.cjs");
    writeFileSync(gluePath, glueSource);
    writeFileSync(workerPath, workerSource);
    globalThis.addEventListener("unload", () => rmSync(dir, { recursive: true, force: true }));
    glue = require(gluePath);
    wasmBinary = join(packageDir, BINARY);
    if (typeof glue !== "function") throw new Error("the threaded glue exports no factory");
  } catch (e) {
    return single(`could not prepare the threaded build: ${(e as Error).message}`);
  }

  const t0 = performance.now();
  let aborted: string | null = null;
  const config: EmscriptenModule = {
    locateFile: (path: string, prefix: string) =>
      path.endsWith(".worker.js") ? workerPath : path.endsWith(".wasm") ? wasmBinary : prefix + path,
    // A file path, not a Blob: the pthread workers load the glue with importScripts (readFileSync).
    mainScriptUrlOrBlob: gluePath,
    onAbort: (what: unknown) => {
      aborted = String(what);
    },
  };
  let module: EmscriptenModule | null = null;
  let respawned = 0;
  const ready = glue(config).then((m) => {
    module = m;
  }, (e) => {
    aborted = String(e?.message ?? e);
  });
  const timeoutMs = options.startupTimeoutMs ?? 4000;
  const maxRespawns = options.maxRespawns ?? 2;
  for (let round = 0;; round++) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([ready, new Promise<void>((resolve) => timer = setTimeout(resolve, timeoutMs))]);
    clearTimeout(timer);
    if (module || aborted) break;
    const pthread = config.PThread;
    if (!pthread || round >= maxRespawns) break;
    respawned += respawnSilentWorkers(pthread, workerPath);
  }
  const startupMs = Math.round(performance.now() - t0);
  if (!module) {
    try {
      config.PThread?.terminateAllThreads();
    } catch { /* the start-up failed; nothing else to release */ }
    return single(
      aborted ? `threaded build aborted: ${aborted}` : `pool workers did not start`,
      startupMs,
      respawned,
    );
  }

  const m: EmscriptenModule = module;
  try {
    m.tfjs = {
      init: m.cwrap("init", null, []),
      initWithThreadsCount: m.cwrap("init_with_threads_count", null, ["number"]),
      getThreadsCount: m.cwrap("get_threads_count", "number", []),
      registerTensor: m.cwrap("register_tensor", null, ["number", "number", "number"]),
      disposeData: m.cwrap("dispose_data", null, ["number"]),
      dispose: m.cwrap("dispose", null, []),
    };
    wasmPackage.setThreadsCount(threads);
    const backend = new wasmPackage.BackendWasm(m as never); // creates the XNNPACK thread pool
    const actual = m.tfjs.getThreadsCount() as number;
    // Emscripten keeps running pthread workers referenced, which would keep the process alive.
    for (const w of m.PThread?.runningWorkers ?? []) w.unref();
    if (!(actual >= 2)) {
      backend.dispose();
      return single(`the threaded build started only ${actual} thread(s)`, startupMs, respawned);
    }
    tf.removeBackend("wasm");
    tf.registerBackend("wasm", () => backend, 2);
    return { threads: actual, reason: `threaded build, ${actual} threads`, startupMs, respawned };
  } catch (e) {
    try {
      m.PThread?.terminateAllThreads();
    } catch { /* already failing */ }
    return single(`threaded backend failed to start: ${(e as Error).message}`, startupMs, respawned);
  }
}

function replaceOnce(source: string, pattern: string, replacement: string): string {
  const at = source.indexOf(pattern);
  if (at < 0 || source.indexOf(pattern, at + 1) >= 0) {
    throw new Error(
      `the tfjs-backend-wasm ${PINNED} glue changed: "${pattern.slice(0, 40)}..." not found once`,
    );
  }
  return source.slice(0, at) + replacement + source.slice(at + pattern.length);
}

/**
 * Replaces each pool worker that has not reported "loaded" with a fresh one. The fresh worker's
 * "loaded" is forwarded to the silent worker's handler, which counts it toward the module's start-up.
 */
function respawnSilentWorkers(pthread: EmscriptenThreads, workerPath: string): number {
  let count = 0;
  pthread.unusedWorkers.forEach((silent, i) => {
    // Only workers that were sent the module (the glue set their handler) can be replaced.
    if (silent.loaded || typeof silent.onmessage !== "function") return;
    const fresh = new Worker(workerPath) as unknown as PThreadWorker;
    pthread.unusedWorkers[i] = fresh;
    silent.terminate();
    pthread.loadWasmModuleToWorker(fresh, () => silent.onmessage({ data: { cmd: "loaded" } }));
    count++;
  });
  return count;
}
