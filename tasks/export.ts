/**
 * `deno task export`: turns a training checkpoint into a compact sampling checkpoint (EMA weights
 * and model state only, F32 or F16), optionally recording evaluation reports in its metadata.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { choiceFlag, runCli, UsageError } from "../src/cli.ts";
import { loadCheckpoint, samplingCheckpoint, saveCheckpoint } from "../src/checkpoint.ts";
import { pathExists } from "../src/io.ts";

const USAGE = `usage: deno task export --checkpoint FILE --out FILE [--dtype F32|F16] [--eval report.json,...]
  --checkpoint FILE   training checkpoint (e.g. data/runs/<run>/latest.safetensors)
  --out FILE          the sampling checkpoint to write
  --dtype F32|F16     storage type (default F32)
  --eval LIST         report.json files of deno task eval to record in the metadata`;

async function main(): Promise<void> {
  const { values: v } = parseArgs({
    args: Deno.args,
    options: {
      checkpoint: { type: "string" },
      out: { type: "string" },
      dtype: { type: "string" },
      eval: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (v.help) return console.log(USAGE);
  if (!v.checkpoint || !v.out) throw new UsageError("--checkpoint and --out are required (see --help)");
  if (!(await pathExists(v.checkpoint))) {
    throw new UsageError(`--checkpoint "${v.checkpoint}" does not exist`);
  }
  const dtype = choiceFlag("dtype", v.dtype, ["F32", "F16"] as const, "F32");
  const evals: Record<string, unknown> = {};
  for (const path of v.eval?.split(",").filter((s) => s) ?? []) {
    if (!(await pathExists(path))) throw new UsageError(`--eval "${path}" does not exist`);
    const { meta, report } = JSON.parse(await Deno.readTextFile(path));
    // the untrained reference shares the sampler name: keep it apart from the model's own numbers
    const untrained = String(meta?.weights ?? "").startsWith("untrained");
    evals[`${untrained ? "untrained " : ""}${meta?.sampler ?? path}`] = {
      n: report.nSamples,
      kidConv: report.kid.conv.mean,
      kidConvStd: report.kid.conv.std,
      kidConvFloor: report.kid.conv.floor.mean,
      kidPixels8: report.kid.pixels8.mean,
      kidPixels8Std: report.kid.pixels8.std,
      kidPixels8Floor: report.kid.pixels8.floor.mean,
      memorisationRate: report.memorisation.rate,
      colour: report.colour,
      diversity: report.diversity,
      command: meta?.command,
    };
  }
  const ckpt = await loadCheckpoint(v.checkpoint);
  const out = samplingCheckpoint(ckpt, Object.keys(evals).length ? { eval: evals } : {});
  await saveCheckpoint(v.out, out, { dtype });
  const bytes = (await Deno.stat(v.out)).size;
  console.log(
    `wrote ${v.out}: ${out.tensors.size} tensors, ${dtype}, ${
      (bytes / 1e6).toFixed(2)
    } MB, step ${out.meta.step}`,
  );
}

if (import.meta.main) await runCli(main);
