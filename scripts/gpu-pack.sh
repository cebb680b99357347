#!/usr/bin/env bash
# Packs the GPU check for a machine that has a GPU but no Rust toolchain and no network:
# the release binary (stripped, gzipped), the Vulkan loader and the glvnd libraries that
# NVIDIA's Vulkan driver loads as Debian packages (amd64; without glvnd the lent H200 showed
# no adapter), the check's scripts and the PyTorch peer, and the commit they were built from, into one
# git-ignored folder (default .gpu-pack/) of at most 64 MiB. Then prints how to run it.
#
#   bash scripts/gpu-pack.sh [DIR]
#
# Needs: cargo, strip, gzip, and apt-get with network access for the loader package
# (without it the pack is still made, and the check uses the GPU machine's own loader if
# it has one). The folder is replaced on every run.
set -euo pipefail
cd "$(dirname "$0")/.."
pack=${1:-.gpu-pack}
limit=$((64 * 1024 * 1024))
target=${CARGO_TARGET_DIR:-target}

case "$pack" in /*|..*) echo "gpu-pack: give a folder inside the repository (it travels with the working tree), got $pack" >&2; exit 2 ;; esac
git check-ignore -q "$pack/x" || { echo "gpu-pack: $pack is not ignored by git; use .gpu-pack or add it to .gitignore" >&2; exit 2; }

echo "== release build"
cargo build --release --locked -p ring-wgpu
rm -rf "$pack"
mkdir -p "$pack/debs"

echo "== binary: strip and gzip"
strip -o "$pack/ring-wgpu" "$target/release/ring-wgpu"
glibc=$(objdump -T "$pack/ring-wgpu" 2>/dev/null | grep -o 'GLIBC_[0-9.]*' | sort -Vu | tail -1 || true)
gzip -9 "$pack/ring-wgpu"

echo "== Vulkan loader and glvnd (Debian packages for amd64)"
lists=$(mktemp -d)
mkdir -p "$lists/partial"
apt_opts=(-o APT::Architecture=amd64 -o APT::Architectures=amd64 -o "Dir::State::Lists=$lists")
if apt-get "${apt_opts[@]}" update -qq >/dev/null 2>&1 \
  && (cd "$pack/debs" && apt-get "${apt_opts[@]}" download libvulkan1 libglvnd0 libgl1 libglx0 libegl1 libgles2 libopengl0 >/dev/null 2>&1); then
  ls "$pack/debs"
else
  echo "warning: could not download libvulkan1 and glvnd (no apt or no network): the check will rely on the GPU machine's own Vulkan loader" >&2
fi
rm -rf "$lists"

echo "== scripts and version"
cp scripts/gpu-check.sh scripts/gpu_check_report.py scripts/torch_moco_step.py "$pack/"
echo "$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . ':!'"$pack" 2>/dev/null || echo '-dirty') built $(date -u +%Y-%m-%d) on $(uname -m), needs ${glibc:-an unknown glibc}" > "$pack/VERSION"

size=$(du -sb "$pack" | cut -f1)
# Sizes of the tracked files there are (a deleted one counts nothing), summed over every xargs batch.
tree=$( (git ls-files -z | xargs -0 stat -c %s 2>/dev/null || true) | awk '{s += $1} END {print s + 0}')
echo
du -ab "$pack" | sort -n | awk '{printf "  %10d  %s\n", $1, $2}'
echo "pack: $size bytes; tracked files: $tree bytes; together $((size + tree)) of $limit"
if [ $((size + tree)) -gt $limit ]; then
  echo "gpu-pack: the pack and the working tree exceed 64 MiB: they cannot travel together" >&2
  exit 1
fi
cat <<EOF

Send $pack along with the working tree and run, on the GPU machine (as root where the
system has no Vulkan loader, so the packaged one can be unpacked):

  bash $pack/gpu-check.sh            # writes gpu-check.md / .json into \$OUT (else runs/gpu-check)

With this workplace's device tool: run(command="bash $pack/gpu-check.sh", carry=["$pack"],
timeout_s=590). The check stops by itself within 540 s (--budget SECONDS to change it).
EOF
