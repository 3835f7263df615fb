/**
 * Library messages name an option by its library name in backquotes (`` `from` ``, `` `vendors` ``);
 * a task words them by the flags that set those options.
 *
 * @module
 */

/**
 * `message` with each backquoted option name of `flags` replaced by its flag.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { optionWording } from "./option_wording.ts";
 * assert.equal(
 *   optionWording('`vendors` "foo" is unknown', { vendors: "--vendor" }),
 *   '--vendor "foo" is unknown',
 * );
 * ```
 */
export function optionWording(message: string, flags: Readonly<Record<string, string>>): string {
  return message.replace(
    /`([A-Za-z]+)`/g,
    (all, name: string) => Object.hasOwn(flags, name) ? flags[name] : all,
  );
}
