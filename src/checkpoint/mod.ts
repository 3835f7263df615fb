/**
 * Checkpoints: the one-file safetensors format with its self-describing header and checksum
 * (`format.ts`), its error class, where a checkpoint comes from (a path, a URL or bytes,
 * `source.ts`), checkpoints split into parts (`split.ts`, `parts.ts`), and the shipped models by
 * name (`pretrained.ts`).
 *
 * @module
 */
export * from "./ema_choice.ts";
export * from "./error.ts";
export * from "./format.ts";
export * from "./parts.ts";
export * from "./pretrained.ts";
export * from "./source.ts";
export * from "./split.ts";
