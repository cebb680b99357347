#!/usr/bin/env bash
# Every test of ring-wgpu, on a fresh machine: installs what is missing, then runs them.
#
#   1. software Vulkan (Mesa's lavapipe) for the GPU tests, when no Vulkan driver is there
#      (Debian/Ubuntu packages mesa-vulkan-drivers libvulkan1; needs root or sudo);
#   2. a Rust toolchain with the wasm32 standard library (rustup target add, or
#      ../shared/tools/wasm-toolchain.sh where that exists);
#   3. builds the web crate for wasm32-unknown-unknown (profile wasm-release: the one the
#      browser tests and web/build.sh use, so the build is shared);
#   4. cargo wtest: cargo test --workspace --locked without the CLI's autotune (every WGSL
#      kernel against its reference, the Trainer on the CPU backend and the GPU, the CLI
#      end to end);
#   5. web/ci-browser-test.sh: the kernels in headless Chromium's WebGPU (installs
#      chromium, chromium-driver and wasm-bindgen-cli at the Cargo.lock version).
#
# Respects CARGO_TARGET_DIR (default: $HOME/.cache/ring-wgpu/target, shared with CI).
# SKIP_BROWSER=1 leaves out step 5.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
step() { echo; echo "== [$(( $(date +%s) - start ))s] $*"; }

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/ring-wgpu/target}"
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "need root to run: $*" >&2; return 1; fi
}

apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  command -v apt-get >/dev/null || { echo "install ${missing[*]} (or your system's Vulkan driver) and rerun" >&2; return 1; }
  as_root apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
}

step "software Vulkan for the GPU tests"
if command -v dpkg-query >/dev/null; then
  apt_install mesa-vulkan-drivers libvulkan1
else
  echo "not a Debian system: make sure a Vulkan driver is installed (lavapipe works)"
fi

step "wasm32 toolchain"
if [ -f ../shared/tools/wasm-toolchain.sh ]; then
  wasm_toolchain=$(bash ../shared/tools/wasm-toolchain.sh)
else
  rustup target add wasm32-unknown-unknown >&2
  wasm_toolchain=$(rustup show active-toolchain | awk '{print $1}')
fi
echo "wasm toolchain: $wasm_toolchain"

step "build the web crate for wasm32"
cargo "+$wasm_toolchain" build --locked --profile wasm-release -p ring-wgpu-web --target wasm32-unknown-unknown

# Without the CLI's default `autotune` feature: on a software Vulkan, burn's autotune compiles
# every candidate kernel of every new shape (the CLI's tests went from 36 s to 289 s, one timed
# out); the tests check our code, the GPU check measures the autotuned build on a real GPU.
# The alias `cargo wtest` is defined in .cargo/config.toml.
step "cargo wtest (the workspace's tests)"
log=$(mktemp)
set +e
cargo wtest 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e
grep -E "^test result:" "$log" | awk '{p+=$4; f+=$6} END {print "all cargo tests: " p " passed, " f " failed"}'
rm -f "$log"
[ "$rc" -eq 0 ] || { echo "cargo test failed" >&2; exit "$rc"; }

if [ "${SKIP_BROWSER:-0}" != 1 ]; then
  step "browser: headless Chromium's WebGPU"
  bash web/ci-browser-test.sh
fi

step "all tests passed in $(( $(date +%s) - start ))s"
