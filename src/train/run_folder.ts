/**
 * A run folder owned by one process: a lock file (`run.lock`, an exclusive `flock` held while the run
 * lasts, so the kernel releases it when the process dies, and the owner's pid, start and host inside
 * for the message), checkpoints written so that
 * `latest.safetensors` is never absent or partial once a checkpoint exists, retention of old
 * checkpoints, removal of temp files left by a killed writer, and `loss.csv` appended as steps happen.
 *
 * A checkpoint is written once, as a temp file (fsync), hard-linked to a second temp name, and then
 * renamed: first over `latest.safetensors`, then to `ckpt-<step>.safetensors`. A kill at any point
 * leaves every `*.safetensors` complete (or absent) and `latest` at the new or the previous step.
 *
 * Fault injection (tests only): the environment variable `EMOJI_DIFFUSION_FAULT=<stage>[@<step>]`
 * ends the process at once (exit 86, no clean-up, as a kill would) at one stage of a checkpoint
 * write: `temp-written`, `before-latest-rename`, `latest-renamed`, `step-renamed`; `enospc[@<step>]`
 * makes the checkpoint's write fail half-way as a full disk does.
 *
 * @module
 */
import { dirname, join, resolve } from "node:path";
import { atomicWriteFile } from "../platform/io.ts";
import { FileWriteError, type LockOwner, RunLockedError, RunWriteError, UsageError } from "../errors.ts";
import { lossCsv } from "./loss_plot.ts";

/** The stages of a checkpoint write at which a fault can be injected. */
export const CHECKPOINT_WRITE_STAGES = [
  "temp-written",
  "before-latest-rename",
  "latest-renamed",
  "step-renamed",
] as const;
/** One stage of {@linkcode CHECKPOINT_WRITE_STAGES}. */
export type CheckpointWriteStage = typeof CHECKPOINT_WRITE_STAGES[number];

/** The lock file's name inside a run folder. */
export const LOCK_FILE = "run.lock";
/** The name `latest.safetensors`. */
export const LATEST_CHECKPOINT = "latest.safetensors";
/** The files of a run besides its checkpoints and grids: a folder holding one is another run's. */
const RUN_FILES = ["config.json", "train-config.json", "loss.csv", "loss.svg"];
/** Exit status of a process ended by an injected fault. */
export const FAULT_EXIT_CODE = 86;

/** A loss row as `loss.csv` stores it. */
export interface LossCsvRow {
  /** Optimizer step. */
  step: number;
  /** The batch's loss. */
  loss: number;
  /** Exponentially smoothed loss. */
  smoothed: number;
  /** Learning rate. */
  lr: number;
  /** Training images per second so far. */
  imagesPerSecond: number;
}

/** Options of {@linkcode RunFolder.open}. */
export interface RunFolderOptions {
  /** Keep the newest this many `ckpt-*.safetensors` (default 3; at least 1). */
  keep?: number;
  /** Also keep every checkpoint whose step is a multiple of this (default 0: none). */
  keepEvery?: number;
  /** Notices (a stale lock taken over, temp files removed). Default `console.error`; `null` silences. */
  log?: ((line: string) => void) | null;
  /**
   * Writes the bytes of a file being created (default: all of them). Tests replace it to inject a
   * failure such as a full disk.
   */
  writeAll?: (file: Deno.FsFile, bytes: Uint8Array, path: string) => Promise<void>;
}

async function writeAllDefault(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.length) off += await file.write(bytes.subarray(off));
}

function hostname(): string {
  try {
    return Deno.hostname();
  } catch {
    return "unknown";
  }
}

function parseOwner(text: string): LockOwner {
  try {
    const o = JSON.parse(text);
    if (typeof o?.pid === "number") {
      return { pid: o.pid, startedAt: String(o.startedAt), host: String(o.host) };
    }
  } catch { /* being written */ }
  return { pid: -1, startedAt: "?", host: "?" };
}

function stepName(step: number): string {
  return `ckpt-${String(step).padStart(6, "0")}.safetensors`;
}

function tempSuffix(): string {
  return `.tmp-${Deno.pid}-${Math.random().toString(36).slice(2)}`;
}

/** Whether `EMOJI_DIFFUSION_FAULT` asks for a fault at `stage` of the checkpoint of `step`. */
function faultWanted(stage: string, step: number): boolean {
  let spec: string | undefined;
  try {
    spec = Deno.env.get("EMOJI_DIFFUSION_FAULT");
  } catch {
    return false;
  }
  if (!spec) return false;
  const [want, at] = spec.split("@");
  return want === stage && (at === undefined || Number(at) === step);
}

