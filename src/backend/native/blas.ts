/**
 * The system BLAS through Deno FFI: finding a library, opening it, and one row-major `sgemm` that
 * works on `Float32Array` views of the wasm heap (ArrayBuffer or SharedArrayBuffer, any offset).
 *
 * Libraries are tried in the order of {@linkcode BLAS_CANDIDATES}; `EMOJI_DIFFUSION_BLAS` names a
 * path to try first. Only `cblas_sgemm` is required; thread control and the library's own
 * description (OpenBLAS's config and core type, BLIS's version and architecture) are used when the
 * library has them.
 *
 * @module
 */
import { UsageError } from "../../errors.ts";

/** The environment variable naming a BLAS library to try before the table. */
export const BLAS_ENV = "EMOJI_DIFFUSION_BLAS";

/** One library to try: what it is and the file name or path `dlopen` gets. */
export interface BlasCandidate {
  /** The library's family, e.g. `OpenBLAS`. */
  family: "OpenBLAS" | "BLIS" | "MKL" | "Accelerate" | "BLAS";
  /** What to pass to `Deno.dlopen`. */
  path: string;
  /** The operating systems it exists on (`Deno.build.os`). */
  os: readonly string[];
}

/** The libraries tried, in order, after {@linkcode BLAS_ENV}. */
export const BLAS_CANDIDATES: readonly BlasCandidate[] = [
  { family: "OpenBLAS", path: "libopenblas.so.0", os: ["linux"] },
  { family: "OpenBLAS", path: "libopenblas.so", os: ["linux"] },
  { family: "BLIS", path: "libblis.so.4", os: ["linux"] },
  { family: "MKL", path: "libmkl_rt.so.2", os: ["linux"] },
  { family: "MKL", path: "libmkl_rt.so", os: ["linux"] },
  {
    family: "Accelerate",
    path: "/System/Library/Frameworks/Accelerate.framework/Accelerate",
    os: ["darwin"],
  },
  { family: "OpenBLAS", path: "/opt/homebrew/opt/openblas/lib/libopenblas.dylib", os: ["darwin"] },
  { family: "OpenBLAS", path: "/usr/local/opt/openblas/lib/libopenblas.dylib", os: ["darwin"] },
  { family: "OpenBLAS", path: "libopenblas.dll", os: ["windows"] },
];

/** How to get a BLAS library on this operating system, for error messages. */
export function blasInstallHint(os: string = Deno.build.os): string {
  if (os === "darwin") return "macOS has Accelerate; or brew install openblas";
  if (os === "windows") return "put libopenblas.dll (from the OpenBLAS releases) on PATH";
  return "apt-get install libopenblas0-pthread (Debian, Ubuntu) or dnf install openblas (Fedora)";
}

/**
 * Why the native backend cannot start: no library, no FFI permission, or a library without sgemm. A
 * usage error: the message says what to install or grant.
 */
export class BlasUnavailableError extends UsageError {
  /** Always `"BlasUnavailableError"`. */
  override name = "BlasUnavailableError";
}

const SYMBOLS = {
  cblas_sgemm: {
    parameters: [
      "i32",
      "i32",
      "i32",
      "i32",
      "i32",
      "i32",
      "f32",
      "buffer",
      "i32",
      "buffer",
      "i32",
      "f32",
      "buffer",
      "i32",
    ],
    result: "void",
  },
  openblas_set_num_threads: { parameters: ["i32"], result: "void", optional: true },
  openblas_get_num_threads: { parameters: [], result: "i32", optional: true },
  openblas_get_config: { parameters: [], result: "pointer", optional: true },
  openblas_get_corename: { parameters: [], result: "pointer", optional: true },
  bli_thread_set_num_threads: { parameters: ["i64"], result: "void", optional: true },
  bli_thread_get_num_threads: { parameters: [], result: "i64", optional: true },
  bli_info_get_version_str: { parameters: [], result: "pointer", optional: true },
  bli_arch_query_id: { parameters: [], result: "i32", optional: true },
  bli_arch_string: { parameters: ["i32"], result: "pointer", optional: true },
  MKL_Set_Num_Threads: { parameters: ["i32"], result: "void", optional: true },
  MKL_Get_Max_Threads: { parameters: [], result: "i32", optional: true },
} as const;

type BlasLib = Deno.DynamicLibrary<typeof SYMBOLS>;

const ROW_MAJOR = 101;
const NO_TRANS = 111;
const TRANS = 112;

/** An opened BLAS library. */
export interface Blas {
  /** The library's family, e.g. `OpenBLAS`. */
  family: BlasCandidate["family"];
  /** The path or name it was opened by. */
  path: string;
  /** What the library says of itself, e.g. `OpenBLAS 0.3.21 … Cooperlake`, or the family alone. */
  description: string;
  /** The core type it dispatches to where it says (`Cooperlake`, `skx`), else `""`. */
  core: string;
  /**
   * C = alpha·op(A)·op(B) + beta·C, all row-major, op = transpose when asked. `a`, `b`, `c` start at
   * their views' offsets; `lda`, `ldb`, `ldc` are row strides in elements.
   */
  sgemm(
    transA: boolean,
    transB: boolean,
    m: number,
    n: number,
    k: number,
    alpha: number,
    a: Float32Array,
    lda: number,
    b: Float32Array,
    ldb: number,
    beta: number,
    c: Float32Array,
    ldc: number,
  ): void;
  /** Sets the library's thread count where it can; returns the count in effect (0: unknown). */
  setThreads(threads: number): number;
  /** The library's thread count where it says, else 0. */
  threads(): number;
  /** Closes the library; the object is unusable afterwards. */
  close(): void;
}

