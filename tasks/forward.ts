/**
 * `deno task forward`: the notebook's noising strip. One row per chosen emoji, one column per
 * timestep, one block of rows per schedule; x_t from qSample (unclamped, clipped only for display),
 * upscaled ×4 with 1-pixel gutters.
 *
 * ```
 * deno task forward [--dataset data/apple-faces-32] [--emoji grinning,3] [--t 0,100,200,300,400,499]
 *                   [--schedule linear|cosine|both] [--steps 500] [--seed 0] [--scale 4] [--out data/forward.png]
 * ```
 *
 * @module
 */
import { initBackend } from "../src/backend/select.ts";
import { dirname } from "node:path";
import { checkWritableDir, intFlag, parseFlags, runCli, UsageError } from "../src/cli/flags.ts";
import { DEFAULT_DATASET_DIR, type EmojiDataset, ensureDataset, forwardStrip } from "../src/dataset/mod.ts";
import { encodePng } from "../src/image/codec.ts";
import { makeGrid, stackVertical } from "../src/image/grid.ts";
import type { Rgb } from "../src/image/colour.ts";
import { atomicWriteFile } from "../src/platform/io.ts";
import { Rng } from "../src/core/rng.ts";
import { makeSchedule, SCHEDULE_KINDS, type ScheduleKind } from "../src/core/schedule.ts";

const USAGE = `usage: deno task forward [options]
  --dataset DIR     prepared dataset (default ${DEFAULT_DATASET_DIR}; the Apple faces set is prepared if missing)
  --emoji LIST      rows: image indices or names (short name, full name or code points); default 4 spread out
  --t LIST          columns: timesteps (default 0,100,200,300,400,499)
  --schedule KIND   linear (default), cosine, or both (one block per schedule)
  --steps T         diffusion steps (default 500)
  --seed N          noise seed (default 0)
  --scale N         upscale factor for display (default 4)
  --out FILE        output PNG (default data/forward.png)`;

const GUTTER: Rgb = [96, 96, 96];

/** Resolves `--emoji` entries to dataset indices; throws a UsageError listing the valid choices. */
function pickEmoji(ds: EmojiDataset, value: string | undefined): number[] {
  if (value === undefined) {
    const n = Math.min(4, ds.count);
    return [...new Set(Array.from({ length: n }, (_, k) => Math.floor(k * ds.count / n)))];
  }
  const images = ds.manifest?.images ?? [];
  const out: number[] = [];
  for (const raw of value.split(",").map((s) => s.trim()).filter((s) => s !== "")) {
    let idx = -1;
    if (/^\d+$/.test(raw)) {
      idx = Number(raw) < ds.count ? Number(raw) : -1;
    } else {
      const want = raw.toLowerCase();
      idx = images.findIndex((im) =>
        im.shortName.toLowerCase() === want || im.name.toLowerCase() === want ||
        im.unified?.toLowerCase() === want
      );
    }
    if (idx < 0) {
      const names = images.map((im) => im.shortName).join(", ");
      throw new UsageError(
        `--emoji "${raw}" is not in ${ds.dir}: use an index 0..${ds.count - 1} or one of ${names}`,
      );
    }
    out.push(idx);
  }
  if (out.length === 0) throw new UsageError("--emoji is empty");
  return out;
}

function parseTimesteps(value: string | undefined, T: number): number[] {
  const list = (value ?? "0,100,200,300,400,499").split(",").map((s) => s.trim()).filter((s) => s !== "");
  if (list.length === 0) throw new UsageError("--t is empty");
  return list.map((s) => {
    const t = Number(s);
    if (!Number.isInteger(t) || t < 0 || t >= T) {
      throw new UsageError(`--t "${s}" is not a timestep: use integers in [0, ${T - 1}]`);
    }
    return t;
  });
}

function parseSchedules(value: string | undefined): ScheduleKind[] {
  if (value === undefined) return ["linear"];
  const kinds = value === "both" ? [...SCHEDULE_KINDS] : value.split(",").map((s) => s.trim());
  for (const k of kinds) {
    if (!(SCHEDULE_KINDS as readonly string[]).includes(k)) {
      throw new UsageError(`--schedule "${k}" is unknown: choose one of ${SCHEDULE_KINDS.join(", ")}, both`);
    }
  }
  return [...new Set(kinds)] as ScheduleKind[];
}

async function main(): Promise<void> {
  const { values } = parseFlags({
    args: Deno.args,
    options: {
      dataset: { type: "string" },
      emoji: { type: "string" },
      t: { type: "string" },
      schedule: { type: "string" },
      steps: { type: "string" },
      seed: { type: "string" },
      scale: { type: "string" },
      out: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const T = intFlag("steps", values.steps, 500, 1, 100000);
  const timesteps = parseTimesteps(values.t, T);
  const kinds = parseSchedules(values.schedule);
  const seed = intFlag("seed", values.seed, 0, 0);
  const scale = intFlag("scale", values.scale, 4, 1, 64);
  const out = values.out ?? "data/forward.png";
  if (out.trim() === "") throw new UsageError("--out must name a PNG file, got an empty path");
  await checkWritableDir("out", dirname(out));

  const ds = await ensureDataset(values.dataset ?? DEFAULT_DATASET_DIR);
  const rows = pickEmoji(ds, values.emoji);
  const x0 = new Float32Array(rows.length * ds.size * ds.size * 3);
  rows.forEach((i, r) => x0.set(ds.image(i), r * ds.size * ds.size * 3));

  await initBackend("cpu", { log: null });
  const strip = await forwardStrip(
    x0,
    rows.length,
    ds.size,
    kinds.map((k) => makeSchedule(k, T)),
    timesteps,
    new Rng(seed),
  );
  // One grid per schedule block, grey 1-pixel gutters (the background is black), 4 px between blocks.
  const per = rows.length * strip.cols * strip.size * strip.size * 3;
  const blocks = kinds.map((_, b) =>
    makeGrid(strip.data.subarray(b * per, (b + 1) * per), rows.length, strip.cols, strip.size, {
      gutter: 1,
      scale,
      gutterColor: GUTTER,
    })
  );
  const grid = stackVertical(blocks, 4, GUTTER);
  await atomicWriteFile(out, await encodePng(grid.rgba, grid.width, grid.height));
  const names = rows.map((i) => ds.manifest?.images[i].shortName ?? String(i));
  console.log(
    `forward: ${rows.length} emoji (${names.join(", ")}) x t=${timesteps.join(",")} x ${kinds.join(", ")} ` +
      `schedule, seed ${seed} -> ${out} (${grid.width}x${grid.height} px)`,
  );
}

if (import.meta.main) await runCli(main);
