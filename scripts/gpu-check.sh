#!/usr/bin/env bash
# The GPU check: everything a GPU machine should measure about ring-wgpu, in one call that
# stops inside 9 minutes, with PyTorch on the same GPU side by side.
#
#   bash scripts/gpu-check.sh [--pack DIR] [--bin PATH] [--out DIR] [--budget SECONDS]
#   bash scripts/gpu-check.sh --quick [--bin PATH] [--out DIR]     # tiny shapes, any adapter
#   --parts train-r18-gpu,ops-gpu,...  run only these parts, comma-separated (the others are
#                   reported skipped; `info` always runs: the GPU parts need its adapter check)
#
# --quick is the check's own test (CI runs it on lavapipe): every part with tiny shapes,
# the PyTorch peer on the CPU when python3 has torch, ResNet-18 on the GPU left out.
#
# Parts, most important first, each under its own time limit and all under one deadline
# (--budget, default 540 s; a part that would start with under 15 s left is skipped):
#   info            `ring-wgpu info`: the adapter must be a hardware GPU (not with --quick)
#   train-small-gpu `bench train --devices gpu`, small ResNet, B = 256, queue 65,536
#   torch-small     scripts/torch_moco_step.py on CUDA (the CPU with --quick), same shapes
#   ring            `bench ring`, B = 256, N = 65,536, checked against the CPU reference
#   train-r18-gpu   `bench train --devices gpu`, ResNet-18, B = 256, queue 65,536 (the
#                   default GPU convolution; with burn's autotune, as gpu-pack.sh builds it,
#                   stride 1 as burn's transposed convolution)
#   train-r18-gpu-norm  the same with RING_WGPU_GPU_NORM=wgsl (batch norm through our WGSL
#                   kernels instead of burn's dozen operations)
#   train-r18-gpu-burn  the same with RING_WGPU_GPU_CONV=burn (burn's direct convolution
#                   throughout: what the default replaced, 2.4x slower on an H200)
#   torch-r18       the PyTorch peer, ResNet-18
#   ops-gpu         `bench ops --gpu`, ResNet-18 at B = 256: each layer's operation on its
#                   own (where a step's time goes)
#   epoch           one epoch of `--preset paper-cifar10-mocoring` on 50,000 synthetic images
#                   (100 s on an H200: kNN monitor before and after, autotuning, the epoch)
#   train-small-cpu, train-r18-cpu   `bench train --devices cpu`, the same shapes
#   train-r18-gpu-matmul  train-r18-gpu with RING_WGPU_GPU_CONV=matmul (the convolution as
#                   one matrix product: burn's WGSL forward convolution is a direct one)
# With burn's autotune (the CLI's default) the first step of every new shape times candidate
# kernels: on an H200 that took 25 s (small ResNet) and 62 s (ResNet-18) of each GPU part.
# Device memory: nvidia-smi sampled every 0.5 s, the peak within each part's window.
#
# Writes gpu-check.md (one table per measurement) and gpu-check.json, plus gpu-check.log
# (every part's output) and gpu-memory.csv, into --out (default: $OUT when set, else
# runs/gpu-check). Partial results are kept: a part that fails or runs out of time is
# marked so and the others still report. Exit status 0 when every part that ran succeeded.
#
# On the GPU machine: --pack names the folder scripts/gpu-pack.sh made (the stripped,
# gzipped binary, the Vulkan loader's Debian packages, the commit it was built from; by
# default the folder this script is in when it holds ring-wgpu.gz, else .gpu-pack); the
# loader is unpacked only when the system has none (root needed). Every process is started
# under `timeout` (TERM, then KILL 10 s later) so no part outlives its limit, and nothing
# asks the driver for managed memory.
set -uo pipefail
# The check's helpers sit beside it, in scripts/ or in the pack (which is self-contained).
here=$(cd "$(dirname "$0")" && pwd)

quick=0
pack="$here/../.gpu-pack"
[ -f "$here/ring-wgpu.gz" ] && pack=$here
bin=""
out="${OUT:-runs/gpu-check}"
budget=""
parts=""
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --pack) pack="$2"; shift ;;
    --bin) bin="$2"; shift ;;
    --out) out="$2"; shift ;;
    --budget) budget="$2"; shift ;;
    --parts) parts="$2"; shift ;;
    -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d'; exit 0 ;;
    *) echo "gpu-check: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done