function cString(p: Deno.PointerValue): string {
  return p ? new Deno.UnsafePointerView(p).getCString() : "";
}

function wrap(lib: BlasLib, family: BlasCandidate["family"], path: string): Blas {
  const s = lib.symbols;
  let core = "";
  let description: string = family;
  if (s.openblas_get_config) {
    description = cString(s.openblas_get_config());
    core = s.openblas_get_corename ? cString(s.openblas_get_corename()) : "";
    if (!description.startsWith("OpenBLAS")) description = `OpenBLAS ${description}`;
    family = "OpenBLAS";
  } else if (s.bli_info_get_version_str) {
    description = `BLIS ${cString(s.bli_info_get_version_str())}`;
    if (s.bli_arch_query_id && s.bli_arch_string) core = cString(s.bli_arch_string(s.bli_arch_query_id()));
    family = "BLIS";
  } else if (s.MKL_Set_Num_Threads) {
    family = "MKL";
    description = "Intel MKL";
  }
  const sgemm = s.cblas_sgemm;
  return {
    family,
    path,
    description,
    core,
    sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) {
      if (m === 0 || n === 0) return;
      sgemm(
        ROW_MAJOR,
        transA ? TRANS : NO_TRANS,
        transB ? TRANS : NO_TRANS,
        m,
        n,
        k,
        alpha,
        a,
        lda,
        b,
        ldb,
        beta,
        c,
        ldc,
      );
    },
    setThreads(threads) {
      if (s.openblas_set_num_threads) s.openblas_set_num_threads(threads);
      else if (s.bli_thread_set_num_threads) s.bli_thread_set_num_threads(BigInt(threads));
      else if (s.MKL_Set_Num_Threads) s.MKL_Set_Num_Threads(threads);
      return this.threads();
    },
    threads() {
      if (s.openblas_get_num_threads) return s.openblas_get_num_threads();
      if (s.bli_thread_get_num_threads) return Number(s.bli_thread_get_num_threads());
      if (s.MKL_Get_Max_Threads) return s.MKL_Get_Max_Threads();
      return 0;
    },
    close() {
      lib.close();
    },
  };
}

/** Options of {@linkcode openBlas}. */
export interface OpenBlasOptions {
  /** Libraries to try instead of `EMOJI_DIFFUSION_BLAS` and {@linkcode BLAS_CANDIDATES}. */
  candidates?: readonly BlasCandidate[];
}

/** Whether this runtime may call `Deno.dlopen` (FFI permission granted, API present). */
export function ffiAllowed(): boolean {
  if (typeof Deno === "undefined" || typeof Deno.dlopen !== "function") return false;
  try {
    return Deno.permissions.querySync({ name: "ffi" }).state === "granted";
  } catch {
    return false;
  }
}

function envPath(): string | undefined {
  try {
    if (Deno.permissions.querySync({ name: "env", variable: BLAS_ENV }).state !== "granted") return undefined;
    return Deno.env.get(BLAS_ENV) || undefined;
  } catch {
    return undefined;
  }
}

/**
 * Opens the first BLAS library that loads and has `cblas_sgemm`: the path in `EMOJI_DIFFUSION_BLAS`
 * when set, then {@linkcode BLAS_CANDIDATES} for this operating system. Throws a
 * {@linkcode BlasUnavailableError} (one line: what was tried and what to install) when none does, or
 * when FFI is not allowed.
 *
 * @example Open the system BLAS and multiply two 2×2 matrices
 * ```ts
 * import assert from "node:assert/strict";
 * import { BlasUnavailableError, openBlas } from "./blas.ts";
 * try {
 *   const blas = openBlas();
 *   const c = new Float32Array(4);
 *   blas.sgemm(false, false, 2, 2, 2, 1, Float32Array.of(1, 2, 3, 4), 2, Float32Array.of(1, 0, 0, 1), 2, 0, c, 2);
 *   assert.deepEqual([...c], [1, 2, 3, 4]);
 *   blas.close();
 * } catch (e) {
 *   assert.ok(e instanceof BlasUnavailableError); // no BLAS on this machine: the message says what to install
 * }
 * ```
 */
export function openBlas(options: OpenBlasOptions = {}): Blas {
  if (!ffiAllowed()) {
    throw new BlasUnavailableError(
      "backend native needs FFI to call the system BLAS: run with --allow-ffi (the deno tasks grant it)",
    );
  }
  const fromEnv = options.candidates ? undefined : envPath();
  const candidates: BlasCandidate[] = [
    ...(fromEnv ? [{ family: "BLAS" as const, path: fromEnv, os: [Deno.build.os] }] : []),
    ...(options.candidates ?? BLAS_CANDIDATES).filter((c) => c.os.includes(Deno.build.os)),
  ];
  const tried: string[] = [];
  for (const c of candidates) {
    let lib: BlasLib;
    try {
      lib = Deno.dlopen(c.path, SYMBOLS);
    } catch (e) {
      tried.push(c.path);
      if (c.path === fromEnv) {
        throw new BlasUnavailableError(
          `${BLAS_ENV}=${fromEnv} cannot be used as a BLAS (${
            firstLine(e)
          }): point it at a library with cblas_sgemm, or unset it`,
          { cause: e },
        );
      }
      continue;
    }
    return wrap(lib, c.family, c.path);
  }
  throw new BlasUnavailableError(
    `backend native found no BLAS library (tried ${tried.join(", ") || "nothing for " + Deno.build.os}): ` +
      `${blasInstallHint()}, or set ${BLAS_ENV} to a library's path`,
  );
}

function firstLine(e: unknown): string {
  return String(e instanceof Error ? e.message : e).split("\n")[0];
}
