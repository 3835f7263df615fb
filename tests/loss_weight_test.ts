import assert from "node:assert/strict";
import { initBackend } from "../src/backend/select.ts";
import { makeSchedule } from "../src/core/schedule.ts";
import { minSnrWeight, snr } from "../src/train/loss_weight.ts";
import { Trainer } from "../src/train/trainer.ts";
import { parseTrainRecipe } from "../src/train/config_file.ts";
import { fixtureDataset, TINY_UNET, tinyTrainConfig } from "./helpers.ts";

await initBackend("cpu", { log: null });

Deno.test("min-SNR-γ weight is min(SNR, γ)/SNR at every timestep", () => {
  const s = makeSchedule("linear", 500);
  for (let t = 0; t < 500; t++) {
    const r = s.alphasCumprod[t] / (1 - s.alphasCumprod[t]);
    assert.ok(Math.abs(snr(s, t) - r) <= 1e-12 * r);
    const w = minSnrWeight(s, t, 5);
    assert.equal(w, r <= 5 ? 1 : 5 / r, `t = ${t}`);
  }
});

Deno.test("min-SNR-γ refuses γ ≤ 0", () => {
  assert.throws(() => minSnrWeight(makeSchedule("linear", 10), 3, 0), /γ must be > 0/);
});

async function firstLosses(minSnrGamma?: number): Promise<number[]> {
  const trainer = new Trainer(
    tinyTrainConfig(TINY_UNET, { T: 20, batch: 8, ...(minSnrGamma ? { minSnrGamma } : {}) }),
    fixtureDataset(8, 8),
  );
  const losses = [(await trainer.trainStep()).loss, (await trainer.trainStep()).loss];
  trainer.dispose();
  return losses;
}

Deno.test("min-SNR-γ above every timestep's SNR trains exactly as the plain loss", async () => {
  // SNR at t = 0 of the linear T = 20 schedule is ≈ 10⁴: γ = 10⁶ gives every weight 1
  assert.deepEqual(await firstLosses(1e6), await firstLosses());
});

Deno.test("min-SNR-γ below every timestep's SNR lowers the loss of the same batch", async () => {
  // the linear T = 20 schedule keeps SNR > 3 at every t, so γ = 1 weighs every example by 1/SNR < 1
  const [weighted] = await firstLosses(1), [plain] = await firstLosses();
  assert.ok(weighted < plain, `${weighted} vs ${plain}`);
});

Deno.test("a recipe takes minSnrGamma and refuses a non-positive one", () => {
  assert.equal(parseTrainRecipe('{"minSnrGamma": 5}').config.minSnrGamma, 5);
  assert.throws(() => parseTrainRecipe('{"minSnrGamma": 0}'), /minSnrGamma/);
});
