/**
 * `deno task prepare`: builds a dataset (atlas PNG + manifest) under `data/<name>/`.
 *
 * ```
 * deno task prepare [--vendor apple,openmoji|all] [--category LIST] [--subcategory LIST]
 *                   [--from FOLDER [--fit pad|crop]] [--size 32] [--background black|white|#rrggbb]
 *                   [--out DIR] [--name NAME]
 * ```
 *
 * @module
 */
import { checkWritableDir, choiceFlag, intFlag, parseFlags, runCli, UsageError } from "../src/cli/flags.ts";
import { optionWording } from "../src/cli/option_wording.ts";
import { DatasetError, prepareDataset, VENDORS } from "../src/dataset/mod.ts";

/** The flag of each option of `prepareDataset`. */
const FLAGS = {
  vendors: "--vendor",
  category: "--category",
  subcategory: "--subcategory",
  from: "--from",
  fit: "--fit",
  size: "--size",
  background: "--background",
  out: "--out",
};
const worded = (line: string) => optionWording(line, FLAGS);

const USAGE = `usage: deno task prepare [options]
  --vendor LIST        comma list of ${VENDORS.join(", ")}, or all (default apple)
  --category LIST      categories to include, e.g. "Smileys & Emotion" or smileys-emotion
  --subcategory LIST   subcategories to include; a trailing * matches a prefix (default: face-* of Smileys & Emotion)
  --from FOLDER        use the PNG/JPEG/SVG files in FOLDER instead of an emoji package
  --fit pad|crop       non-square images of --from: pad to square on the background (default) or crop the centre
  --size N             output size in pixels (default 32)
  --background COLOUR  black (default), white or #rrggbb
  --out DIR            output folder (default data/<name>)
  --name NAME          dataset name (default e.g. apple-faces-32)`;

async function main(): Promise<void> {
  const { values } = parseFlags({
    args: Deno.args,
    options: {
      vendor: { type: "string" },
      category: { type: "string" },
      subcategory: { type: "string" },
      from: { type: "string" },
      fit: { type: "string" },
      size: { type: "string" },
      background: { type: "string" },
      out: { type: "string" },
      name: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  if (values.out !== undefined && values.out.trim() === "") throw new UsageError("--out must not be empty");
  const size = intFlag("size", values.size, 32, 1, 1024);
  const fit = choiceFlag("fit", values.fit, ["pad", "crop"] as const, "pad");
  if (values.fit !== undefined && values.from === undefined) {
    throw new UsageError("--fit applies to --from folders only (emoji packages are square): drop --fit");
  }
  await checkWritableDir("out", values.out ?? "data");
  try {
    await prepareDataset({
      vendors: values.vendor,
      category: values.category,
      subcategory: values.subcategory,
      from: values.from,
      size,
      fit,
      background: values.background,
      out: values.out,
      name: values.name,
      log: (line) => console.log(worded(line)),
      warn: (line) => console.error(`warning: ${worded(line)}`),
    });
  } catch (err) {
    if (!(err instanceof DatasetError)) throw err;
    throw new DatasetError(worded(err.message), { corrupt: err.corrupt, cause: err });
  }
}

if (import.meta.main) await runCli(main);
