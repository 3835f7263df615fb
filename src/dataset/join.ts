/**
 * Joining an SVG emoji set's files to emoji-datasource's `emoji.json` records, so that every style gets
 * the same `category`, `subcategory`, `short_name` and `unified` labels: by code points (OpenMoji, the
 * Noto sprite: `1F600`, `263A` for `263A-FE0F`), or by CLDR name (Fluent, Noto v1: `grinning-face`),
 * first against a table of CLDR names by code points, then case-insensitively against `emoji.json`'s
 * `name` (Unicode's character name, which equals the CLDR name for most emojis but not all:
 * `WHITE SMILING FACE` is "smiling face", and `GRINNING FACE WITH SMILING EYES` is another emoji's CLDR
 * name). Every file that does not join is reported with the reason, and a name miss with the nearest
 * name: nothing is dropped silently.
 *
 * @module
 */
import type { EmojiRecord } from "./vendors.ts";

/** One file (or sprite entry) of an emoji set, before the join. */
export interface SetEntry {
  /** How the set names it: code points (`1F600`, `1f469-200d-1f4bb`) or a CLDR name (`grinning-face`). */
  key: string;
  /** Which kind of key it is. */
  keyKind: "codepoints" | "name";
  /** Where it is, for messages and the manifest (e.g. `color/svg/1F600.svg`, `sprites/all.svg#1F600`). */
  file: string;
}

/** How an entry was joined: by code points, by `emoji.json`'s `name`, or by CLDR name. */
export type JoinVia = "codepoints" | "name" | "cldr";

/** An entry joined to its record. */
export interface JoinMatch<E extends SetEntry = SetEntry> {
  /** The set's entry. */
  entry: E;
  /** The `emoji.json` record it was joined to. */
  record: EmojiRecord;
  /** What matched: code points, `emoji.json`'s `name`, or the CLDR name table. */
  via: JoinVia;
}

/** An entry that did not join. */
export interface JoinMiss<E extends SetEntry = SetEntry> {
  /** The set's entry. */
  entry: E;
  /** Why: `no emoji.json record`, `skin-tone variant`, `duplicate of …`. */
  reason: string;
  /** For a name that joined nothing: the nearest `emoji.json` name (slugged), if any is close. */
  nearest?: string;
}

/** The result of {@linkcode joinEntries}: every entry is in exactly one of `matches` and `misses`. */
export interface JoinReport<E extends SetEntry = SetEntry> {
  /** Joined entries, in the set's order. */
  matches: JoinMatch<E>[];
  /** Entries that did not join, in the set's order, with the reason. */
  misses: JoinMiss<E>[];
}

/**
 * Code points in the one spelling used for joining: upper case, `-`-separated, without the variation
 * selector FE0F (OpenMoji writes `263A`, emoji.json `263A-FE0F`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { codepointKey } from "./join.ts";
 * assert.equal(codepointKey("263a-fe0f"), "263A");
 * assert.equal(codepointKey("1F636_200D_1F32B"), "1F636-200D-1F32B");
 * ```
 */
export function codepointKey(codepoints: string): string {
  return codepoints.toUpperCase().split(/[-_ ]/).filter((c) => c !== "" && c !== "FE0F").join("-");
}

/**
 * A name in the one spelling used for joining: accents and apostrophes dropped, lower case, runs of
 * anything else become `-` (`Piñata` → `pinata`, `MAN'S SHOE` → `mans-shoe`, `GRINNING FACE` →
 * `grinning-face`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { nameKey } from "./join.ts";
 * assert.equal(nameKey("GRINNING FACE"), "grinning-face");
 * assert.equal(nameKey("Piñata"), nameKey("pinata"));
 * assert.equal(nameKey("man’s shoe"), "mans-shoe");
 * ```
 */
