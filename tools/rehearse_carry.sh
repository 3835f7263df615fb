#!/usr/bin/env bash
# Rehearses a GPU-machine call here: a clean clone of the committed branch plus .carry/ alone, in a
# temporary folder, with an empty DENO_DIR and no network (a user namespace without interfaces), runs
#   tools/gpu_run.sh check --quick                       (the GPU check at tiny sizes, llvmpipe allowed)
#   tools/gpu_run.sh train --backend wasm --minutes M …  (the 64×64 recipe for a tiny budget)
# then loads the returned split EMA checkpoint and samples one image from it.
#
# usage: bash tools/pack_carry.sh && bash tools/rehearse_carry.sh [minutes, default 0.2]
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=${1:-0.2}
[ -s .carry/deno.xz ] || { echo "error: no .carry; run tools/pack_carry.sh first"; exit 2; }
tmp=$(mktemp -d /tmp/emoji-rehearsal.XXXXXX)
git clone -q --no-hardlinks "$(pwd)" "$tmp/repo"
cp -r .carry "$tmp/repo/.carry"
cd "$tmp/repo"
echo "rehearsal in $tmp/repo ($(git log --oneline -1))"
offline() { env -u DENO_DIR OUT="$1" RUN_DIR="$tmp/run" unshare -rn bash "${@:2}"; }
offline "$tmp/out-check" tools/gpu_run.sh check --quick
offline "$tmp/out-train" tools/gpu_run.sh train --backend wasm --minutes "$minutes" --batch 2 --grid 1 --every 1000
echo "returned files:"
ls -l "$tmp/out-check" "$tmp/out-train"
big=$(find "$tmp/out-check" "$tmp/out-train" -type f -size +16M)
[ -z "$big" ] || { echo "error: over 16 MiB: $big"; exit 1; }
first=$(ls "$tmp"/out-train/ema-00001-of-*.safetensors)
PATH="$tmp/run/bin:$PATH" DENO_DIR="$tmp/run/deno_dir" unshare -rn \
  deno task sample --checkpoint "$first" --n 1 --steps 2 --backend wasm --out data/samples/rehearsal
echo "rehearsal passed; files in $tmp"
