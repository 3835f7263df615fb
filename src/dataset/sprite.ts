/**
 * Splitting an SVG sprite (one root `<svg>` whose children are `<svg id="1F600">…</svg>` elements, as in
 * `@svgmoji/noto`'s `sprites/all.svg`) into standalone SVG documents, one per child.
 *
 * A child is rendered on its own, so every `url(#id)` / `href="#id"` it uses must resolve inside it. Its
 * own definitions always win (two emojis may both define `id="a"`: each keeps its own gradient, as it
 * would not in the whole sprite, where the first `a` wins). A reference the child does not define but
 * another part of the sprite does is copied into a `<defs>` of the child, with whatever that definition
 * refers to in turn. A reference defined nowhere is reported in {@linkcode SpriteEntry.missing}.
 *
 * @module
 */

/** An error in the structure of a sprite: unbalanced tags, no root `<svg>`. */
export class SpriteError extends Error {
  /** Always `SpriteError`. */
  override name = "SpriteError";
}

/** One standalone SVG split out of a sprite. */
export interface SpriteEntry {
  /** The child's `id` attribute, e.g. `1F600`. */
  id: string;
  /** A standalone SVG document (namespace declarations added where missing). */
  svg: string;
  /** Ids referenced by the child that it did not define and that were copied in from elsewhere in the sprite. */
  copied: string[];
  /** Ids referenced by the child that the sprite defines nowhere (the renderer ignores them). */
  missing: string[];
}

/** A start, end or empty tag found in the text. */
interface Tag {
  name: string;
  start: number;
  end: number;
  close: boolean;
  selfClosing: boolean;
  /** Index of the matching tag (start → end and end → start); equal to its own index for empty tags. */
  match: number;
}

/** Scans the element tags of an XML text (skips comments, CDATA, processing instructions, doctype). */
function scanTags(text: string): Tag[] {
  const tags: Tag[] = [];
  const stack: number[] = [];
  let i = 0;
  while (true) {
    const lt = text.indexOf("<", i);
    if (lt < 0) break;
    if (text.startsWith("<!--", lt)) {
      const e = text.indexOf("-->", lt + 4);
      if (e < 0) throw new SpriteError(`unterminated comment at offset ${lt}`);
      i = e + 3;
      continue;
    }
    if (text.startsWith("<![CDATA[", lt)) {
      const e = text.indexOf("]]>", lt + 9);
      if (e < 0) throw new SpriteError(`unterminated CDATA section at offset ${lt}`);
      i = e + 3;
      continue;
    }
    if (text[lt + 1] === "?" || text[lt + 1] === "!") {
      const e = text.indexOf(">", lt);
      if (e < 0) throw new SpriteError(`unterminated declaration at offset ${lt}`);
      i = e + 1;
      continue;
    }
    // A tag: find its end outside quoted attribute values.
    let j = lt + 1;
    let quote = "";
    for (; j < text.length; j++) {
      const c = text[j];
      if (quote) {
        if (c === quote) quote = "";
      } else if (c === '"' || c === "'") quote = c;
      else if (c === ">") break;
    }
    if (j >= text.length) throw new SpriteError(`unterminated tag at offset ${lt}`);
    const close = text[lt + 1] === "/";
    const name = /^<\/?([A-Za-z_][\w:.-]*)/.exec(text.slice(lt, Math.min(j + 1, lt + 64)))?.[1];
    if (!name) throw new SpriteError(`malformed tag at offset ${lt}`);
    const selfClosing = !close && text[j - 1] === "/";
    const index = tags.length;
    const tag: Tag = { name, start: lt, end: j + 1, close, selfClosing, match: index };
    tags.push(tag);
    if (close) {
      const open = stack.pop();
      if (open === undefined || tags[open].name !== name) {
        throw new SpriteError(`</${name}> at offset ${lt} closes nothing open`);
      }
      tags[open].match = index;
      tag.match = open;
    } else if (!selfClosing) stack.push(index);
    i = j + 1;
  }
  if (stack.length) throw new SpriteError(`<${tags[stack[stack.length - 1]].name}> is never closed`);
  return tags;
}

