/**
 * Fetching a pinned npm package on demand and finding it on disk. The emoji packages are large
 * (up to 130 MB) and only `prepare` needs them, so they are not in the import map (which every
 * `deno run` would install): a dynamic `npm:` import of the package's `package.json` brings the one
 * asked for into `node_modules` (or Deno's cache) the first time.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { dirname } from "node:path";
import { DatasetError } from "./manifest.ts";

/** An installed npm package. */
export interface NpmPackage {
  /** npm name, e.g. `openmoji`. */
  name: string;
  /** Version from its package.json. */
  version: string;
  /** Package root folder. */
  root: string;
}

/**
 * Fetches (on first use) and locates `name@version`. Throws a {@linkcode DatasetError} naming the
 * package when it cannot be had (no network on first use, a version that does not exist).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { locateNpmPackage } from "./npm_package.ts";
 * const pkg = await locateNpmPackage("imagescript", "1.3.1"); // in the import map: already installed
 * assert.equal(pkg.version, "1.3.1");
 * assert.ok(pkg.root.endsWith("imagescript"));
 * ```
 */
export async function locateNpmPackage(name: string, version: string): Promise<NpmPackage> {
  const spec = `npm:${name}@${version}/package.json`;
  try {
    const pkg = await import(spec, { with: { type: "json" } });
    const root = dirname(fileURLToPath(import.meta.resolve(spec)));
    return { name, version: String(pkg.default.version), root };
  } catch (err) {
    throw new DatasetError(
      `package ${name}@${version} could not be fetched from npm (${(err as Error).message.split("\n")[0]})`,
      { cause: err },
    );
  }
}
