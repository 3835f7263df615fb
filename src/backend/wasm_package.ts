/**
 * Where the installed `@tensorflow/tfjs-backend-wasm` npm package lies on disk, found from the
 * package itself rather than from this library's own location, so that it works whether the
 * library was imported from local files or from a URL (JSR serves it from `https:`).
 *
 * Deno always installs npm packages on disk (its global cache, or `node_modules/` with
 * `nodeModulesDir`), so the wasm binaries and the threaded build's scripts are read from there,
 * never from a CDN.
 *
 * @module
 */
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";

/** The npm name of tfjs's wasm backend. */
export const WASM_PACKAGE = "@tensorflow/tfjs-backend-wasm";

/**
 * The folder of the installed `@tensorflow/tfjs-backend-wasm` package. `version` is the version of
 * the package already loaded (its `version_wasm`), used when the import map's name does not resolve.
 * Throws an Error saying what to do when the package is not on disk.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { version_wasm } from "@tensorflow/tfjs-backend-wasm";
 * import { wasmPackageDir } from "./wasm_package.ts";
 * assert.ok(Deno.statSync(`${wasmPackageDir(version_wasm)}/dist/tfjs-backend-wasm-simd.wasm`).isFile);
 * ```
 */
export function wasmPackageDir(version: string): string {
  let url: string;
  try {
    // A literal, so that publishing rewrites it to the import map's `npm:` specifier, like the imports.
    url = import.meta.resolve("@tensorflow/tfjs-backend-wasm/package.json");
  } catch {
    // Not rewritten (JSR users have no import map): name the loaded version's package directly.
    const spec = `npm:${WASM_PACKAGE}@${version}/package.json`;
    try {
      url = import.meta.resolve(spec);
    } catch (err) {
      throw new Error(
        `the wasm backend cannot find ${WASM_PACKAGE}@${version} (${
          (err as Error).message.split("\n")[0]
        }); ` +
          `add it with: deno add npm:${WASM_PACKAGE}@${version}`,
        { cause: err },
      );
    }
  }
  if (!url.startsWith("file:")) {
    throw new Error(
      `the wasm backend needs ${WASM_PACKAGE} installed on disk, but it resolved to ${url}; ` +
        `run under Deno, which installs npm packages locally`,
    );
  }
  return dirname(fileURLToPath(url));
}
