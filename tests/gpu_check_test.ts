import assert from "node:assert/strict";
import {
  type GpuCheckReport,
  HelpRequested,
  imageDifference,
  parseGpuCheckArgs,
  renderMarkdown,
  writeReport,
} from "../tools/gpu_check.ts";

Deno.test("gpu-check: the full check's defaults are the issue's sizes", () => {
  const o = parseGpuCheckArgs([], ["/peer.py"]);
  assert.deepEqual(o.trainBatches, [8, 32, 128]);
  assert.deepEqual(o.sampleBatches, [64, 256]);
  assert.deepEqual(o.backends, ["webgpu", "wasm"]);
  assert.deepEqual(o.presets, ["unet", "seed"]);
  assert.equal(o.compareN, 64);
  assert.equal(o.compareSteps, 50);
  assert.equal(o.peerScript, "/peer.py");
  assert.equal(o.quick, false);
});

Deno.test("gpu-check: --quick shrinks every size and explicit flags still win", () => {
  const o = parseGpuCheckArgs(["--quick", "--train-batches", "3,4", "--no-peer", "--no-tests"], ["/peer.py"]);
  assert.equal(o.quick, true);
  assert.deepEqual(o.trainBatches, [3, 4]);
  assert.deepEqual(o.sampleBatches, [2]);
  assert.deepEqual(o.presets, ["seed"]);
  assert.equal(o.compareN, 2);
  assert.equal(o.peerScript, null);
  assert.equal(o.tests, false);
});

Deno.test("gpu-check: bad flags are UsageErrors naming the flag", () => {
  const cases: [string[], RegExp][] = [
    [["--train-batches", "8,x"], /--train-batches/],
    [["--backends", "cuda"], /--backends "cuda" is unknown/],
    [["--presets", "big"], /--presets "big"/],
    [["--repeats", "0"], /--repeats must be an integer/],
    [["--out", " "], /--out must name a folder/],
    [["--peer", "p.py", "--no-peer"], /--peer or --no-peer/],
    [["stray"], /unexpected argument "stray"/],
  ];
  for (const [args, message] of cases) {
    assert.throws(() => parseGpuCheckArgs(args, []), { name: "UsageError", message }, args.join(" "));
  }
  assert.throws(
    () => parseGpuCheckArgs(["--bogus"], []),
    (e: Error & { code?: string }) => e.code === "ERR_PARSE_ARGS_UNKNOWN_OPTION",
  );
  assert.throws(() => parseGpuCheckArgs(["--help"], []), HelpRequested);
});

Deno.test("gpu-check: image difference is the mean and max |a − b| in 255 levels", () => {
  const d = imageDifference(Float32Array.of(-1, 0, 1, 0.5), Float32Array.of(1, 0, 1, 0.25));
  assert.equal(d.max, 255);
  assert.ok(Math.abs(d.mean - (255 + 0.25 * 127.5) / 4) < 1e-9);
  assert.throws(() => imageDifference(new Float32Array(2), new Float32Array(3)), RangeError);
});

function sampleReport(): GpuCheckReport {
  return {
    started: "2026-12-01T00:00:00Z",
    machine: { deno: "deno 2.9.6", os: "linux", cpus: 16 },
    options: parseGpuCheckArgs([], []),
    steps: {
      auto: {
        status: "ok",
        seconds: 1,
        result: { picked: "webgpu", adapter: "NVIDIA H200", hardwareAdapter: true },
      },
      "bench-webgpu-seed": {
        status: "ok",
        seconds: 9,
        result: {
          backend: "webgpu",
          adapter: "NVIDIA H200",
          software: false,
          preset: "seed",
          train: [{ batch: 8, imgPerS: 400, kernels: 321, syncs: 2 }],
          sample: [{ batch: 64, sPerImg: 0.0125, defaultSteps: 50, measuredSteps: 50 }],
        },
      },
      "sample-webgpu": { status: "timeout", seconds: 300, note: "killed | late" },
      "peer-8": {
        status: "ok",
        seconds: 5,
        result: {
          batch: 8,
          torch: "2.11.0",
          device: "cuda",
          train_img_per_s: 1000,
          sample_batch: 64,
          sample_steps: 50,
          sample_s_per_img: 0.001,
        },
      },
      compare: {
        status: "ok",
        seconds: 0,
        result: { meanAbsDiff255: 0.01234, maxAbsDiff255: 1.5, n: 64, steps: 50 },
      },
    },
  };
}

Deno.test("gpu-check: the markdown table holds each figure, the ratio to PyTorch and every step's status", () => {
  const md = renderMarkdown(sampleReport());
  assert.match(md, /\| webgpu \| seed \| 8 \| 400\.0 \| 321 \| 2 \| – \| – \| 0\.40× \|/);
  assert.match(md, /\| webgpu \| seed \| 64 \| – \| – \| – \| 0\.0125 \| – \| – \|/);
  assert.match(md, /\| torch 2\.11\.0 on cuda \| 8 \| 1000\.0 \| 64 \| 50 \| 0\.0010 \|/);
  assert.match(md, /\| sample-webgpu \| timeout \| 300\.0 \| killed \/ late \|/);
  assert.match(md, /auto picked \*\*webgpu\*\*; adapter: NVIDIA H200 \(hardware\)/);
  assert.match(md, /mean \|difference\| 0\.0123 \/ 255, max 1\.500 \/ 255/);
});

Deno.test("gpu-check: writeReport writes the JSON and the markdown, and rewrites them in place", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const report = sampleReport();
    const [json, md] = await writeReport(`${dir}/nested`, report);
    assert.deepEqual(JSON.parse(await Deno.readTextFile(json)), report);
    assert.equal(await Deno.readTextFile(md), renderMarkdown(report));
    report.steps.compare.status = "failed";
    await writeReport(`${dir}/nested`, report);
    assert.equal(JSON.parse(await Deno.readTextFile(json)).steps.compare.status, "failed");
    assert.deepEqual([...Deno.readDirSync(`${dir}/nested`)].map((e) => e.name).sort(), [
      "gpu-check.json",
      "gpu-check.md",
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
