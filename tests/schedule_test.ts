import assert from "node:assert/strict";
import {
  checkTimestep,
  cosineBetaSchedule,
  linearBetaSchedule,
  makeSchedule,
  scheduleFromBetas,
} from "../src/core/schedule.ts";

const close = (a: number, b: number, tol: number, what: string) =>
  assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b} (tol ${tol})`);

Deno.test("linear betas match the closed form at several t", () => {
  const T = 500, b = linearBetaSchedule(T);
  for (const t of [0, 1, 123, 250, 498, 499]) {
    close(b[t], 1e-4 + (0.02 - 1e-4) * t / (T - 1), 1e-15, `beta[${t}]`);
  }
});

Deno.test("cosine alphas-cumprod equal f(t)/f(0) until the 0.999 clip", () => {
  const T = 500, s = 0.008;
  const f = (t: number) => Math.cos((t / T + s) / (1 + s) * Math.PI / 2) ** 2;
  const sch = makeSchedule("cosine", T);
  for (const t of [0, 10, 100, 250, 400, 490]) {
    close(sch.alphasCumprod[t], f(t + 1) / f(0), 1e-12, `abar[${t}]`);
  }
  const b = cosineBetaSchedule(T);
  assert.equal(b[T - 1], 0.999);
  assert.ok(b.every((x) => x > 0 && x <= 0.999));
});

Deno.test("alpha-cumprod strictly decreases for both schedules", () => {
  for (const kind of ["linear", "cosine"] as const) {
    for (const T of [1, 2, 10, 500, 1000]) {
      const ab = makeSchedule(kind, T).alphasCumprod;
      for (let t = 1; t < T; t++) assert.ok(ab[t] < ab[t - 1], `${kind} T=${T} t=${t}`);
    }
  }
});

Deno.test("posterior coefficients against hand-computed values", () => {
  // betas 0.1, 0.2, 0.3: alphas .9 .8 .7; abar .9 .72 .504
  const s = scheduleFromBetas("linear", Float64Array.of(0.1, 0.2, 0.3));
  close(s.alphasCumprod[2], 0.504, 1e-12, "abar2");
  close(s.alphasCumprodPrev[0], 1, 0, "abarPrev0");
  close(s.alphasCumprodPrev[2], 0.72, 1e-12, "abarPrev2");
  close(s.posteriorVariance[0], 0, 0, "postVar0");
  close(s.posteriorVariance[1], (1 - 0.9) / (1 - 0.72) * 0.2, 1e-12, "postVar1");
  close(s.posteriorVariance[2], (1 - 0.72) / (1 - 0.504) * 0.3, 1e-12, "postVar2");
  close(s.posteriorMeanCoefX0[0], 1, 1e-12, "coefX0[0]");
  close(s.posteriorMeanCoefXt[0], 0, 1e-12, "coefXt[0]");
  close(s.posteriorMeanCoefX0[2], Math.sqrt(0.72) * 0.3 / (1 - 0.504), 1e-12, "coefX0[2]");
  close(s.posteriorMeanCoefXt[2], Math.sqrt(0.7) * (1 - 0.72) / (1 - 0.504), 1e-12, "coefXt[2]");
  close(s.oneOverSqrtAlphas[1], 1 / Math.sqrt(0.8), 1e-12, "1/sqrt(a1)");
  close(s.sqrtOneMinusAlphasCumprod[1], Math.sqrt(0.28), 1e-12, "sqrt(1-abar1)");
  // The posterior mean written with x0 equals the ε form: coefX0·x0 + coefXt·xt = (xt − β/√(1−ᾱ)·ε)/√α
  const t = 2, x0 = 0.3, eps = -1.1;
  const xt = Math.sqrt(0.504) * x0 + Math.sqrt(1 - 0.504) * eps;
  close(
    s.posteriorMeanCoefX0[t] * x0 + s.posteriorMeanCoefXt[t] * xt,
    (xt - 0.3 / Math.sqrt(1 - 0.504) * eps) / Math.sqrt(0.7),
    1e-12,
    "mean forms agree",
  );
});

Deno.test("invalid T, s, beta and t are RangeErrors naming the value", () => {
  assert.throws(() => makeSchedule("linear", 0), {
    name: "RangeError",
    message: /T must be a positive integer, got 0/,
  });
  assert.throws(() => makeSchedule("cosine", 2.5), { name: "RangeError", message: /got 2\.5/ });
  assert.throws(() => cosineBetaSchedule(10, -1), { name: "RangeError", message: /got -1/ });
  // @ts-expect-error: an unknown kind
  assert.throws(() => makeSchedule("quadratic", 10), { name: "RangeError", message: /quadratic/ });
  assert.throws(() => scheduleFromBetas("linear", Float64Array.of(0.1, 1)), {
    name: "RangeError",
    message: /beta\[1\]/,
  });
  assert.throws(() => checkTimestep(500, 500), { name: "RangeError", message: /got 500/ });
  assert.throws(() => checkTimestep(-1, 500), { name: "RangeError", message: /got -1/ });
});
