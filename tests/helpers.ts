/** Shared fixtures for the tests: tiny models and datasets that train in seconds, task runs. */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type BackendName, initBackend } from "../src/backend/select.ts";
import { EmojiDataset, ensureDataset } from "../src/dataset/mod.ts";
import { encodePng } from "../src/image/codec.ts";
import { type ModelConfig, modelConfig } from "../src/model/model.ts";
import { Rng } from "../src/core/rng.ts";
import type { TrainConfig } from "../src/train/trainer.ts";

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));

/** A small `unet` that still has every part: two levels, attention at 8×8, GroupNorm, skips. */
export const TINY_UNET: ModelConfig = modelConfig("unet", {
  channels: 8,
  channelMult: [1, 2],
  groups: 4,
  blocks: 1,
});
/** A small `seed` preset. */
export const TINY_SEED: ModelConfig = { preset: "seed", channels: [8, 16, 16], timeDim: 8 };

/** `count` smooth random images of side `size` in [−1, 1] (blobs, so a model can fit them). */
export function fixtureDataset(count = 4, size = 8, seed = 5): EmojiDataset {
  const rng = new Rng(seed);
  const images = new Float32Array(count * size * size * 3);
  for (let i = 0; i < count; i++) {
    const cx = rng.uniform() * size,
      cy = rng.uniform() * size,
      col = [rng.uniform(), rng.uniform(), rng.uniform()];
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const inside = (x - cx) ** 2 + (y - cy) ** 2 < (size / 3) ** 2;
        for (let c = 0; c < 3; c++) {
          images[((i * size + y) * size + x) * 3 + c] = inside ? col[c] * 2 - 1 : -1;
        }
      }
    }
  }
  return new EmojiDataset(images, count, size);
}

/**
 * A dataset prepared on disk from a folder of `count` distinct 4×4 PNGs, at 8×8: the PNGs go to
 * `dir/<name>-png`, the set to `dir/<name>` (returned). `shift` moves every colour value, for a second,
 * different set.
 */
export async function folderSet(
  dir: string,
  count: number,
  { name = "set", shift = 0 }: { name?: string; shift?: number } = {},
): Promise<string> {
  const src = `${dir}/${name}-png`, set = `${dir}/${name}`;
  await Deno.mkdir(src);
  for (let i = 0; i < count; i++) {
    const rgba = new Uint8Array(4 * 4 * 4).map((_, j) => j % 4 === 3 ? 255 : (37 * i + 11 * j + shift) % 256);
    await Deno.writeFile(`${src}/e${i}.png`, await encodePng(rgba, 4, 4));
  }
  await ensureDataset(set, { from: src, size: 8, log: null });
  return set;
}

/** A training configuration for the fixtures. */
export function tinyTrainConfig(
  model: ModelConfig = TINY_UNET,
  overrides: Partial<TrainConfig> = {},
): TrainConfig {
  return {
    data: "unused",
    model,
    schedule: "linear",
    T: 100,
    batch: 4,
    steps: 10,
    lr: 3e-3,
    warmup: 0,
    gradClip: 1,
    ema: 0.9,
    seed: 3,
    ...overrides,
  };
}

/**
 * The command that runs Deno for subprocess tests: `deno` from PATH (what `--allow-run=deno` in the
 * test task grants; `npx deno` and a global npm install both put it there), else this binary when
 * the run permission covers it, else null.
 */
export async function denoCommand(): Promise<string | null> {
  for (const cmd of ["deno", Deno.execPath()]) {
    if ((await Deno.permissions.query({ name: "run", command: cmd })).state === "granted") return cmd;
  }
  return null;
}

/** What a task printed and how it exited. */
export interface TaskRun {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `tasks/<script>` as `deno task` would, quietly, with a task's permissions: read anywhere,
 * write only under `writable` (default `data`, as deno.json's tasks), `sys` only where the task
 * starts the wasm backend (prepare and forward do not).
 */
export async function runTask(
  script: string,
  args: string[],
  { writable = "data", sys = true, env }: { writable?: string; sys?: boolean; env?: Record<string, string> } =
    {},
): Promise<TaskRun> {
  const deno = await denoCommand();
  if (!deno) throw new Deno.errors.NotCapable("subprocess tests need --allow-run=deno");
  const out = await new Deno.Command(deno, {
    args: [
      "run",
      "--quiet",
      "--allow-read",
      `--allow-write=${writable}`,
      "--allow-env",
      "--allow-ffi",
      ...(sys ? ["--allow-sys"] : []),
      join(ROOT, "tasks", script),
      ...args,
    ],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
    ...(env ? { env } : {}),
  }).output();
  const text = new TextDecoder();
  return { code: out.code, stdout: text.decode(out.stdout), stderr: text.decode(out.stderr) };
}

/** The lines of a task's stderr that are its own (not Deno's permission prompts or warnings). */
export function ownLines(stderr: string): string[] {
  return stderr.split("\n").filter((l) => l && !/approve|Warning|╭|│|╰/.test(l));
}

/**
 * Registers one test per backend, named `NAME (BACKEND)`, each run with that backend started, as
 * tfjs-core's own tests do. WebGPU cases are registered only in `tests/webgpu_suite.ts`, which keeps one
 * adapter and device for the whole test process (`ignore` skips them where there is no adapter).
 */
export function testOnBackends(
  name: string,
  backends: readonly BackendName[],
  fn: (backend: BackendName) => Promise<void> | void,
  options: { ignore?: boolean } = {},
): void {
  for (const backend of backends) {
    Deno.test({
      name: `${name} (${backend})`,
      ignore: options.ignore,
      fn: async () => {
        await initBackend(backend, { log: null });
        await fn(backend);
      },
    });
  }
}
