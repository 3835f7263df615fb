/**
 * Backends: choosing one (`select.ts`: WebGPU, native, wasm or cpu, and why), the wasm backend's
 * threads and package, and the kernels: `wasm/` (what makes tfjs-backend-wasm train, one kernel a
 * file, `wasm/mod.ts` the registry) and `native/` (the GEMM-heavy kernels on the system BLAS through
 * Deno FFI, `native/mod.ts` the registry).
 *
 * @module
 */
export * from "./select.ts";
export * from "./wasm/mod.ts";
export * from "./native/mod.ts";
