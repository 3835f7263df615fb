/**
 * The run folder under faults: kills at each stage of a checkpoint write, a full disk, two runs into
 * one folder, stale locks and temp files, retention.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { initBackend } from "../src/backend/select.ts";
import { decodeCheckpoint, loadCheckpoint } from "../src/checkpoint/format.ts";
import { RunLockedError, RunWriteError, UsageError } from "../src/errors.ts";
import { trainRun } from "../src/train/run.ts";
import {
  CHECKPOINT_WRITE_STAGES,
  FAULT_EXIT_CODE,
  LOCK_FILE,
  readLossCsv,
  RunFolder,
} from "../src/train/run_folder.ts";
import { denoCommand, ownLines, runTask, TINY_SEED, tinyTrainConfig } from "./helpers.ts";

await initBackend("wasm", { log: null });

const DATA = "data/apple-faces-32";
const config = tinyTrainConfig(TINY_SEED, { data: DATA, batch: 2, steps: 6, lr: 1e-3 });
const quiet = { gridImages: 0, log: null };

async function names(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) out.push(e.name);
  return out.sort();
}

/** Every *.safetensors of `dir` decodes; returns their steps by name. */
async function allLoad(dir: string): Promise<Record<string, number>> {
  const steps: Record<string, number> = {};
  for (const name of await names(dir)) {
    if (!name.endsWith(".safetensors")) continue;
    steps[name] = decodeCheckpoint(await Deno.readFile(join(dir, name)), name, { warn: null }).meta.step;
  }
  return steps;
}