export function nameKey(name: string): string {
  return name.normalize("NFD").replace(/[\u0300-\u036f]/g, "").replace(/['’‘]/g, "").toLowerCase()
    .replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "");
}

/** Fluent's and Noto v1's skin-tone suffixes; `-default` is the yellow base emoji. */
const SKIN_TONE = /-(light|medium-light|medium|medium-dark|dark)$|-skin-tone(-|$)/;

function words(s: string): string[] {
  return s.split("-").filter((w) => w !== "");
}

function levenshtein(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}

/**
 * The known name nearest to `key`, for reporting near misses: among the names sharing at least half
 * its words, the one with the smallest edit distance, if that is at most a quarter of the longer name.
 */
function nearestName(key: string, index: Map<string, Set<string>>): string | undefined {
  const mine = new Set(words(key));
  const counts = new Map<string, number>();
  for (const w of mine) for (const name of index.get(w) ?? []) counts.set(name, (counts.get(name) ?? 0) + 1);
  let best: string | undefined, bestDistance = Infinity;
  for (const [name, shared] of counts) {
    if (shared * 2 < mine.size) continue;
    const d = levenshtein(key, name);
    if (d < bestDistance || (d === bestDistance && best !== undefined && name < best)) {
      best = name;
      bestDistance = d;
    }
  }
  return best !== undefined && bestDistance * 4 <= Math.max(key.length, best.length) ? best : undefined;
}

/**
 * Joins a set's entries to `emoji.json` records: a `codepoints` key by {@linkcode codepointKey} against
 * each record's `unified` and `non_qualified`; a `name` key by {@linkcode nameKey} first against
 * `cldrNames` if given (a table of CLDR names by code points, e.g. from OpenMoji's `openmoji.json`
 * `annotation`s, which an alias table may extend), then against each record's `name` (Unicode's
 * character name), each also with a `-default` suffix removed. Two entries that
 * join the same record: the first keeps it, the second is a miss (`duplicate of …`). A name miss gets
 * the nearest record name if one shares at least half its words.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { joinEntries } from "./join.ts";
 * import type { EmojiRecord } from "./vendors.ts";
 * const rec = (name: string, unified: string) => ({ name, unified, short_name: name } as EmojiRecord);
 * const records = [rec("GRINNING FACE", "1F600"), rec("WHITE SMILING FACE", "263A-FE0F")];
 * const { matches, misses } = joinEntries([
 *   { key: "grinning-face", keyKind: "name", file: "grinning-face.svg" },
 *   { key: "smiling-face", keyKind: "name", file: "smiling-face.svg" },
 *   { key: "grinning-fase", keyKind: "name", file: "grinning-fase.svg" },
 * ], records, new Map([["263A", "smiling face"]]));
 * assert.deepEqual(matches.map((m) => [m.record.unified, m.via]), [["1F600", "name"], ["263A-FE0F", "cldr"]]);
 * assert.deepEqual(misses.map((m) => [m.entry.key, m.nearest]), [["grinning-fase", "grinning-face"]]);
 * ```
 */
export function joinEntries<E extends SetEntry>(
  entries: E[],
  records: EmojiRecord[],
  cldrNames?: Iterable<readonly [string, string]>,
): JoinReport<E> {
  const byCodepoints = new Map<string, EmojiRecord>();
  for (const r of records) {
    for (const cp of [r.unified, (r as { non_qualified?: string | null }).non_qualified]) {
      if (!cp) continue;
      const k = codepointKey(cp);
      if (!byCodepoints.has(k)) byCodepoints.set(k, r);
    }
  }
  const byName = new Map<string, EmojiRecord>();
  for (const r of records) if (!byName.has(nameKey(r.name))) byName.set(nameKey(r.name), r);
  const byCldr = new Map<string, EmojiRecord>();
  for (const [cp, name] of cldrNames ?? []) {
    const r = byCodepoints.get(codepointKey(cp));
    if (r && !byCldr.has(nameKey(name))) byCldr.set(nameKey(name), r);
  }
  const wordIndex = new Map<string, Set<string>>();
  for (const name of [...byName.keys(), ...byCldr.keys()]) {
    for (const w of words(name)) {
      if (!wordIndex.has(w)) wordIndex.set(w, new Set());
      wordIndex.get(w)!.add(name);
    }
  }

  const matches: JoinMatch<E>[] = [];
  const misses: JoinMiss<E>[] = [];
  const taken = new Map<string, E>();
  for (const entry of entries) {
    let record: EmojiRecord | undefined;
    let via: JoinVia = entry.keyKind === "codepoints" ? "codepoints" : "name";
    if (entry.keyKind === "codepoints") {
      record = byCodepoints.get(codepointKey(entry.key));
    } else {
      const k = nameKey(entry.key);
      const base = k.endsWith("-default") ? k.slice(0, -"-default".length) : k;
      // CLDR names first: Unicode names can be another emoji's CLDR name (`GRINNING FACE WITH SMILING
      // EYES` is 1F601, whose CLDR name is "beaming face with smiling eyes"; CLDR's "grinning face with
      // smiling eyes" is 1F604).
      record = byCldr.get(k) ?? byCldr.get(base);
      if (record) via = "cldr";
      else record = byName.get(k) ?? byName.get(base);
    }
    if (!record) {
      const name = entry.keyKind === "name" ? nameKey(entry.key) : "";
      if (entry.keyKind === "name" && SKIN_TONE.test(name)) {
        misses.push({ entry, reason: "skin-tone variant (emoji.json lists only the base emoji)" });
      } else if (
        entry.keyKind === "codepoints" &&
        codepointKey(entry.key).split("-").some((c) => /^1F3F[B-F]$/.test(c))
      ) {
        misses.push({ entry, reason: "skin-tone variant (emoji.json lists only the base emoji)" });
      } else {
        const nearest = entry.keyKind === "name" ? nearestName(name, wordIndex) : undefined;
        misses.push({ entry, reason: "no emoji.json record", ...(nearest ? { nearest } : {}) });
      }
      continue;
    }
    const first = taken.get(record.unified);
    if (first) {
      misses.push({ entry, reason: `duplicate of ${first.file} (both are ${record.unified})` });
      continue;
    }
    taken.set(record.unified, entry);
    matches.push({ entry, record, via });
  }
  return { matches, misses };
}

/**
 * One line per kind of miss, for logs: `3 no emoji.json record: a (nearest: b), c, …; 2 skin-tone variant …`.
 * Skin-tone variants are only counted unless `listSkinTones`; at most `limit` names are given per kind.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { summarizeMisses } from "./join.ts";
 * const miss = (key: string) => ({ entry: { key, keyKind: "name" as const, file: `${key}.svg` }, reason: "no emoji.json record" });
 * assert.equal(summarizeMisses([{ ...miss("x"), nearest: "y" }]), "1 no emoji.json record: x (nearest: y)");
 * assert.equal(summarizeMisses([miss("a"), miss("b"), miss("c")], false, 2), "3 no emoji.json record: a, b and 1 more");
 * ```
 */
export function summarizeMisses(misses: JoinMiss[], listSkinTones = false, limit = Infinity): string {
  const groups = new Map<string, JoinMiss[]>();
  for (const m of misses) {
    const kind = m.reason.startsWith("duplicate of") ? "duplicate" : m.reason;
    if (!groups.has(kind)) groups.set(kind, []);
    groups.get(kind)!.push(m);
  }
  const describe = (m: JoinMiss) =>
    m.reason.startsWith("duplicate of")
      ? `${m.entry.key} (${m.reason})`
      : m.entry.key + (m.nearest ? ` (nearest: ${m.nearest})` : "");
  return [...groups].map(([kind, list]) => {
    if (kind.startsWith("skin-tone") && !listSkinTones) return `${list.length} ${kind}`;
    const shown = list.slice(0, limit).map(describe).join(", ");
    const more = list.length > limit ? ` and ${list.length - limit} more` : "";
    return `${list.length} ${kind}: ${shown}${more}`;
  }).join("; ");
}