[ -n "$budget" ] || budget=$([ $quick = 1 ] && echo 600 || echo 540)
case "$budget" in ''|*[!0-9]*) echo "gpu-check: --budget takes whole seconds, got '$budget'" >&2; exit 2 ;; esac
known_parts=(info train-small-gpu torch-small ring train-r18-gpu train-r18-gpu-norm train-r18-gpu-burn torch-r18 ops-gpu epoch
  train-small-cpu train-r18-cpu train-r18-gpu-matmul)
# in_list VALUE [ITEM...]: is VALUE one of the items?
in_list() {
  local value=$1 item; shift
  for item in "$@"; do [ "$item" = "$value" ] && return 0; done
  return 1
}
wanted=()
if [ -n "$parts" ]; then
  IFS=, read -ra wanted <<< "$parts"
  for name in ${wanted[@]+"${wanted[@]}"}; do
    in_list "$name" "${known_parts[@]}" || { echo "gpu-check: --parts: no part named '$name' (the parts, comma-separated without spaces: $(IFS=,; echo "${known_parts[*]}"))" >&2; exit 2; }
  done
fi
# Is part $1 to run? Every part without --parts; `info` always.
wanted_part() {
  [ -z "$parts" ] || [ "$1" = info ] && return 0
  in_list "$1" ${wanted[@]+"${wanted[@]}"}
}

start=$(date +%s)
deadline=$((start + budget))
mkdir -p "$out" || { echo "gpu-check: cannot create the output folder $out" >&2; exit 2; }
work=$(mktemp -d "${TMPDIR:-/tmp}/gpu-check.XXXXXX")
log="$out/gpu-check.log"
: > "$log"
say() { echo "[$(( $(date +%s) - start ))s] $*" | tee -a "$log"; }
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"
export RUST_BACKTRACE=1

# --- the binary -------------------------------------------------------------------------
if [ -z "$bin" ]; then
  if [ -f "$pack/ring-wgpu.gz" ]; then
    bin="$work/ring-wgpu"
    gzip -dc "$pack/ring-wgpu.gz" > "$bin" && chmod +x "$bin" || { echo "gpu-check: cannot unpack $pack/ring-wgpu.gz" >&2; exit 2; }
  elif [ -x "${CARGO_TARGET_DIR:-$here/../target}/release/ring-wgpu" ]; then
    bin="${CARGO_TARGET_DIR:-$here/../target}/release/ring-wgpu"
  else
    echo "gpu-check: no binary: run scripts/gpu-pack.sh (or cargo build --release -p ring-wgpu), or pass --bin PATH" >&2
    exit 2
  fi
fi
[ -x "$bin" ] || { echo "gpu-check: --bin $bin is not an executable file" >&2; exit 2; }