Deno.test("a 10-checkpoint run with --keep 3 leaves exactly the newest three (plus every --keep-every)", async () => {
  const dir = await Deno.makeTempDir();
  const ten = { ...config, steps: 10 };
  const seen: number[] = [];
  await trainRun(ten, {
    ...quiet,
    out: `${dir}/a`,
    every: 1,
    keep: 3,
    // loss.csv grows as steps happen, not at checkpoints
    onStep: (r) =>
      seen.push(Deno.readTextFileSync(`${dir}/a/loss.csv`).trim().split("\n").length - 1 - r.step),
  });
  assert.deepEqual(seen, new Array(10).fill(0));
  const ckpts = (n: number[]) => n.map((s) => `ckpt-${String(s).padStart(6, "0")}.safetensors`);
  const base = ["config.json", "latest.safetensors", "loss.csv", "loss.svg"];
  assert.deepEqual(await names(`${dir}/a`), [...ckpts([8, 9, 10]), ...base].sort());
  await trainRun(ten, { ...quiet, out: `${dir}/b`, every: 1, keep: 3, keepEvery: 4 });
  assert.deepEqual(await names(`${dir}/b`), [...ckpts([4, 8, 9, 10]), ...base].sort());
  assert.equal((await loadCheckpoint(`${dir}/a/latest.safetensors`)).meta.step, 10);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a new run into a folder with another run's checkpoints is refused; a resume from it is not", async () => {
  const dir = await Deno.makeTempDir();
  await trainRun({ ...config, steps: 2 }, { ...quiet, out: dir, every: 2 });
  const before = await Deno.readFile(`${dir}/latest.safetensors`);
  await assert.rejects(
    trainRun({ ...config, steps: 2, seed: 5 }, { ...quiet, out: dir, every: 2 }),
    (e: Error) =>
      e instanceof UsageError &&
      /holds the checkpoints of another run \(newest ckpt-000002.*: continue it with resume /.test(e.message),
  );
  assert.deepEqual(await Deno.readFile(`${dir}/latest.safetensors`), before);
  await trainRun({ ...config, steps: 3 }, {
    ...quiet,
    out: dir,
    every: 2,
    resume: `${dir}/latest.safetensors`,
  });
  assert.equal((await loadCheckpoint(`${dir}/latest.safetensors`)).meta.step, 3);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("retention after resuming from an older checkpoint leaves the later steps alone", async () => {
  const dir = await Deno.makeTempDir();
  const run = await RunFolder.open(dir, { keep: 2, log: null });
  const bytes = new TextEncoder().encode("not decoded here");
  for (let s = 1; s <= 5; s++) await run.writeCheckpoint(s, bytes);
  assert.deepEqual(await run.checkpointSteps(), [4, 5]);
  await run.writeCheckpoint(3, bytes); // a run resumed from step 2 of an earlier branch
  assert.deepEqual(await run.checkpointSteps(), [3, 4, 5]);
  await run.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a kill at each stage of a checkpoint write: files load, --resume gives the same losses, no temp survives", async () => {
  const deno = await denoCommand();
  assert.ok(deno, "needs --allow-run=deno");
  const dir = await Deno.makeTempDir();
  // the uninterrupted reference
  await trainRun(config, { ...quiet, out: `${dir}/ref`, every: 2, keep: 10 });
  const ref = await readLossCsv(`${dir}/ref/loss.csv`);
  assert.deepEqual(ref.map((r) => r.step), [1, 2, 3, 4, 5, 6]);
  for (const stage of CHECKPOINT_WRITE_STAGES) {
    // a run that has done 4 steps (loss.csv holds them) and has its step-2 checkpoint; it is killed
    // while writing the step-4 one
    const run = `${dir}/${stage}`;
    await Deno.mkdir(run);
    for (const f of ["config.json", "ckpt-000002.safetensors"]) {
      await Deno.copyFile(`${dir}/ref/${f}`, `${run}/${f}`);
    }
    await Deno.copyFile(`${dir}/ref/ckpt-000002.safetensors`, `${run}/latest.safetensors`);
    const csv = (await Deno.readTextFile(`${dir}/ref/loss.csv`)).split("\n").slice(0, 5).join("\n") + "\n";
    await Deno.writeTextFile(`${run}/loss.csv`, csv);
    const child = await new Deno.Command(deno!, {
      args: [
        "run",
        "--quiet",
        "--allow-read",
        "--allow-write",
        "--allow-env",
        "--allow-sys",
        "tests/fault_writer.ts",
        run,
        "4",
        `${dir}/ref/ckpt-000004.safetensors`,
      ],
      env: { EMOJI_DIFFUSION_FAULT: `${stage}@4` },
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(child.code, FAULT_EXIT_CODE, `${stage}: ${new TextDecoder().decode(child.stderr)}`);
    const steps = await allLoad(run);
    const newLatest = stage === "latest-renamed" || stage === "step-renamed";
    assert.equal(steps["latest.safetensors"], newLatest ? 4 : 2, `${stage}: latest`);
    assert.equal(steps["ckpt-000002.safetensors"], 2);
    if ("ckpt-000004.safetensors" in steps) assert.equal(steps["ckpt-000004.safetensors"], 4);
    assert.ok(await Deno.stat(`${run}/${LOCK_FILE}`), "the killed writer's lock is left behind");
    const notices: string[] = [];
    await trainRun(config, {
      ...quiet,
      log: (l) => notices.push(l),
      out: run,
      every: 2,
      resume: `${run}/latest.safetensors`,
    });
    const left = await names(run);
    assert.deepEqual(left.filter((n) => n.includes(".tmp-") || n === LOCK_FILE), [], `${stage}: ${left}`);
    assert.ok(
      notices.some((l) => /took over the lock .* a process that is gone/.test(l)),
      `${stage}: ${notices}`,
    );
    if (stage !== "step-renamed") {
      assert.ok(notices.some((l) => /removed \d temp file/.test(l)), `${stage}: ${notices}`);
    }
    const got = await readLossCsv(`${run}/loss.csv`);
    assert.deepEqual(got.map((r) => r.step), [1, 2, 3, 4, 5, 6], stage);
    for (let i = 0; i < 6; i++) {
      assert.ok(
        Math.abs(got[i].loss - ref[i].loss) < 1e-5,
        `${stage} step ${i + 1}: ${got[i].loss} vs ${ref[i].loss}`,
      );
    }
  }
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a full disk while writing a checkpoint: the error names the file and the kept checkpoint", async () => {
  const dir = await Deno.makeTempDir();
  const full = async (file: Deno.FsFile, bytes: Uint8Array, path: string) => {
    if (path.endsWith("ckpt-000004.safetensors")) {
      await file.write(bytes.subarray(0, 100));
      throw new Error("No space left on device (os error 28)");
    }
    let off = 0;
    while (off < bytes.length) off += await file.write(bytes.subarray(off));
  };
  await assert.rejects(
    trainRun({ ...config, steps: 4 }, { ...quiet, out: dir, every: 2, writeAll: full }),
    (err: Error) =>
      err instanceof RunWriteError &&
      /^could not write .*ckpt-000004\.safetensors: No space left on device \(os error 28\); the last complete checkpoint is .*latest\.safetensors/
        .test(err.message),
  );
  assert.equal((await loadCheckpoint(`${dir}/latest.safetensors`)).meta.step, 2);
  assert.deepEqual(Object.values(await allLoad(dir)), [2, 2]);
  assert.deepEqual((await names(dir)).filter((n) => n.includes(".tmp-") || n === LOCK_FILE), []);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("two runs into one folder: the second is refused and the first's files are its own", async () => {
  const dir = await Deno.makeTempDir();
  let second: Promise<unknown> | null = null;
  await trainRun({ ...config, steps: 2 }, {
    ...quiet,
    out: dir,
    every: 1,
    onStep: () => {
      second ??= trainRun({ ...config, steps: 2, seed: 9 }, { ...quiet, out: dir, every: 1 }).catch((e) => e);
    },
  });
  const refused: unknown = await (second as Promise<unknown> | null);
  assert.ok(refused instanceof RunLockedError, String(refused));
  assert.match(
    (refused as Error).message,
    new RegExp(`is in use by another training run \\(pid ${Deno.pid} `),
  );
  assert.equal(JSON.parse(await Deno.readTextFile(`${dir}/config.json`)).seed, config.seed);
  assert.equal((await loadCheckpoint(`${dir}/latest.safetensors`)).meta.seed, config.seed);
  assert.deepEqual((await readLossCsv(`${dir}/loss.csv`)).map((r) => r.step), [1, 2]);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("the lock file of a killed run is taken over with a notice; stale temps are removed", async () => {
  const dir = await Deno.makeTempDir();
  // what a killed run leaves: its lock file (the kernel dropped its flock) and a temp file
  await Deno.writeTextFile(
    `${dir}/${LOCK_FILE}`,
    JSON.stringify({ pid: 4242, startedAt: "then", host: "h" }),
  );
  await Deno.writeFile(`${dir}/latest.safetensors.tmp-123-abc`, new Uint8Array(10));
  const lines: string[] = [];
  const run = await RunFolder.open(dir, { log: (l) => lines.push(l) });
  assert.match(lines[0], /took over the lock .* a process that is gone \(pid 4242, started then\)/);
  assert.match(lines[1], /removed 1 temp file\(s\) .*latest\.safetensors\.tmp-123-abc/);
  assert.equal(JSON.parse(await Deno.readTextFile(`${dir}/${LOCK_FILE}`)).pid, Deno.pid);
  await assert.rejects(RunFolder.open(dir, { log: null }), RunLockedError);
  await run.close();
  assert.deepEqual(await names(dir), []);
  await (await RunFolder.open(dir, { log: null })).close();
  await Deno.remove(dir, { recursive: true });
});

/** `deno task train` flags of a short `seed` run on wasm into `out`, without sample grids. */
function tinySeedRun(out: string, ...flags: string[]): string[] {
  return ["--model", "seed", ...flags, "--grid", "0", "--backend", "wasm", "--out", out];
}

Deno.test("train CLI: a full disk is one line naming the file and what was kept, exit 1", async () => {
  const out = `data/runs/test-enospc-${Deno.pid}`;
  const r = await runTask(
    "train.ts",
    tinySeedRun(out, "--batch", "2", "--steps", "4", "--every", "2"),
    { env: { EMOJI_DIFFUSION_FAULT: "enospc@4" } },
  );
  try {
    assert.equal(r.code, 1, r.stderr);
    const errors = ownLines(r.stderr).filter((l) => l.startsWith("error"));
    assert.equal(errors.length, 1, r.stderr);
    assert.match(
      errors[0],
      new RegExp(
        `^error: could not write ${out}/ckpt-000004\\.safetensors: No space left on device .*; ` +
          `the last complete checkpoint is ${out}/latest\\.safetensors`,
      ),
    );
    assert.equal((await loadCheckpoint(`${out}/latest.safetensors`)).meta.step, 2);
  } finally {
    await Deno.remove(out, { recursive: true }).catch(() => {});
  }
});

Deno.test("train CLI: a second run into a folder in use is refused in one line, exit 2, nothing written", async () => {
  const out = `data/runs/test-locked-${Deno.pid}`;
  const run = await RunFolder.open(out, { log: null });
  try {
    await Deno.writeTextFile(`${out}/config.json`, "first run's\n");
    const r = await runTask("train.ts", tinySeedRun(out, "--steps", "2"));
    assert.equal(r.code, 2, r.stderr);
    const lines = ownLines(r.stderr); // refused before the backend starts: no "backend:" line
    assert.equal(lines.length, 1, r.stderr);
    assert.match(
      lines[0],
      new RegExp(`^error: --out ${out} is in use by another training run \\(pid ${Deno.pid} `),
    );
    assert.deepEqual(await names(out), ["config.json", LOCK_FILE]);
    assert.equal(await Deno.readTextFile(`${out}/config.json`), "first run's\n");
  } finally {
    await run.close();
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("loss.csv replaced, truncated or removed under a running writer holds every row after the next checkpoint", async () => {
  for (const fault of ["replaced", "truncated", "removed"] as const) {
    const dir = await Deno.makeTempDir();
    const notices: string[] = [];
    await trainRun({ ...config, steps: 6 }, {
      gridImages: 0,
      log: (line) => notices.push(line),
      out: dir,
      every: 3,
      onStep: (r) => {
        if (r.step !== 2) return;
        const path = `${dir}/loss.csv`;
        if (fault === "replaced") {
          // what git does on a checkout or stash: a new file renamed over the old name
          Deno.writeTextFileSync(`${path}.new`, "step,loss,smoothed,lr,images_per_s\n");
          Deno.renameSync(`${path}.new`, path);
        } else if (fault === "truncated") Deno.truncateSync(path, 10);
        else Deno.removeSync(path);
      },
    });
    assert.deepEqual((await readLossCsv(`${dir}/loss.csv`)).map((r) => r.step), [1, 2, 3, 4, 5, 6], fault);
    assert.equal(
      notices.filter((l) => l.startsWith("loss.csv was")).length,
      1,
      `${fault}: ${notices.join("\n")}`,
    );
    await Deno.remove(dir, { recursive: true });
  }
});
