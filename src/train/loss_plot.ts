/**
 * The loss curve of a run as a small standalone SVG (raw loss faint, smoothed loss bold, log y).
 *
 * @module
 */

/** One row of `loss.csv`. */
export interface LossRow {
  /** Optimizer step (1-based). */
  step: number;
  /** The batch's L_simple. */
  loss: number;
  /** Exponentially smoothed loss. */
  smoothed: number;
}

/**
 * Renders loss rows as an SVG line chart with a logarithmic loss axis; a line breaks where steps are
 * missing from the rows.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { lossCurveSvg } from "./loss_plot.ts";
 * const svg = lossCurveSvg([{ step: 1, loss: 1, smoothed: 1 }, { step: 2, loss: 0.5, smoothed: 0.9 }]);
 * assert.ok(svg.startsWith("<svg"));
 * // each curve is one line, broken where steps are missing
 * assert.equal(svg.match(/M/g)!.length, 2);
 * const gap = lossCurveSvg([1, 2, 5, 6].map((step) => ({ step, loss: 1 / step, smoothed: 1 / step })));
 * assert.equal(gap.match(/M/g)!.length, 4);
 * ```
 */
export function lossCurveSvg(rows: LossRow[], title = "training loss (L_simple)"): string {
  const W = 640, H = 360, L = 60, R = 20, T = 30, B = 40;
  const pw = W - L - R, ph = H - T - B;
  const finite = rows.filter((r) => Number.isFinite(r.loss) && r.loss > 0);
  const maxStep = Math.max(1, ...finite.map((r) => r.step));
  const lo = Math.log10(Math.max(1e-6, Math.min(...finite.map((r) => Math.min(r.loss, r.smoothed)), 1)));
  const hi = Math.log10(Math.max(...finite.map((r) => r.loss), 1e-5));
  const yl = Math.floor(lo), yh = Math.max(Math.ceil(hi), yl + 1);
  const x = (s: number) => L + (s / maxStep) * pw;
  const y = (v: number) => T + (1 - (Math.log10(Math.max(v, 1e-6)) - yl) / (yh - yl)) * ph;
  const path = (key: "loss" | "smoothed") =>
    // a step missing from the rows (a lost stretch of loss.csv, a non-finite loss) breaks the line
    finite.map((r, i) => {
      const joined = i > 0 && r.step === finite[i - 1].step + 1;
      return `${joined ? "L" : "M"}${x(r.step).toFixed(1)},${y(r[key]).toFixed(1)}`;
    }).join("");
  const ticks: string[] = [];
  for (let e = yl; e <= yh; e++) {
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** e;
      if (Math.log10(v) > yh) break;
      ticks.push(
        `<line x1="${L}" x2="${W - R}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#eee"/>` +
          `<text x="${L - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end">${v.toPrecision(1)}</text>`,
      );
    }
  }
  for (let i = 0; i <= 4; i++) {
    const s = Math.round(maxStep * i / 4);
    ticks.push(`<text x="${x(s).toFixed(1)}" y="${H - B + 18}" text-anchor="middle">${s}</text>`);
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11">` +
    `<rect width="${W}" height="${H}" fill="white"/>${ticks.join("")}` +
    `<rect x="${L}" y="${T}" width="${pw}" height="${ph}" fill="none" stroke="#888"/>` +
    `<path d="${path("loss")}" fill="none" stroke="#9ab" stroke-width="0.6"/>` +
    `<path d="${path("smoothed")}" fill="none" stroke="#c33" stroke-width="2"/>` +
    `<text x="${W / 2}" y="18" text-anchor="middle" font-size="13">${title}</text>` +
    `<text x="${W / 2}" y="${H - 6}" text-anchor="middle">step</text></svg>\n`;
}

/** `loss.csv` text for the rows (header included). */
export function lossCsv(
  rows: { step: number; loss: number; smoothed: number; lr: number; imagesPerSecond: number }[],
): string {
  return "step,loss,smoothed,lr,images_per_s\n" +
    rows.map((r) => `${r.step},${r.loss},${r.smoothed},${r.lr},${r.imagesPerSecond.toFixed(2)}`).join("\n") +
    "\n";
}
