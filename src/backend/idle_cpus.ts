/**
 * How many CPUs are idle now: what `--threads auto` and `--workers auto` decide by. Imports no tfjs, so
 * that asking registers no backend.
 *
 * @module
 */
import { cpus } from "node:os";

/**
 * Idle CPUs (0..logical CPUs) averaged over `ms`, from the CPU times of `node:os`'s `cpus()`
 * (`--allow-sys`; Deno keeps /proc/stat itself behind `--allow-all`); null where they are unavailable.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { idleCpus } from "./idle_cpus.ts";
 * const idle = await idleCpus(50);
 * assert.ok(idle === null || (idle >= 0 && idle <= navigator.hardwareConcurrency + 0.01));
 * ```
 */
export async function idleCpus(ms: number): Promise<number | null> {
  const sample = (): { idle: number; total: number }[] | null => {
    try {
      return cpus().map(({ times: t }) => ({
        idle: t.idle,
        total: t.user + t.nice + t.sys + t.idle + t.irq,
      }));
    } catch {
      return null;
    }
  };
  const a = sample();
  if (!a?.length) return null;
  await new Promise((resolve) => setTimeout(resolve, ms));
  const b = sample();
  if (!b || b.length !== a.length) return null;
  let idle = 0, total = 0;
  b.forEach((c, i) => {
    idle += c.idle - a[i].idle;
    total += c.total - a[i].total;
  });
  return total > 0 ? (idle / total) * b.length : null;
}