function faultAt(stage: CheckpointWriteStage, step: number): void {
  if (!faultWanted(stage, step)) return;
  console.error(`fault injected: exit at ${stage} of the checkpoint of step ${step}`);
  Deno.exit(FAULT_EXIT_CODE);
}

/** A writer that fills the disk half-way through (the `enospc` fault). */
async function enospcWriter(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  await writeAllDefault(file, bytes.subarray(0, bytes.length >> 1));
  throw new Error("No space left on device (os error 28)");
}

/**
 * The folder of one training run, locked to this process while open.
 *
 * @example Two opens of one folder: the second is refused
 * ```ts
 * import assert from "node:assert/strict";
 * import { RunFolder } from "./run_folder.ts";
 * const dir = await Deno.makeTempDir();
 * const run = await RunFolder.open(dir, { log: null });
 * const second = await RunFolder.open(dir, { log: null }).catch((e) => e);
 * assert.equal(second.name, "RunLockedError");
 * await run.close();
 * ```
 */
export class RunFolder {
  #lossFile: Deno.FsFile | null = null;
  /** Bytes `loss.csv` holds when no one else has touched it. */
  #lossBytes = 0;
  #lockFile: Deno.FsFile | null = null;
  #closed = false;

  private constructor(
    /** The folder. */
    readonly dir: string,
    /** Step files kept: the newest this many. */
    readonly keep: number,
    /** And every step file whose step is a multiple of this (0: none). */
    readonly keepEvery: number,
    /** Where notices go. */
    readonly log: ((line: string) => void) | null,
    /** How the bytes of a new file are written. */
    readonly writeAll: (file: Deno.FsFile, bytes: Uint8Array, path: string) => Promise<void>,
  ) {}

  /**
   * Creates the folder if needed, takes its lock and removes temp files that killed writers left.
   * The lock file of a process that ended without releasing it (killed) is taken over with a notice.
   *
   * @throws {RunLockedError} when a live process holds the folder's lock.
   */
  static async open(dir: string, options: RunFolderOptions = {}): Promise<RunFolder> {
    const keep = options.keep ?? 3;
    const keepEvery = options.keepEvery ?? 0;
    if (!Number.isInteger(keep) || keep < 1) {
      throw new RangeError(`keep must be an integer >= 1, got ${keep}`);
    }
    if (!Number.isInteger(keepEvery) || keepEvery < 0) {
      throw new RangeError(`keepEvery must be an integer >= 0, got ${keepEvery}`);
    }
    const log = options.log === undefined ? (l: string) => console.error(l) : options.log;
    await Deno.mkdir(dir, { recursive: true });
    const run = new RunFolder(dir, keep, keepEvery, log, options.writeAll ?? writeAllDefault);
    await run.#lock();
    await run.#removeStaleTemps();
    return run;
  }

  /** Path of `latest.safetensors`. */
  get latest(): string {
    return join(this.dir, LATEST_CHECKPOINT);
  }