# --- Vulkan: the loader and glvnd from the pack where the system lacks them; the NVIDIA ICD --
# NVIDIA's Vulkan driver (libGLX_nvidia) needs glvnd's libGLdispatch: with the loader alone
# the lent H200 listed no adapter at all.
have_lib() {
  { ldconfig -p 2>/dev/null || /sbin/ldconfig -p 2>/dev/null; } | grep -q "$1" && return 0
  for dir in /usr/lib/x86_64-linux-gnu /usr/lib64 /usr/lib; do
    [ -e "$dir/$1" ] && return 0
  done
  return 1
}
if ! have_lib libvulkan.so.1 || ! have_lib libGLdispatch.so.0; then
  if ls "$pack"/debs/*.deb >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    say "no Vulkan loader or no glvnd on this system: unpacking $(ls "$pack"/debs | tr '\n' ' ')"
    for deb in "$pack"/debs/*.deb; do dpkg -x "$deb" / || say "dpkg -x $deb failed"; done
    ldconfig
  else
    say "no Vulkan loader (libvulkan.so.1) or glvnd (libGLdispatch.so.0), and no packages in $pack/debs to unpack as root: the GPU parts may fail"
  fi
fi
if [ -z "${VK_DRIVER_FILES:-}${VK_ICD_FILENAMES:-}" ] && ! ls /usr/share/vulkan/icd.d/*.json /etc/vulkan/icd.d/*.json >/dev/null 2>&1; then
  for icd in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/local/nvidia/icd.d/nvidia_icd.json; do
    [ -f "$icd" ] && { export VK_DRIVER_FILES="$icd"; say "Vulkan driver: $icd"; break; }
  done
fi

# --- the PyTorch peer ---------------------------------------------------------------------
python=${TORCH_PYTHON:-python3}
torch_device=cuda
[ $quick = 1 ] && torch_device=cpu
torch_ok=1
if ! timeout -k 5 60 "$python" -c "import torch, sys; sys.exit(0 if '$torch_device' == 'cpu' or torch.cuda.is_available() else 1)" >/dev/null 2>&1; then
  torch_ok=0
fi

# --- device memory sampler ------------------------------------------------------------------
memory_csv="$out/gpu-memory.csv"
echo "unix_seconds,memory_used_mib" > "$memory_csv"
sampler=""
if command -v nvidia-smi >/dev/null 2>&1; then
  (
    while :; do
      used=$(nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits 2>/dev/null | head -1)
      [ -n "$used" ] && echo "$(date +%s.%N),$used" >> "$memory_csv"
      sleep 0.5
    done
  ) &
  sampler=$!
fi
cleanup() {
  [ -n "$sampler" ] && kill "$sampler" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

# --- parts -------------------------------------------------------------------------------
# part NAME LIMIT COMMAND...: runs COMMAND under min(LIMIT, time left), stdout to
# $work/NAME.out, both streams to the log; records rc, seconds and the window.
failed=0
part() {
  local name=$1 limit=$2; shift 2
  local now left
  now=$(date +%s)
  if ! wanted_part "$name"; then
    echo "skipped not in --parts 0 $now $now $limit" > "$work/$name.status"
    say "$name: skipped (not in --parts)"
    return
  fi
  left=$((deadline - now))
  if [ "$left" -lt 15 ]; then
    say "$name: skipped, ${left}s left of the ${budget}s budget"
    echo "skipped no-time-left 0 $now $now $limit" > "$work/$name.status"
    return
  fi
  [ "$left" -lt "$limit" ] && limit=$left
  say "$name (limit ${limit}s): $*"
  local t0 t1 rc
  t0=$(date +%s.%N)
  echo "----- $name: $*" >> "$log"
  timeout -k 10 "$limit" "$@" > "$work/$name.out" 2> >(tee -a "$log" >&2)
  rc=$?
  t1=$(date +%s.%N)
  cat "$work/$name.out" >> "$log"
  local status=ok
  if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then status=timeout; elif [ "$rc" != 0 ]; then status=failed; fi
  [ "$status" = ok ] || failed=1
  echo "$status $rc $(awk "BEGIN{printf \"%.2f\", $t1 - $t0}") $t0 $t1 $limit" > "$work/$name.status"
  say "$name: $status (rc $rc)"
}
skip() {
  local now; now=$(date +%s)
  echo "skipped $2 0 $now $now 0" > "$work/$1.status"
  say "$1: skipped: $2"
}

# The A/B parts (train-r18-gpu-norm, -burn, -matmul) run ResNet-18, or with --quick the
# small ResNet (ResNet-18's kernels take minutes to compile on a software adapter).
if [ $quick = 1 ]; then
  B=8; Q=64; RB=16; RN=1024; R18B=2; WARM=1; STEPS=1; CPU_STEPS=1; PER_CLASS=2
  AB_MODEL=small; AB_B=$B; AB_LIMIT=100
  epoch_args=(--model small --batch 8 --queue 64 --knn-k 5)
  ops_args=(--model small --batch 8 --repeats 1)
else
  B=256; Q=65536; RB=256; RN=65536; R18B=256; WARM=2; STEPS=10; CPU_STEPS=3; PER_CLASS=5000
  AB_MODEL=resnet18; AB_B=$R18B; AB_LIMIT=130
  epoch_args=()
  ops_args=(--model resnet18 --batch 256 --repeats 3)
fi

part info 30 "$bin" info
gpu_ok=1
if [ "$(cat "$work/info.status" | cut -d' ' -f1)" != ok ]; then
  gpu_ok=0
elif grep -q "a software rasteriser" "$work/info.out" && [ $quick = 0 ]; then
  say "info: the chosen adapter is a software one; the GPU parts would measure the CPU (use --quick for a software adapter)"
  echo "failed software-adapter 0 0 0 0" > "$work/info.status"
  failed=1
  gpu_ok=0
fi

bench_train() { # NAME DEVICE MODEL BATCH STEPS LIMIT [VAR=VALUE...] (environment for the run)
  local name=$1 device=$2 model=$3 batch=$4 steps=$5 limit=$6
  shift 6
  if [ "$device" = gpu ] && [ $gpu_ok = 0 ]; then skip "$name" "no usable GPU adapter (see info)"; return; fi
  part "$name" "$limit" env "$@" "$bin" bench train --devices "$device" --models "$model" --batch "$batch" --queue "$Q" \
    --warmup "$WARM" --steps "$steps" --format json --json "$work/$name.json"
}
torch_peer() { # NAME MODEL BATCH LIMIT
  local name=$1 model=$2 batch=$3 limit=$4
  if [ $torch_ok = 0 ]; then skip "$name" "$python cannot import torch (with CUDA when not --quick)"; return; fi
  part "$name" "$limit" "$python" "$here/torch_moco_step.py" --device "$torch_device" --model "$model" --batch "$batch" \
    --queue "$Q" --warmup "$WARM" --steps "$STEPS"
}

bench_train train-small-gpu gpu small "$B" "$STEPS" 90
torch_peer torch-small small "$B" 60
if [ $gpu_ok = 1 ]; then
  part ring 60 "$bin" bench ring --batch "$RB" --candidates "$RN" --iters 10 --cpu-iters 1 --format json --json "$work/ring.json"
else
  skip ring "no usable GPU adapter (see info)"
fi
if [ $quick = 1 ]; then
  # On a software adapter ResNet-18's kernels alone take minutes to compile.
  skip train-r18-gpu "--quick: ResNet-18 on a software adapter takes minutes to compile"
else
  bench_train train-r18-gpu gpu resnet18 "$R18B" "$STEPS" 130
fi
bench_train train-r18-gpu-norm gpu "$AB_MODEL" "$AB_B" "$STEPS" "$AB_LIMIT" RING_WGPU_GPU_NORM=wgsl
bench_train train-r18-gpu-burn gpu "$AB_MODEL" "$AB_B" "$STEPS" "$AB_LIMIT" RING_WGPU_GPU_CONV=burn
torch_peer torch-r18 resnet18 "$R18B" 60
if [ $gpu_ok = 1 ]; then
  part ops-gpu 100 "$bin" bench ops --gpu "${ops_args[@]}" --json "$work/ops-gpu.json"
else
  skip ops-gpu "no usable GPU adapter (see info)"
fi
# A check started with RING_WGPU_GPU_CONV or RING_WGPU_GPU_NORM in its environment uses that
# form in every part that does not set its own.
echo "${RING_WGPU_GPU_CONV:+RING_WGPU_GPU_CONV=$RING_WGPU_GPU_CONV }${RING_WGPU_GPU_NORM:+RING_WGPU_GPU_NORM=$RING_WGPU_GPU_NORM}" > "$work/gpu-switches.txt"
if [ $gpu_ok = 1 ]; then
  # The untrained and the final kNN monitor each embed all 75,000 images (70 s on the H200).
  part epoch 420 "$bin" train --preset paper-cifar10-mocoring --dataset synthetic --synthetic-per-class "$PER_CLASS" \
    --epochs 1 --device gpu ${epoch_args[@]+"${epoch_args[@]}"} --out "$work/epoch-run"
  cp "$work/epoch-run/metrics.jsonl" "$work/epoch.jsonl" 2>/dev/null
  cp "$work/epoch-run/config.json" "$work/epoch-config.json" 2>/dev/null
else
  skip epoch "no usable GPU adapter (see info)"
fi
bench_train train-small-cpu cpu small "$B" "$CPU_STEPS" 60
bench_train train-r18-cpu cpu resnet18 "$R18B" "$CPU_STEPS" 90
# Last: the matmul convolution lost the A/B on the H200 (0.31x, then 0.36x burn's images/s).
bench_train train-r18-gpu-matmul gpu "$AB_MODEL" "$AB_B" "$STEPS" "$AB_LIMIT" RING_WGPU_GPU_CONV=matmul

[ -n "$sampler" ] && { kill "$sampler" 2>/dev/null; sampler=""; }
version="unknown commit"
[ -f "$pack/VERSION" ] && version=$(cat "$pack/VERSION")
[ "$version" = "unknown commit" ] && command -v git >/dev/null && version=$(git -C "$here" describe --always --dirty 2>/dev/null || echo "unknown commit")
python3 "$here/gpu_check_report.py" --work "$work" --out "$out" --quick "$quick" --budget "$budget" \
  --version "$version" --seconds "$(( $(date +%s) - start ))" || { echo "gpu-check: the report could not be written" >&2; exit 1; }
say "done: $out/gpu-check.md, $out/gpu-check.json"
exit $failed
