#!/usr/bin/env bash
# Browser test for the web crate: runs web/tests/browser.rs (wasm-bindgen-test) in headless
# Chromium's WebGPU through chromedriver and wasm-bindgen-test-runner.
#
# Installs what it needs if missing (Debian's chromium + chromium-driver, wasm-bindgen-cli at
# the wasm-bindgen version pinned in Cargo.lock), then runs the test. Prints one summary line,
# `browser: N passed, M failed`, and exits non-zero if the test fails or cannot run.
#
# Works from a fresh clone; respects CARGO_TARGET_DIR (default: $HOME/.cache/ring-wgpu/target,
# the project's shared build cache). Tunables: WASM_BINDGEN_TEST_TIMEOUT (seconds, default 300).
set -euo pipefail

web_dir=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$web_dir")
cd "$root"

start=$(date +%s)
step() { echo "== [browser $(( $(date +%s) - start ))s] $*"; }
summary_printed=0
summary() { [ "$summary_printed" = 1 ] || { echo "browser: $1 passed, $2 failed"; summary_printed=1; }; }
fail() { echo "browser test: $*" >&2; summary 0 1; exit 1; }

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/ring-wgpu/target}"
export CARGO_TERM_COLOR=never
export PATH="$HOME/.cargo/bin:$PATH"

# --- system packages: Chromium and its WebDriver -------------------------------------------
missing=()
for pkg in chromium chromium-driver; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  step "installing ${missing[*]} (apt)"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
fi
chromedriver=$(command -v chromedriver || true)
[ -n "$chromedriver" ] || fail "chromedriver not found after installing chromium-driver"

# --- Rust toolchain with the wasm32 standard library ---------------------------------------
toolchain=""
if [ -f "$root/../shared/tools/wasm-toolchain.sh" ]; then
  toolchain=$(bash "$root/../shared/tools/wasm-toolchain.sh")
elif [ ! -d "$(rustc --print sysroot)/lib/rustlib/wasm32-unknown-unknown/lib" ]; then
  step "adding the wasm32-unknown-unknown target (rustup)"
  timeout 120 rustup target add wasm32-unknown-unknown || fail "no wasm32-unknown-unknown standard library"
fi
cargo_tc=(cargo)
[ -n "$toolchain" ] && cargo_tc=(cargo "+$toolchain")

# --- wasm-bindgen-cli at exactly the version in Cargo.lock ----------------------------------
wb_version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/"/, "", $3); print $3; exit }' Cargo.lock)
[ -n "$wb_version" ] || fail "could not read the wasm-bindgen version from Cargo.lock"
have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
if [ "$have" != "$wb_version" ] || ! command -v wasm-bindgen-test-runner >/dev/null; then
  step "installing wasm-bindgen-cli $wb_version (found: ${have:-none}; takes ~11 minutes on 2 cores)"
  # Its own temporary target dir: do not hold the project's build lock for the install.
  env -u CARGO_TARGET_DIR cargo install wasm-bindgen-cli --version "$wb_version" --force
fi

# --- the test ---------------------------------------------------------------------------------
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner
export CHROMEDRIVER="$chromedriver"
export WASM_BINDGEN_TEST_WEBDRIVER_JSON="${WASM_BINDGEN_TEST_WEBDRIVER_JSON:-$web_dir/webdriver.json}"
export WASM_BINDGEN_TEST_TIMEOUT="${WASM_BINDGEN_TEST_TIMEOUT:-300}"
# Keep the wasm-bindgen-test output free of colour codes for the CI log.
export NO_COLOR=1

step "building and running web/tests/browser.rs in headless Chromium (WebGPU)"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
"${cargo_tc[@]}" test --locked -p ring-wgpu-web --target wasm32-unknown-unknown --test browser \
  -- --nocapture 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e

# The self-test's own report (adapter, rows_matching, mask_mismatches), printed by the test.
grep -o 'RING_SELF_TEST .*' "$log" | head -n 1 | sed 's/^RING_SELF_TEST /browser self-test: /' || true
result=$(grep -E '^test result: ' "$log" | tail -n 1 || true)
passed=$(sed -nE 's/.* ([0-9]+) passed.*/\1/p' <<<"$result")
failed=$(sed -nE 's/.* ([0-9]+) failed.*/\1/p' <<<"$result")
step "done"
if [ "$rc" -ne 0 ] || [ -z "$passed" ] || [ "$passed" -eq 0 ] || [ "${failed:-1}" -ne 0 ]; then
  summary "${passed:-0}" "$(( ${failed:-0} > 0 ? ${failed:-0} : 1 ))"
  exit 1
fi
summary "$passed" "$failed"
