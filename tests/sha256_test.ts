// The platform-neutral SHA-256 against node:crypto (the oracle) at every padding boundary.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { sha256Hex } from "../src/platform/sha256.ts";
import { Rng } from "../src/core/rng.ts";

Deno.test("sha256Hex equals node:crypto for lengths around the 55/56/64-byte padding boundaries", () => {
  const rng = new Rng(11);
  for (const n of [0, 1, 3, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129, 1000, 70_001]) {
    const data = Uint8Array.from({ length: n }, () => Math.floor(rng.uniform() * 256));
    assert.equal(sha256Hex(data), createHash("sha256").update(data).digest("hex"), `length ${n}`);
  }
});

Deno.test("sha256Hex reads a subarray's own bytes, not its buffer's", () => {
  const whole = new TextEncoder().encode("xxabcxx");
  assert.equal(sha256Hex(whole.subarray(2, 5)), createHash("sha256").update("abc").digest("hex"));
});
