/**
 * Test helper run as a child process (not a test module): writes the checkpoint bytes of FILE into the
 * run folder DIR as step STEP, the way training does. With `EMOJI_DIFFUSION_FAULT=<stage>@<step>` in its
 * environment it ends at that stage as a kill would, leaving the folder as a killed run leaves it.
 *
 *     deno run --allow-read --allow-write --allow-env --allow-sys tests/fault_writer.ts DIR STEP FILE
 */
import { RunFolder } from "../src/train/run_folder.ts";

const [dir, step, file] = Deno.args;
const run = await RunFolder.open(dir, { log: null });
await run.writeCheckpoint(Number(step), await Deno.readFile(file));
await run.close();
