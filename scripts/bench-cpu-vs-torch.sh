#!/usr/bin/env bash
# ring-wgpu's CPU backend against PyTorch eager on the same cores, side by side in one run:
# the training step (`ring-wgpu bench train --devices cpu` vs scripts/torch_moco_step.py, the same
# model and step in PyTorch; PEER=path/to/another_peer.py runs an outside one with the same
# flags and JSON lines instead, e.g. ../shared/tools/peer/torch_moco_bench.py)
# for the small ResNet at B = 64 and ResNet-18 at B = 32, then each operation of the small
# encoder (`ring-wgpu bench ops` vs scripts/torch_ops_bench.py, with and without oneDNN).
#
# usage: TORCH_PYTHON=/path/to/venv/bin/python bash scripts/bench-cpu-vs-torch.sh [OUT_DIR]
# (a virtual environment with `pip install torch==2.15.0`; THREADS defaults to 2)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${TORCH_PYTHON:-python3}
THREADS=${THREADS:-2}
OUT=${1:-runs/bench-cpu-vs-torch}
PEER=${PEER:-scripts/torch_moco_step.py}
mkdir -p "$OUT"
"$PY" -c "import torch" || { echo "error: $PY cannot import torch; set TORCH_PYTHON to a Python with torch installed" >&2; exit 1; }
cargo build --release --locked -p ring-wgpu
BIN=${CARGO_TARGET_DIR:-target}/release/ring-wgpu
export RAYON_NUM_THREADS=$THREADS

# ring-wgpu sets glibc's malloc thresholds itself (core/cpu-kernels/src/malloc_tuning.rs); PyTorch is
# run twice: as users run it (glibc's defaults) and under the same settings, through
# GLIBC_TUNABLES, so the table shows what the allocator setting alone is worth to it.
SAME_MALLOC="glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=268435456"
for spec in "small 64" "resnet18 32"; do
  set -- $spec
  "$BIN" bench train --devices cpu --models "$1" --batch "$2" --queue 4096 --steps "${STEPS:-20}" --format json --json "$OUT/ring-$1.json" > /dev/null
  "$PY" "$PEER" --model "$1" --batch "$2" --queue 4096 --threads "$THREADS" --warmup 3 --steps 8 > "$OUT/torch-$1.jsonl"
  GLIBC_TUNABLES=$SAME_MALLOC "$PY" "$PEER" --model "$1" --batch "$2" --queue 4096 --threads "$THREADS" --warmup 3 --steps 8 > "$OUT/torch-malloc-$1.jsonl"
done
"$BIN" bench ops --model small --batch 64 --json "$OUT/ops-ring.json" > /dev/null
"$PY" scripts/torch_ops_bench.py --model small --batch 64 --threads "$THREADS" --json "$OUT/ops-torch.json" > /dev/null
"$PY" scripts/torch_ops_bench.py --model small --batch 64 --threads "$THREADS" --no-mkldnn --json "$OUT/ops-torch-nomkldnn.json" > /dev/null

python3 - "$OUT" <<'PY'
import json, sys, os
out = sys.argv[1]
def peer(path):
    rows = {}
    for line in open(path):
        line = line.strip()
        if line.startswith("{"):
            r = json.loads(line)
            rows[r.get("method")] = r.get("images_per_s") or r.get("img_per_s")
    return rows
def ratio(a, b):
    return "" if not b else f"{a / b:.2f}x"
print("| model, batch | method | ring-wgpu CPU img/s | PyTorch img/s | ring-wgpu / PyTorch | PyTorch, same malloc settings, img/s | ring-wgpu / that |")
print("|---|---|---|---|---|---|---|")
for model, batch in [("small", 64), ("resnet18", 32)]:
    ring = {r["method"]: r for r in json.load(open(f"{out}/ring-{model}.json"))["rows"]}
    torch, same = peer(f"{out}/torch-{model}.jsonl"), peer(f"{out}/torch-malloc-{model}.jsonl")
    for method in ["moco", "mocoring"]:
        a = ring[method]["images_per_s"]
        b, c = torch.get(method), same.get(method)
        print(f"| {model}, B = {batch} | {method} | {a:.1f} | {b if b is None else round(b, 1)} | {ratio(a, b)} | {c if c is None else round(c, 1)} | {ratio(a, c)} |")
print()
ring = json.load(open(f"{out}/ops-ring.json"))
torch = {(r["op"], r["shape"]): r for r in json.load(open(f"{out}/ops-torch.json"))}
plain = {(r["op"], r["shape"]): r for r in json.load(open(f"{out}/ops-torch-nomkldnn.json"))}
print("| op | shape | per pass | ring-wgpu ms/pass | PyTorch ms/pass | PyTorch without oneDNN ms/pass | ring-wgpu / PyTorch time |")
print("|---|---|---|---|---|---|---|")
tot = [0.0, 0.0, 0.0]
for r in ring:
    k = (r["op"], r["shape"])
    t, p = torch.get(k, {}).get("ms_per_pass"), plain.get(k, {}).get("ms_per_pass")
    tot[0] += r["ms_per_pass"]; tot[1] += t or 0; tot[2] += p or 0
    ratio = "" if not t else f"{r['ms_per_pass'] / t:.1f}x"
    print(f"| {r['op']} | {r['shape']} | {r['per_pass']} | {r['ms_per_pass']:.2f} | {t if t is None else round(t, 2)} | {p if p is None else round(p, 2)} | {ratio} |")
print(f"| **total** | | | {tot[0]:.1f} | {tot[1]:.1f} | {tot[2]:.1f} | {tot[0] / tot[1]:.1f}x |")
PY
