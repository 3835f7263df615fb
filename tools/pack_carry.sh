#!/usr/bin/env bash
# Packs into .carry/ (ignored by git) what a GPU machine without a package registry needs to run
# `tools/gpu_run.sh`:
#   .carry/deno.xz                  the Deno binary on PATH, xz-compressed
#   .carry/node_modules.tar.xz      the npm packages the tasks load: runtime files only (the
#                                   emoji-datasource images, type declarations, source maps, browser
#                                   and ESM builds left out; tfjs is loaded through its *.node.js builds)
#   .carry/deno_dir.tar.xz          the npm registry metadata of those packages, for DENO_DIR
#   .carry/gl/libvulkan1_*.deb      the Vulkan loader (Debian amd64), unpacked there into .carry/root
#   .carry/peers/seed_torch_bench.py  the PyTorch peer (../shared does not travel)
# and prints the sizes against the 64 MiB that a device call carries (the working tree counts too).
#
# usage: bash tools/pack_carry.sh            (re-uses deno.xz and the .deb when still current)
set -euo pipefail
cd "$(dirname "$0")/.."
C=.carry
mkdir -p "$C/gl" "$C/peers"

# 1. Deno, compressed once per version (xz -9 of ~95 MB takes minutes on two cores)
deno_bin=$(readlink -f "$(command -v deno)")
version=$(deno --version | head -1)
if [ ! -s "$C/deno.xz" ] || [ "$(cat "$C/deno.version" 2>/dev/null)" != "$version" ]; then
  echo "compressing $deno_bin ($version)…"
  xz -T0 -9 -c "$deno_bin" >"$C/deno.xz.tmp"
  mv "$C/deno.xz.tmp" "$C/deno.xz"
  echo "$version" >"$C/deno.version"
fi

# 2. node_modules, installed from the lockfile, then pruned to what runs
deno install --quiet >/dev/null 2>&1 || deno install
list=$(mktemp)
find node_modules \( -type f -o -type l \) | awk '
  # prepare is not run there, but deno installs every locked package unless it finds it in place:
  # the emoji-datasource packages travel as their markers and package.json alone
  /^node_modules\/(\.deno\/)?emoji-datasource-/ {
    if ($0 ~ /(\/\.initialized|\/emoji-datasource-[a-z]+\/package\.json)$/ || $0 ~ /^node_modules\/emoji-datasource-[a-z]+$/) print
    next
  }
  /\.(d\.ts|d\.mts|d\.cts|ts|map|md|html|tsbuildinfo)$/ { next }
  /\.(min|es2017|fesm|es2017\.min|fesm\.min)\.js$/ { next }
  /\/@tensorflow\/[^\/]+\/(src|tools|scripts|wasm-out\/.*\.d)\// { next }
  /\/@tensorflow\/[^\/]+\/dist\/.+\// { next }
  /\/@tensorflow\/[^\/]+\/dist\/[^\/]+\.js$/ && !/\.node\.js$/ { next }
  /\/core-js@[^\/]+\/node_modules\/core-js\// && !/\/core-js\/package\.json$/ { next }
  /\/imagescript\/codecs\/node\/bin\// && !/x64-linux\.node$/ { next }
  /\/imagescript\/(bench|tests?)\// { next }
  { print }
' >"$list"
tar -cf - -T "$list" | xz -T0 -6 >"$C/node_modules.tar.xz.tmp"
mv "$C/node_modules.tar.xz.tmp" "$C/node_modules.tar.xz"
echo "node_modules: $(wc -l <"$list") of $(find node_modules \( -type f -o -type l \) | wc -l) files"
rm -f "$list"

# 2b. the registry metadata deno reads before it trusts node_modules (without it, each run first
#     tries the registry: harmless where there is no DNS, slow where requests hang)
npm_cache=$(deno info --json | sed -n 's/.*"npmCache": *"\([^"]*\)".*/\1/p')
deno eval 'const l = JSON.parse(Deno.readTextFileSync("deno.lock"));
  for (const k of Object.keys(l.npm ?? {})) console.log(`npm/registry.npmjs.org/${k.replace(/(.)@.*$/, "$1")}/registry.json`);' |
  sort -u >"$C/packuments.txt"
tar -C "$(dirname "$npm_cache")" -cf - -T "$C/packuments.txt" | xz -T0 -6 >"$C/deno_dir.tar.xz.tmp"
rm -f "$C/packuments.txt"
mv "$C/deno_dir.tar.xz.tmp" "$C/deno_dir.tar.xz"

# 3. the Vulkan loader, as the device notes say (amd64 package lists kept apart from the system's)
if ! ls "$C"/gl/libvulkan1_*.deb >/dev/null 2>&1; then
  o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
  mkdir -p /tmp/amd64/partial
  # shellcheck disable=SC2086
  apt-get $o update >/dev/null
  # shellcheck disable=SC2086
  (cd "$C/gl" && apt-get $o download libvulkan1)
fi

# 4. the PyTorch peer
peer=../shared/peers/seed_torch_bench.py
if [ -f "$peer" ]; then cp "$peer" "$C/peers/"; else echo "note: $peer not found; the check will skip the peer"; fi

# sizes: what a device call carries is the working tree (tracked + untracked-not-ignored) plus .carry
tree=$(git ls-files -z --cached --others --exclude-standard | xargs -0 du -cb 2>/dev/null | tail -1 | cut -f1)
carry=$(du -cb "$C"/deno.xz "$C"/node_modules.tar.xz "$C"/deno_dir.tar.xz "$C"/gl/*.deb "$C"/peers/* 2>/dev/null | tail -1 | cut -f1)
ls -l "$C"/deno.xz "$C"/node_modules.tar.xz "$C"/deno_dir.tar.xz "$C"/gl/*.deb
awk -v t="$tree" -v c="$carry" 'BEGIN {
  printf "carry %.1f MiB + working tree %.1f MiB = %.1f MiB of 64 MiB\n", c / 2^20, t / 2^20, (c + t) / 2^20
  if (c + t > 64 * 2^20) { print "error: over the 64 MiB a device call carries"; exit 1 }
}'
