/**
 * A small seeded random generator (xoshiro128**) with Gaussian draws, so that noise, batches and
 * flips are identical on every backend and a run can be resumed exactly.
 *
 * @module
 */

/** The full state of an {@linkcode Rng}: four 32-bit words, plus a cached Gaussian. */
export interface RngState {
  /** The xoshiro128** words. */
  s: [number, number, number, number];
  /** A second Box–Muller draw kept for the next call, or null. */
  spare: number | null;
}

function splitmix32(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x = (x + 0x9e3779b9) >>> 0;
    let z = x;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/**
 * Seeded generator of uniform and normal numbers.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Rng } from "./rng.ts";
 * const a = new Rng(7), b = new Rng(7);
 * assert.equal(a.normal(), b.normal());
 * ```
 */
export class Rng {
  #s: Uint32Array;
  #spare: number | null = null;

  /** Seeds the generator; any integer works, equal seeds give equal streams. */
  constructor(seed = 0) {
    if (!Number.isFinite(seed)) throw new RangeError(`seed must be a finite number, got ${seed}`);
    const next = splitmix32(Math.trunc(seed) ^ Math.trunc(seed / 2 ** 32));
    this.#s = Uint32Array.of(next(), next(), next(), next());
  }

  /** A uniform 32-bit unsigned integer. */
  nextU32(): number {
    const s = this.#s;
    const result = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** A uniform number in [0, 1). */
  uniform(): number {
    return this.nextU32() / 4294967296;
  }

  /** A uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  /** A standard normal draw (Box–Muller). */
  normal(): number {
    if (this.#spare !== null) {
      const v = this.#spare;
      this.#spare = null;
      return v;
    }
    let u = 0;
    while (u === 0) u = this.uniform();
    const v = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    this.#spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** Fills (or creates) a Float32Array with standard normal draws. */
  normalArray(n: number, out: Float32Array = new Float32Array(n)): Float32Array {
    for (let i = 0; i < n; i++) out[i] = this.normal();
    return out;
  }

  /** Fisher–Yates shuffle in place. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [items[i], items[j]] = [items[j], items[i]];
    }
    return items;
  }

  /** A copy of the state, for checkpoints. */
  getState(): RngState {
    return { s: [this.#s[0], this.#s[1], this.#s[2], this.#s[3]], spare: this.#spare };
  }

  /** Restores a state from {@linkcode Rng.getState}. */
  setState(state: RngState): void {
    if (!Array.isArray(state?.s) || state.s.length !== 4) {
      throw new TypeError("rng state must hold four 32-bit words");
    }
    this.#s = Uint32Array.from(state.s);
    this.#spare = state.spare ?? null;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
