/**
 * Stopping and resuming `deno task train` as a user does: Ctrl-C (SIGINT) mid-run, the printed resume
 * command, the run folder's name and defaults of a resume, and the folders a new run refuses.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { initBackend } from "../src/backend/select.ts";
import { loadCheckpoint } from "../src/checkpoint/format.ts";
import { trainRun } from "../src/train/run.ts";
import { readLossCsv } from "../src/train/run_folder.ts";
import { denoCommand, ownLines, runTask, TINY_SEED, tinyTrainConfig } from "./helpers.ts";

/** `deno task train` flags of a short `seed` run on wasm (one thread: the same sums every time). */
function seedRun(out: string, ...flags: string[]): string[] {
  return [
    "--model",
    "seed",
    "--batch",
    "2",
    "--grid",
    "0",
    "--backend",
    "wasm",
    "--threads",
    "1",
    ...flags,
    "--out",
    out,
  ];
}

Deno.test("train CLI: SIGINT mid-run writes a checkpoint, prints the resume command, and it resumes to the same losses", async () => {
  const deno = await denoCommand();
  assert.ok(deno, "needs --allow-run=deno");
  const ref = `data/runs/test-sigint-ref-${Deno.pid}`, run = `data/runs/test-sigint-${Deno.pid}`;
  try {
    const whole = await runTask("train.ts", seedRun(ref, "--steps", "40", "--every", "1000"));
    assert.equal(whole.code, 0, whole.stderr);
    const child = new Deno.Command(deno!, {
      args: [
        "run",
        "--quiet",
        "--allow-read",
        "--allow-write=data",
        "--allow-env",
        "--allow-ffi",
        "--allow-sys",
        "tasks/train.ts",
        ...seedRun(run, "--steps", "40", "--every", "1000"),
      ],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const stdout = new Response(child.stdout).text();
    let stderr = "";
    const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
    while (!/step 10\/40/.test(stderr)) {
      const { value, done } = await reader.read();
      if (done) break;
      stderr += value;
    }
    child.kill("SIGINT");
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      stderr += value;
    }
    const status = await child.status;
    const printed = await stdout;
    assert.equal(status.code, 130, stderr);
    const stoppedAt = Number(/stopped at step (\d+) of 40/.exec(printed)?.[1]);
    assert.ok(stoppedAt >= 10 && stoppedAt < 40, printed);
    assert.equal((await loadCheckpoint(`${run}/latest.safetensors`)).meta.step, stoppedAt);
    const command = /^resume with: deno task train (.*)$/m.exec(printed)?.[1];
    assert.equal(
      command,
      `--resume ${run}/latest.safetensors --backend wasm --threads 1`,
      "the command names the checkpoint and the flags it does not record",
    );
    const resumed = await runTask("train.ts", command!.split(" "));
    assert.equal(resumed.code, 0, resumed.stderr);
    const got = await readLossCsv(`${run}/loss.csv`), want = await readLossCsv(`${ref}/loss.csv`);
    assert.deepEqual(
      got.map((r) => r.step),
      want.map((r) => r.step),
      "to the run's own 40 steps, in its folder",
    );
    assert.deepEqual(got.map((r) => r.loss), want.map((r) => r.loss));
  } finally {
    await Deno.remove(ref, { recursive: true }).catch(() => {});
    await Deno.remove(run, { recursive: true }).catch(() => {});
  }
});

Deno.test("trainRun: an aborted signal ends the run with a checkpoint at the step reached", async () => {
  await initBackend("wasm", { log: null });
  const dir = await Deno.makeTempDir();
  try {
    const stop = new AbortController();
    const config = tinyTrainConfig(TINY_SEED, { data: "data/apple-faces-32", batch: 2, steps: 50 });
    const r = await trainRun(config, {
      out: dir,
      every: 1000,
      gridImages: 0,
      log: null,
      signal: stop.signal,
      onStep: (s) => s.step === 3 && stop.abort(),
    });
    assert.equal(r.stopped, "signal");
    assert.equal(r.steps, 3);
    assert.equal((await loadCheckpoint(join(dir, "latest.safetensors"))).meta.step, 3);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("trainRun: checkpointMinutes writes a checkpoint on time before the first --every one", async () => {
  await initBackend("wasm", { log: null });
  const dir = await Deno.makeTempDir();
  try {
    const config = tinyTrainConfig(TINY_SEED, { data: "data/apple-faces-32", batch: 2, steps: 3 });
    const lines: string[] = [];
    await trainRun(config, {
      out: dir,
      every: 1000,
      gridImages: 0,
      log: (l) => lines.push(l),
      checkpointMinutes: 1e-9,
    });
    assert.deepEqual(lines.filter((l) => l.startsWith("checkpoint at")).map((l) => l.split(";")[0]), [
      "checkpoint at step 1",
      "checkpoint at step 2",
      "checkpoint at step 3",
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("train --dry-run prints the run folder, named after the recipe", async () => {
  const r = await runTask("train.ts", ["--config", "configs/apple-faces.json", "--dry-run"]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(ownLines(r.stderr), ["run folder: data/runs/apple-faces"]);
});

Deno.test("train --resume without --out continues in the checkpoint's folder, to its run's step total", async () => {
  const run = `data/runs/test-resume-defaults-${Deno.pid}`;
  try {
    const first = await runTask(
      "train.ts",
      seedRun(run, "--steps", "4", "--every", "2", "--minutes", "0.000001"),
    );
    assert.equal(first.code, 0, first.stderr);
    const stoppedAt = (await loadCheckpoint(`${run}/latest.safetensors`)).meta.step;
    assert.ok(stoppedAt < 4, "the budget stopped it early");
    const dry = await runTask("train.ts", ["--resume", `${run}/latest.safetensors`, "--dry-run"]);
    assert.equal(dry.code, 0, dry.stderr);
    assert.deepEqual(ownLines(dry.stderr), [`run folder: ${run}`]);
    assert.equal(JSON.parse(dry.stdout).steps, 4);
    const resumed = await runTask("train.ts", ["--resume", `${run}/latest.safetensors`, "--backend", "wasm"]);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.deepEqual((await readLossCsv(`${run}/loss.csv`)).map((r) => r.step), [1, 2, 3, 4]);
  } finally {
    await Deno.remove(run, { recursive: true }).catch(() => {});
  }
});

Deno.test("train --out: a folder with another run's files but no ckpt-*/latest is refused, nothing overwritten", async () => {
  const out = `data/runs/test-foreign-${Deno.pid}`;
  await Deno.mkdir(out, { recursive: true });
  try {
    const csv = "step,loss,smoothed,lr,images_per_second\n" + "1,1,1,0.001,1\n".repeat(100);
    await Deno.writeTextFile(`${out}/loss.csv`, csv);
    await Deno.writeTextFile(`${out}/loss.svg`, "<svg/>");
    await Deno.writeTextFile(`${out}/train-config.json`, "{}");
    await Deno.writeFile(`${out}/faces.safetensors`, new Uint8Array(8));
    const r = await runTask("train.ts", seedRun(out, "--steps", "2"));
    assert.equal(r.code, 2, r.stderr);
    assert.deepEqual(ownLines(r.stderr), [
      `error: --out ${out} holds another run's files (loss.csv, loss.svg, train-config.json, faces.safetensors) ` +
      `that a new run would overwrite: choose another --out, or continue that run with --resume ${out}/faces.safetensors`,
    ]);
    assert.equal(await Deno.readTextFile(`${out}/loss.csv`), csv);
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("train --out '' is a usage error naming the flag, exit 2", async () => {
  const r = await runTask("train.ts", ["--out", ""]);
  assert.equal(r.code, 2, r.stderr);
  assert.deepEqual(ownLines(r.stderr), ["error: --out must name a folder (e.g. --out data/runs/mine)"]);
});

Deno.test("train --export-to outside data/ is refused before any work", async () => {
  const out = `data/runs/test-export-to-${Deno.pid}`;
  const r = await runTask("train.ts", seedRun(out, "--steps", "2", "--export-to", "/tmp/elsewhere"));
  assert.equal(r.code, 2, r.stderr);
  assert.deepEqual(ownLines(r.stderr), [
    "error: --export-to /tmp/elsewhere is outside the folders this task may write (data/): choose an --export-to under data/",
  ]);
  await assert.rejects(Deno.stat(out), Deno.errors.NotFound);
});