const ID_ATTR = /\sid\s*=\s*(["'])(.*?)\1/;
const REFS = [/url\(\s*["']?#([^)"']+)["']?\s*\)/g, /href\s*=\s*(["'])#(.*?)\1/g];

/** The ids an SVG fragment refers to (`url(#x)`, `href="#x"`, `xlink:href="#x"`). */
function referencedIds(fragment: string): Set<string> {
  const out = new Set<string>();
  for (const m of fragment.matchAll(REFS[0])) out.add(m[1]);
  for (const m of fragment.matchAll(REFS[1])) out.add(m[2]);
  return out;
}

/**
 * Splits a sprite into standalone SVGs, one per `<svg id=…>` child of the root, in document order.
 * Throws a {@linkcode SpriteError} when the text has no root `<svg>` or its tags do not balance.
 *
 * @example Two emojis that both call their gradient `g`: each keeps its own
 * ```ts
 * import assert from "node:assert/strict";
 * import { splitSprite } from "./sprite.ts";
 * const child = (id: string, colour: string) =>
 *   `<svg id="${id}" viewBox="0 0 8 8"><linearGradient id="g"><stop stop-color="${colour}"/></linearGradient>` +
 *   `<rect width="8" height="8" fill="url(#g)"/></svg>`;
 * const sprite = `<svg xmlns="http://www.w3.org/2000/svg">${child("1F600", "red")}${child("1F601", "blue")}</svg>`;
 * const [a, b] = splitSprite(sprite);
 * assert.equal(a.id, "1F600");
 * assert.ok(b.svg.includes("blue") && !b.svg.includes("red"));
 * assert.ok(b.svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"'));
 * assert.deepEqual([b.copied, b.missing], [[], []]);
 * ```
 */
export function splitSprite(text: string): SpriteEntry[] {
  const tags = scanTags(text);
  const rootIndex = tags.findIndex((t) => !t.close);
  if (rootIndex < 0 || tags[rootIndex].name !== "svg") throw new SpriteError("the sprite has no root <svg>");
  const root = tags[rootIndex];
  const rootOpen = text.slice(root.start, root.end);
  const xlinkNs = /xmlns:xlink\s*=\s*(["'])(.*?)\1/.exec(rootOpen)?.[2] ?? "http://www.w3.org/1999/xlink";

  // Every element with an id, anywhere in the sprite (the first definition of an id wins, as in a browser).
  const defs = new Map<string, { start: number; end: number }>();
  for (const t of tags) {
    if (t.close) continue;
    const id = ID_ATTR.exec(text.slice(t.start, t.end))?.[2];
    if (id !== undefined && !defs.has(id)) defs.set(id, { start: t.start, end: tags[t.match].end });
  }

  const entries: SpriteEntry[] = [];
  // The root's children: walk from the tag after the root's start tag, jumping over each child.
  for (let k = rootIndex + 1; k < root.match; k = tags[k].match + 1) {
    const t = tags[k];
    if (t.close) throw new SpriteError(`unexpected </${t.name}> at offset ${t.start}`);
    if (t.name !== "svg") continue;
    const open = text.slice(t.start, t.end);
    const id = ID_ATTR.exec(open)?.[2];
    if (id === undefined) continue;
    const end = tags[t.match].end;
    const body = text.slice(t.start, end);
    // Ids defined inside this child.
    const local = new Set<string>();
    for (let q = k; q <= t.match; q++) {
      if (tags[q].close) continue;
      const lid = ID_ATTR.exec(text.slice(tags[q].start, tags[q].end))?.[2];
      if (lid !== undefined) local.add(lid);
    }
    // Resolve what it refers to: local ids stay, others are copied in (transitively) or missing.
    const copied: string[] = [], missing: string[] = [];
    const extra: string[] = [];
    const pending = [...referencedIds(body)];
    const seen = new Set<string>();
    while (pending.length) {
      const ref = pending.shift()!;
      if (seen.has(ref) || local.has(ref)) continue;
      seen.add(ref);
      const def = defs.get(ref);
      if (!def) {
        missing.push(ref);
        continue;
      }
      const fragment = text.slice(def.start, def.end);
      copied.push(ref);
      extra.push(fragment);
      pending.push(...referencedIds(fragment));
    }
    let head = open;
    const selfClosing = t.selfClosing;
    if (!/\sxmlns\s*=/.test(head)) head = head.replace(/^<svg/, '<svg xmlns="http://www.w3.org/2000/svg"');
    if (!/\sxmlns:xlink\s*=/.test(head) && /xlink:/.test(body + extra.join(""))) {
      head = head.replace(/^<svg/, `<svg xmlns:xlink="${xlinkNs}"`).replace(
        /^<svg xmlns:xlink="([^"]*)" xmlns="([^"]*)"/,
        '<svg xmlns="$2" xmlns:xlink="$1"',
      );
    }
    let svg: string;
    if (selfClosing) svg = head;
    else {
      const inner = body.slice(open.length);
      svg = head + (extra.length ? `<defs>${extra.join("")}</defs>` : "") + inner;
    }
    entries.push({ id, svg, copied, missing });
  }
  return entries;
}
