/**
 * Kernels that make tfjs-backend-wasm 4.22.0 able to train. Filled in by the CPU-speed work.
 *
 * @module
 */

/** Registers the wasm kernels that training needs (idempotent). */
export function registerWasmTrainingKernels(): void {
}
