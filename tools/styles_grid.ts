/**
 * The README's grid of styles: one row per vendor of a prepared dataset, one column per subcategory
 * (the same emoji in every row), each image scaled ×2.
 *
 * ```
 * deno task prepare --vendor all --out data/all-faces-32
 * deno run --allow-read --allow-write=data --allow-env --allow-ffi tools/styles_grid.ts \
 *   --dataset data/all-faces-32 --out data/models/styles/grid.png
 * ```
 *
 * @module
 */
import { dirname } from "node:path";
import { parseFlags, runCli, UsageError } from "../src/cli/flags.ts";
import { loadEmojiDataset } from "../src/dataset/mod.ts";
import { styleGridLayout } from "../src/dataset/style_grid.ts";
import { makeGrid } from "../src/image/grid.ts";
import { encodePng } from "../src/image/codec.ts";
import { atomicWriteFile } from "../src/platform/io.ts";

async function main(): Promise<void> {
  const { values } = parseFlags({
    args: Deno.args,
    options: { dataset: { type: "string" }, out: { type: "string" }, scale: { type: "string" } },
    strict: true,
    allowPositionals: false,
  });
  if (!values.dataset || !values.out) throw new UsageError("give --dataset DIR and --out FILE.png");
  const scale = Number(values.scale ?? 2);
  if (!Number.isInteger(scale) || scale < 1 || scale > 8) {
    throw new UsageError(`--scale must be an integer in [1, 8], got "${values.scale}"`);
  }
  const ds = await loadEmojiDataset(values.dataset);
  if (!ds.manifest) throw new UsageError(`--dataset ${values.dataset} has no manifest`);
  const layout = styleGridLayout(ds.manifest);
  if (layout.columns.length === 0) {
    throw new UsageError(`--dataset ${values.dataset}: no emoji is in every vendor`);
  }
  const per = ds.size * ds.size * 3;
  const cells = new Float32Array(layout.indices.length * per);
  layout.indices.forEach((i, k) => cells.set(ds.image(i), k * per));
  const grid = makeGrid(cells, layout.vendors.length, layout.columns.length, ds.size, {
    scale,
    gutter: 2,
    gutterColor: [255, 255, 255],
  });
  await Deno.mkdir(dirname(values.out), { recursive: true });
  await atomicWriteFile(values.out, await encodePng(grid.rgba, grid.width, grid.height));
  console.log(
    `wrote ${values.out}: ${grid.width}x${grid.height}, rows ${layout.vendors.join(", ")}; columns ${
      layout.columns.map((c) => `${c.shortName} (${c.subcategory})`).join(", ")
    }` +
      (layout.leftOut.length ? `; left out (in no vendor's set of all): ${layout.leftOut.join(", ")}` : ""),
  );
}

if (import.meta.main) await runCli(main);
