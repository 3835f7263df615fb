/**
 * What the thin CLIs in `tasks/` share and the library never imports: the error contract (one line
 * `error: …`, exit 2 for bad input, 1 for a failure), flag parsing that names the flag and its range
 * (`flags.ts`), the edit flags of `deno task sample` (`sample_edit.ts`) and the training flags, read from
 * the training settings' schema (`train_flags.ts`).
 *
 * @module
 */
export * from "./flags.ts";
export * from "./option_wording.ts";
export * from "./sample_edit.ts";
export * from "./train_flags.ts";
