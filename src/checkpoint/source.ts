/**
 * Where checkpoint bytes come from: a local path, a `URL` (`file:`, `http:`, `https:`) or bytes
 * already in memory. Whatever the source, the bytes then go through the same decoding and
 * integrity checks ({@linkcode decodeCheckpoint}), so a corrupt or truncated download fails with
 * the same one-line message as a corrupt or truncated file, naming the URL instead of the path.
 *
 * @module
 */
import { CheckpointError } from "./error.ts";
import { isPermissionError, notFoundError, readLocalFile } from "../platform/files.ts";

/** A checkpoint to read: a path, a URL (or a string starting `http:`, `https:`, `file:`), or its bytes. */
export type CheckpointSource = string | URL | Uint8Array;

/** How far a checkpoint download has got. */
export interface LoadProgress {
  /** Bytes received so far. */
  loaded: number;
  /** Bytes expected (the `Content-Length`), or null when the server does not say. */
  total: number | null;
  /** What is being read: the URL, the path, or `bytes`. */
  source: string;
}

/** Options for reading a checkpoint (see {@linkcode readCheckpointSource}). */
export interface LoadCheckpointOptions {
  /**
   * Called as a download progresses (after every chunk received) and once for a local file or
   * bytes, when they are read.
   */
  onProgress?: (progress: LoadProgress) => void;
  /** Aborts a download. */
  signal?: AbortSignal;
}

/** The bytes of a checkpoint and the name its error messages use (`checkpoint "…"`). */
export interface CheckpointBytes {
  /** The raw file. */
  bytes: Uint8Array;
  /** `checkpoint "<path or URL>"`, or `checkpoint` for bytes given directly. */
  name: string;
}

/** Turns a string that is a URL (`http:`, `https:`, `file:`) into a URL; other strings are paths. */
function asUrl(source: string | URL): URL | null {
  if (source instanceof URL) return source;
  return /^(https?|file):/i.test(source) ? new URL(source) : null;
}

/**
 * Reads a checkpoint's bytes from a path, a URL or memory. A missing file or an HTTP 404 is a
 * `Deno.errors.NotFound` naming it; a failed or cut-off download is a {@linkcode CheckpointError}.
 * URLs over HTTP need `--allow-net` for their host; paths and `file:` URLs need `--allow-read`.
 *
 * @example Bytes pass through unchanged
 * ```ts
 * import assert from "node:assert/strict";
 * import { readCheckpointSource } from "./source.ts";
 * const { bytes, name } = await readCheckpointSource(Uint8Array.of(1, 2, 3));
 * assert.equal(bytes.length, 3);
 * assert.equal(name, "checkpoint");
 * ```
 */
export async function readCheckpointSource(
  source: CheckpointSource,
  options: LoadCheckpointOptions = {},
): Promise<CheckpointBytes> {
  if (source instanceof Uint8Array) {
    options.onProgress?.({ loaded: source.length, total: source.length, source: "bytes" });
    return { bytes: source, name: "checkpoint" };
  }
  const url = asUrl(source);
  if (url && url.protocol !== "file:") {
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw new CheckpointError(`checkpoint "${url.href}": only http:, https: and file: URLs can be read`);
    }
    return { bytes: await download(url, options), name: `checkpoint "${url.href}"` };
  }
  const shown = url ? url.href : source as string;
  const bytes = await readLocalFile(url ?? source as string, shown);
  options.onProgress?.({ loaded: bytes.length, total: bytes.length, source: shown });
  return { bytes, name: `checkpoint "${shown}"` };
}

async function download(url: URL, options: LoadCheckpointOptions): Promise<Uint8Array> {
  const name = `checkpoint "${url.href}"`;
  let response: Response;
  try {
    response = await fetch(url, { signal: options.signal });
  } catch (err) {
    // A missing --allow-net is Deno's own clear message; keep it.
    if (isPermissionError(err) || (err as Error).name === "AbortError") throw err;
    throw new CheckpointError(`${name} could not be downloaded: ${firstLine(err)}`, { cause: err });
  }
  if (response.status === 404) {
    await response.body?.cancel();
    throw notFoundError(`${name} does not exist (HTTP 404)`);
  }
  if (!response.ok || !response.body) {
    await response.body?.cancel();
    throw new CheckpointError(
      `${name} could not be downloaded: HTTP ${response.status} ${response.statusText}`.trimEnd(),
    );
  }
  const length = response.headers.get("content-length");
  // A compressed body's length is not the length of the bytes received.
  const total = length !== null && !response.headers.get("content-encoding") ? Number(length) : null;
  const chunks: Uint8Array[] = [];
  let loaded = 0;
  try {
    for await (const chunk of response.body) {
      chunks.push(chunk);
      loaded += chunk.length;
      options.onProgress?.({ loaded, total, source: url.href });
    }
  } catch (err) {
    if ((err as Error).name === "AbortError") throw err;
    throw new CheckpointError(
      `${name} is truncated: the download stopped after ${loaded}${total ? ` of ${total}` : ""} bytes (${
        firstLine(err)
      })`,
      { cause: err },
    );
  }
  if (total !== null && loaded !== total) {
    throw new CheckpointError(`${name} is truncated: the download stopped after ${loaded} of ${total} bytes`);
  }
  const bytes = new Uint8Array(loaded);
  let at = 0;
  for (const c of chunks) {
    bytes.set(c, at);
    at += c.length;
  }
  return bytes;
}

function firstLine(err: unknown): string {
  return String((err as Error)?.message ?? err).split("\n")[0];
}
