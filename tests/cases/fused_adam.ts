/**
 * The fused optimizer against a plain reference Adam written out here, and its loss guard, as cases
 * that `tests/fused_adam_test.ts` runs on wasm (its one kernel) and cpu (whole-buffer ops) and
 * `tests/webgpu_suite.ts` on WebGPU.
 *
 * @module
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { type BackendName, initBackend } from "../../src/backend/select.ts";
import { Adam } from "../../src/train/adam.ts";
import { Ema, emaDecayAt } from "../../src/train/ema.ts";
import { Rng } from "../../src/core/rng.ts";

export const SHAPES: [string, number[]][] = [["a", [3, 4]], ["b", [5]], ["c", [2, 2, 2, 3]], ["d", [1]]];

interface RefOptions {
  lr: number;
  warmup: number;
  cooldown: number;
  totalSteps: number;
  clip: number;
  emaDecay: number;
}

/** Plain Adam, written out in float64: clipping by the global norm, warm-up, cooldown, EMA. */
function referenceAdam(p0: number[][], grads: number[][][], o: RefOptions) {
  const b1 = 0.9, b2 = 0.999, eps = 1e-8;
  const p = p0.map((x) => x.slice()), ema = p0.map((x) => x.slice());
  const m = p0.map((x) => x.map(() => 0)), v = p0.map((x) => x.map(() => 0));
  const norms: number[] = [];
  grads.forEach((g, s) => {
    const t = s + 1;
    const up = o.warmup > 0 ? Math.min(1, t / o.warmup) : 1;
    const down = o.cooldown > 0 ? Math.min(1, Math.max(0, (o.totalSteps - t + 1) / o.cooldown)) : 1;
    const lr = o.lr * Math.min(up, down);
    const norm = Math.sqrt(g.flat().reduce((a, x) => a + x * x, 0));
    norms.push(norm);
    const scale = o.clip > 0 ? o.clip / Math.max(norm, o.clip) : 1;
    const d = emaDecayAt(o.emaDecay, t);
    for (let i = 0; i < p.length; i++) {
      for (let j = 0; j < p[i].length; j++) {
        const gj = g[i][j] * scale;
        m[i][j] = b1 * m[i][j] + (1 - b1) * gj;
        v[i][j] = b2 * v[i][j] + (1 - b2) * gj * gj;
        const mh = m[i][j] / (1 - b1 ** t), vh = v[i][j] / (1 - b2 ** t);
        p[i][j] -= lr * mh / (Math.sqrt(vh) + eps);
        ema[i][j] = d * ema[i][j] + (1 - d) * p[i][j];
      }
    }
  });
  return { p, m, v, ema, norms };
}

async function fusedRun(
  backend: BackendName,
  p0: number[][],
  grads: number[][][],
  o: RefOptions,
) {
  await initBackend(backend, { log: null });
  const params = new Map(SHAPES.map(([n, s], i) => [n, tf.variable(tf.tensor(p0[i], s))]));
  const adam = new Adam(params, {
    lr: o.lr,
    warmup: o.warmup,
    cooldown: o.cooldown,
    totalSteps: o.totalSteps,
    gradClip: o.clip,
  });
  const ema = new Ema(params, o.emaDecay);
  const norms: number[] = [];
  for (const g of grads) {
    const gt = Object.fromEntries(SHAPES.map(([n, s], i) => [n, tf.tensor(g[i], s)]));
    const status = adam.apply(gt, { ema });
    const [norm, applied] = await status.data();
    assert.equal(applied, 1);
    norms.push(norm);
    tf.dispose([status, ...Object.values(gt)]);
  }
  const read = async (map: Map<string, tf.Variable>) =>
    await Promise.all(SHAPES.map(async ([n]) => Array.from(await map.get(n)!.data())));
  const out = {
    p: await read(params),
    m: await read(adam.m),
    v: await read(adam.v),
    ema: await read(ema.shadow),
    norms,
  };
  adam.dispose();
  ema.dispose();
  tf.dispose([...params.values()]);
  await initBackend("wasm", { log: null });
  return out;
}

function problem(seed: number, gradScale: number) {
  const rng = new Rng(seed);
  const p0 = SHAPES.map(([, s]) => Array.from(rng.normalArray(s.reduce((a, b) => a * b, 1))));
  const grads = Array.from(
    { length: 5 },
    () => p0.map((x) => Array.from(rng.normalArray(x.length), (g) => g * gradScale)),
  );
  return { p0, grads };
}

function assertClose(got: number[][], want: number[][], tol: number, what: string) {
  let worst = 0;
  got.forEach((row, i) => row.forEach((x, j) => worst = Math.max(worst, Math.abs(x - want[i][j]))));
  assert.ok(worst <= tol, `${what}: max |diff| ${worst} > ${tol}`);
}

/** The clipping cases: label, clip threshold, gradient scale. */
export const CLIP_CASES = [
  ["clipping active", 1, 1],
  ["clipping inactive", 100, 0.1],
  ["clipping off", 0, 1],
] as const;

/** The fused update on `backend` equals the reference Adam after 5 steps, warm-up and cooldown, EMA. */
export async function fusedMatchesReference(
  backend: BackendName,
  clip: number,
  gradScale: number,
): Promise<void> {
  const o = { lr: 0.01, warmup: 2, cooldown: 3, totalSteps: 5, clip, emaDecay: 0.9 };
  const { p0, grads } = problem(11, gradScale);
  const want = referenceAdam(p0, grads, o);
  if (clip === 1) assert.ok(want.norms.every((n) => n > 1), "the clip is active on every step");
  if (clip === 100) assert.ok(want.norms.every((n) => n < 100), "the clip is inactive");
  const got = await fusedRun(backend, p0, grads, o);
  assertClose(got.p, want.p, 1e-6, "weights");
  assertClose(got.m, want.m, 1e-6, "first moments");
  assertClose(got.v, want.v, 1e-6, "second moments");
  assertClose(got.ema, want.ema, 1e-6, "EMA");
  assertClose([got.norms], [want.norms], 1e-5 * Math.max(...want.norms), "gradient norms");
}

/** A non-finite loss on `backend` leaves weights, moments, EMA and step unchanged. */
export async function nonFiniteLossChangesNothing(backend: BackendName): Promise<void> {
  await initBackend(backend, { log: null });
  const params = new Map(SHAPES.map(([n, s]) => [n, tf.variable(tf.randomNormal(s, 0, 1, "float32", 1))]));
  const adam = new Adam(params, { lr: 0.01, warmup: 0, gradClip: 1 });
  const ema = new Ema(params, 0.9);
  const grads = Object.fromEntries(SHAPES.map(([n, s]) => [n, tf.randomNormal(s, 0, 1, "float32", 2)]));
  tf.dispose(adam.apply(grads, { ema })); // one good update first, so that nothing is at its initial value
  const snap = async () => [
    ...await Promise.all([...params.values()].map(async (p) => Array.from(await p.data()))),
    Array.from(await adam.flatM.data()),
    Array.from(await adam.flatV.data()),
    Array.from(await ema.flat.data()),
  ];
  const before = await snap();
  const loss = tf.scalar(NaN);
  const status = adam.apply(grads, { ema, loss });
  const [, applied, lossBack] = await status.data();
  assert.equal(applied, 0, backend);
  assert.ok(Number.isNaN(lossBack));
  adam.rejectLast();
  assert.equal(adam.step, 1);
  assert.deepEqual(await snap(), before, `${backend}: nothing changed`);
  tf.dispose([loss, status, ...Object.values(grads), ...params.values()]);
  adam.dispose();
  ema.dispose();
  await initBackend("wasm", { log: null });
}
