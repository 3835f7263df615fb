/**
 * `deno task serve`: builds the page's bundle and serves the page, tfjs's wasm binaries and the
 * shipped checkpoints on 127.0.0.1, then prints the URL to open.
 *
 * @module
 */
import { intFlag, parseFlags, runCli, UsageError } from "../src/cli/flags.ts";
import { buildBundle, makeHandler } from "../web/server.ts";

const USAGE = `Usage: deno task serve [--port N]

Serves the emoji page on http://127.0.0.1:N/ (sampling runs in the browser, on WebGPU or wasm).

  --port N   port on 127.0.0.1 (default 8000; 0 picks a free one)`;

async function main(): Promise<void> {
  const { values: v } = parseFlags({
    args: Deno.args,
    options: { port: { type: "string" }, help: { type: "boolean", short: "h" } },
    strict: true,
  });
  if (v.help) return console.log(USAGE);
  const port = intFlag("port", v.port, 8000, 0, 65535);
  // a busy port is named before the bundle is built
  const inUse = () =>
    new UsageError(`--port ${port} is in use on 127.0.0.1: choose another --port (0 picks a free one)`);
  try {
    Deno.listen({ hostname: "127.0.0.1", port }).close();
  } catch (err) {
    if (err instanceof Deno.errors.AddrInUse) throw inUse();
    throw err;
  }
  const started = performance.now();
  const bundle = await buildBundle();
  const handler = await makeHandler({ bundle });
  let server: Deno.HttpServer;
  try {
    server = Deno.serve({
      hostname: "127.0.0.1",
      port,
      onListen: ({ port }) => {
        console.error(
          `bundle: ${(bundle.length / 1024).toFixed(0)} KiB, built in ${
            ((performance.now() - started) / 1000).toFixed(1)
          } s`,
        );
        console.log(`serving http://127.0.0.1:${port}/`);
      },
    }, handler);
  } catch (err) {
    if (err instanceof Deno.errors.AddrInUse) throw inUse();
    throw err;
  }
  const stop = () => server.shutdown();
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  await server.finished;
}

if (import.meta.main) await runCli(main);
