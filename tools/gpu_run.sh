#!/usr/bin/env bash
# Runs one job on a GPU machine that has no package registry, from what tools/pack_carry.sh packed
# into .carry/: unpacks Deno and the Vulkan loader outside the repository, node_modules into it, and
# copies what must come back into $OUT (at most 8 files of 16 MiB; the log included).
#
# usage: bash tools/gpu_run.sh check [deno task gpu-check flags…]
#        bash tools/gpu_run.sh train [deno task train flags…]   (default recipe configs/faces4-64.json)
# env:   OUT (where results go; default data/out), RUN_DIR (unpack folder; default /tmp/emoji-diffusion-run)
set -uo pipefail
cd "$(dirname "$0")/.."
C=.carry
job=${1:-}
shift || true
OUT=${OUT:-data/out}
R=${RUN_DIR:-/tmp/emoji-diffusion-run}
mkdir -p "$OUT" "$R/bin" "$R/root" "$R/deno_dir"
log="$OUT/gpu-run.log"
exec > >(tee -a "$log") 2>&1
t0=$(date +%s)
say() { echo "[gpu-run $(($(date +%s) - t0))s] $*"; }

[ -s "$C/deno.xz" ] && [ -s "$C/node_modules.tar.xz" ] || { say "error: .carry is incomplete; run tools/pack_carry.sh and carry .carry"; exit 2; }
# Deno (xz, else Python's lzma: one of them is everywhere)
if [ ! -x "$R/bin/deno" ]; then
  xz -dc "$C/deno.xz" >"$R/bin/deno" 2>/dev/null ||
    python3 -c "import lzma,shutil,sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2],'wb'))" \
      "$C/deno.xz" "$R/bin/deno" || { say "error: cannot decompress deno"; exit 1; }
  chmod +x "$R/bin/deno"
fi
# node_modules in the repository root, where deno.json's nodeModulesDir puts it
rm -rf node_modules && tar -xJf "$C/node_modules.tar.xz" || { say "error: cannot unpack node_modules"; exit 1; }
# the npm registry metadata, so that deno trusts node_modules without asking the registry
[ -s "$C/deno_dir.tar.xz" ] && tar -C "$R/deno_dir" -xJf "$C/deno_dir.tar.xz"
# the Vulkan loader in a private root (never over /), found through LD_LIBRARY_PATH
for f in "$C"/gl/*.deb; do [ -f "$f" ] && dpkg-deb -x "$f" "$R/root" 2>/dev/null; done
export LD_LIBRARY_PATH="$R/root/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
[ -f "$icd" ] && export VK_DRIVER_FILES="$icd"
export PATH="$R/bin:$PATH" DENO_DIR="$R/deno_dir" DENO_NO_UPDATE_CHECK=1 NO_COLOR=1
say "$(deno --version | head -1); $(nvidia-smi -L 2>/dev/null | head -1 || echo 'no nvidia-smi')"

case "$job" in
  check)
    deno task gpu-check --out data/gpu-check "$@"
    rc=$?
    cp data/gpu-check/gpu-check.json data/gpu-check/gpu-check.md "$OUT"/ 2>/dev/null
    cp data/gpu-check/samples-*.png "$OUT"/ 2>/dev/null
    ;;
  train)
    run=data/runs/gpu-train
    rm -rf "$run"
    deno task train --config configs/faces4-64.json --backend webgpu --out "$run" --export-to "$run/return" "$@"
    rc=$?
    cp "$run"/return/* "$OUT"/ 2>/dev/null
    ;;
  *)
    say "error: job must be check or train, got \"$job\""
    exit 2
    ;;
esac
say "done, exit $rc; in $OUT: $(ls "$OUT" | tr '\n' ' ')"
exit $rc