  async #lock(): Promise<void> {
    const path = join(this.dir, LOCK_FILE);
    for (let attempt = 0; attempt < 4; attempt++) {
      const file = await Deno.open(path, { read: true, write: true, create: true });
      if (!(await file.tryLock(true))) {
        file.close();
        throw new RunLockedError(this.dir, parseOwner(await Deno.readTextFile(path).catch(() => "")));
      }
      // the owner we raced with may have removed the file: hold the lock of the file that is there
      const mine = await file.stat();
      const there = await Deno.stat(path).catch(() => null);
      if (!there || there.ino !== mine.ino || there.dev !== mine.dev) {
        file.close();
        continue;
      }
      const previous = await Deno.readTextFile(path);
      if (previous.trim()) {
        const owner = parseOwner(previous);
        this.log?.(
          `notice: took over the lock of ${this.dir} from a process that is gone (pid ${owner.pid}, ` +
            `started ${owner.startedAt})`,
        );
      }
      const me: LockOwner = { pid: Deno.pid, startedAt: new Date().toISOString(), host: hostname() };
      await file.truncate(0);
      await writeAllDefault(file, new TextEncoder().encode(JSON.stringify(me) + "\n"));
      this.#lockFile = file;
      return;
    }
    throw new Error(`could not take the lock ${path}: it changed hands too often`);
  }

  async #removeStaleTemps(): Promise<void> {
    const removed: string[] = [];
    for await (const e of Deno.readDir(this.dir)) {
      if (e.isFile && /\.tmp-\d+-[a-z0-9]+$/.test(e.name)) {
        await Deno.remove(join(this.dir, e.name)).catch(() => {});
        removed.push(e.name);
      }
    }
    if (removed.length) {
      this.log?.(
        `notice: removed ${removed.length} temp file(s) an interrupted run left: ${removed.join(", ")}`,
      );
    }
  }

  /** Steps of the `ckpt-*.safetensors` files in the folder, ascending. */
  async checkpointSteps(): Promise<number[]> {
    const steps: number[] = [];
    for await (const e of Deno.readDir(this.dir)) {
      const m = /^ckpt-(\d+)\.safetensors$/.exec(e.name);
      if (m && e.isFile) steps.push(Number(m[1]));
    }
    return steps.sort((a, b) => a - b);
  }

  /**
   * Checks that a run may write here: the folder holds no run's files yet (`config.json`,
   * `train-config.json`, `loss.csv`, `loss.svg`, `samples-*.png`, any `*.safetensors`), or the run
   * resumes from a checkpoint of this folder. A new run never overwrites another run's files.
   *
   * @throws {UsageError} naming the folder, the files found and the ways on.
   */
  async checkNewOrResumed(resume?: string): Promise<void> {
    const found: string[] = [];
    const checkpoints: string[] = [];
    for await (const e of Deno.readDir(this.dir)) {
      if (!e.isFile) continue;
      if (e.name.endsWith(".safetensors")) checkpoints.push(e.name);
      else if (RUN_FILES.includes(e.name) || /^samples-\d+\.png$/.test(e.name)) found.push(e.name);
    }
    if (!found.length && !checkpoints.length) return;
    if (resume !== undefined && resolve(dirname(resume)) === resolve(this.dir)) return;
    const steps = await this.checkpointSteps();
    const hasLatest = checkpoints.includes(LATEST_CHECKPOINT);
    if (steps.length || hasLatest) {
      const newest = steps.length ? ` (newest ${stepName(steps.at(-1)!)})` : "";
      throw new UsageError(
        `run folder ${this.dir} holds the checkpoints of another run${newest}: continue it with ` +
          `resume ${this.latest}, or choose another run folder`,
      );
    }
    const files = [...found.sort(), ...checkpoints.sort()];
    const shown = files.length > 4 ? `${files.slice(0, 4).join(", ")}, …` : files.join(", ");
    const on = checkpoints.length
      ? `choose another run folder, or continue that run with resume ${join(this.dir, checkpoints.sort()[0])}`
      : "choose another run folder, or remove them first";
    throw new UsageError(
      `run folder ${this.dir} holds another run's files (${shown}) that a new run would overwrite: ${on}`,
    );
  }

  /** What is intact, for an error message: the last complete checkpoint, or that there is none. */
  async kept(): Promise<string> {
    try {
      await Deno.stat(this.latest);
      const steps = await this.checkpointSteps();
      return `the last complete checkpoint is ${this.latest}` +
        (steps.length ? ` (newest step file ${stepName(steps.at(-1)!)})` : "");
    } catch {
      return "no checkpoint was written before";
    }
  }

  /**
   * Writes a checkpoint of `step` as `ckpt-<step>.safetensors` and `latest.safetensors`, then
   * removes the checkpoints retention does not keep. Returns the step file's path.
   *
   * @throws {RunWriteError} naming the file and what was kept when the disk is full or a write fails.
   */
  async writeCheckpoint(step: number, bytes: Uint8Array): Promise<string> {
    const stepPath = join(this.dir, stepName(step));
    const tmp = this.latest + tempSuffix();
    const tmpStep = stepPath + tempSuffix();
    try {
      const file = await Deno.open(tmp, { write: true, createNew: true });
      try {
        await (faultWanted("enospc", step) ? enospcWriter : this.writeAll)(file, bytes, stepPath);
        await file.sync();
      } finally {
        file.close();
      }
      faultAt("temp-written", step);
      try {
        await Deno.link(tmp, tmpStep);
      } catch {
        await Deno.copyFile(tmp, tmpStep); // a file system without hard links
      }
      faultAt("before-latest-rename", step);
      await Deno.rename(tmp, this.latest);
      faultAt("latest-renamed", step);
      await Deno.rename(tmpStep, stepPath);
      faultAt("step-renamed", step);
    } catch (err) {
      await Deno.remove(tmp).catch(() => {});
      await Deno.remove(tmpStep).catch(() => {});
      throw new RunWriteError(stepPath, (err as Error).message ?? String(err), await this.kept(), {
        cause: err,
      });
    }
    await this.prune(step);
    return stepPath;
  }

  /**
   * Removes the step checkpoints retention does not keep: the newest `keep` up to step `upTo`, and every
   * `keepEvery`-th. Files of later steps (a branch the run resumed before) are left alone.
   */
  async prune(upTo = Infinity): Promise<number[]> {
    const steps = (await this.checkpointSteps()).filter((s) => s <= upTo);
    const newest = new Set(steps.slice(-this.keep));
    const removed: number[] = [];
    for (const s of steps) {
      if (newest.has(s) || (this.keepEvery > 0 && s % this.keepEvery === 0)) continue;
      await Deno.remove(join(this.dir, stepName(s))).catch(() => {});
      removed.push(s);
    }
    return removed;
  }

  /**
   * Writes a file of the run atomically.
   *
   * @throws {RunWriteError} naming the file and what was kept when it cannot be written.
   */
  async writeFile(name: string, data: Uint8Array | string): Promise<void> {
    const path = join(this.dir, name);
    try {
      await atomicWriteFile(path, data);
    } catch (err) {
      const reason = err instanceof FileWriteError ? err.reason : (err as Error).message ?? String(err);
      throw new RunWriteError(path, reason, await this.kept(), { cause: err });
    }
  }

  /**
   * Starts `loss.csv` with `history` (written atomically), then keeps it open to append rows.
   *
   * @throws {RunWriteError} when it cannot be written.
   */
  async startLossLog(history: LossCsvRow[]): Promise<void> {
    // lossCsv of no rows ends in an empty line: the header alone has one newline
    const text = new TextEncoder().encode(lossCsv(history).replace(/\n\n$/, "\n"));
    await this.writeFile("loss.csv", text);
    this.#lossBytes = text.length;
    this.#lossFile = await Deno.open(join(this.dir, "loss.csv"), { append: true });
  }

  /**
   * Rewrites `loss.csv` from `rows` (atomically) and appends to the new file from then on. A run calls
   * it at each checkpoint, so the file on disk holds every row up to the checkpoint even when it was
   * replaced, truncated or removed while the run appended to it (a `git stash`, an editor's save);
   * such a replacement is reported as a notice.
   *
   * @throws {RunWriteError} when it cannot be written.
   */
  async rewriteLossLog(rows: LossCsvRow[]): Promise<void> {
    if (!this.#lossFile) throw new Error("internal: rewriteLossLog before startLossLog");
    const path = join(this.dir, "loss.csv");
    const [open, onDisk] = await Promise.all([
      this.#lossFile.stat(),
      Deno.stat(path).catch(() => null),
    ]);
    if (!onDisk || onDisk.ino !== open.ino || onDisk.size !== this.#lossBytes) {
      const what = onDisk ? "replaced or truncated" : "removed";
      this.log?.(
        `loss.csv was ${what} while the run wrote it; rewrote it from the run's ${rows.length} rows`,
      );
    }
    this.#lossFile.close();
    this.#lossFile = null;
    await this.startLossLog(rows);
  }

  /**
   * Appends one row to `loss.csv` (a write to the OS per row: a kill loses no finished step).
   *
   * @throws {RunWriteError} when it cannot be written.
   */
  appendLoss(row: LossCsvRow): void {
    if (!this.#lossFile) throw new Error("internal: appendLoss before startLossLog");
    const line = lossCsv([row]).split("\n")[1] + "\n";
    const bytes = new TextEncoder().encode(line);
    try {
      let off = 0;
      while (off < bytes.length) off += this.#lossFile.writeSync(bytes.subarray(off));
      this.#lossBytes += bytes.length;
    } catch (err) {
      throw new RunWriteError(
        join(this.dir, "loss.csv"),
        (err as Error).message,
        "the rows before it are kept",
        { cause: err },
      );
    }
  }

  /** Closes `loss.csv` and releases the lock. Safe to call twice. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#lossFile?.close();
    this.#lossFile = null;
    // remove, then unlock: a process that opened the file meanwhile finds it locked or gone
    await Deno.remove(join(this.dir, LOCK_FILE)).catch(() => {});
    this.#lockFile?.close();
    this.#lockFile = null;
  }
}

/**
 * Reads `loss.csv` rows (an absent or unreadable file gives none; a torn last line is dropped).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readLossCsv } from "./run_folder.ts";
 * assert.equal((await readLossCsv("no/such/loss.csv")).length, 0);
 * ```
 */
export async function readLossCsv(path: string): Promise<LossCsvRow[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch {
    return [];
  }
  const rows: LossCsvRow[] = [];
  for (const l of text.split("\n").slice(1)) {
    const f = l.split(",");
    if (f.length !== 5 || f.some((v) => v === "")) continue;
    const [step, loss, smoothed, lr, imagesPerSecond] = f.map(Number);
    if (!Number.isInteger(step)) continue;
    rows.push({ step, loss, smoothed, lr, imagesPerSecond });
  }
  return rows;
}
